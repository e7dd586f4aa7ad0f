-- Every order's current state is where its transition history ends
SELECT o.id AS order_id, o.state, last.to_state AS history_ends_at
FROM purchase_orders o
LEFT JOIN LATERAL (
    SELECT to_state FROM order_transitions t WHERE t.order_id = o.id ORDER BY t.at DESC, t.id DESC LIMIT 1
) last ON true
WHERE last.to_state IS DISTINCT FROM o.state
