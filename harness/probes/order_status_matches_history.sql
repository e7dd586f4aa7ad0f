-- Every order's current status is where its history ends
SELECT o.id AS order_id, o.status, last.to_status AS history_ends_at
FROM orders o
LEFT JOIN LATERAL (
    SELECT to_status FROM order_status_history h WHERE h.order_id = o.id ORDER BY h.at DESC, h.id DESC LIMIT 1
) last ON true
WHERE last.to_status IS DISTINCT FROM o.status
