-- No Idempotency-Key created more than one order (keys are per buyer)
SELECT buyer_id, request_key, count(*) AS orders, array_agg(id ORDER BY created_at) AS order_ids
FROM purchase_orders
WHERE request_key IS NOT NULL
GROUP BY buyer_id, request_key
HAVING count(*) > 1
