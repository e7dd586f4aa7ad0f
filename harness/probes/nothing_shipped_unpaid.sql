-- No order is shipping or delivered without a captured payment
SELECT o.id AS order_id, o.status, p.id AS payment_id, p.lifecycle
FROM orders o
LEFT JOIN payments p ON p.order_id = o.id
WHERE o.status IN ('SHIPPING', 'DELIVERED')
  AND (p.id IS NULL OR p.lifecycle <> 'CAPTURED')
