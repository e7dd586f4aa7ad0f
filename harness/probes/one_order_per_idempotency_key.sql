-- No Idempotency-Key created more than one order for its buyer (keys are scoped per user)
SELECT buyer_id, idempotency_key, count(*) AS orders, array_agg(id ORDER BY created_at) AS order_ids
FROM orders
WHERE idempotency_key IS NOT NULL
GROUP BY buyer_id, idempotency_key
HAVING count(*) > 1
