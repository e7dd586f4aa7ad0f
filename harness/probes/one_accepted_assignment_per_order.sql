-- No order has more than one accepted shipping assignment (exactly one agent per order)
SELECT order_id, count(*) AS accepted_assignments,
       array_agg(id ORDER BY accepted_at) AS assignment_ids, array_agg(agent_id ORDER BY accepted_at) AS agent_ids
FROM shipping_assignments
WHERE accepted_at IS NOT NULL
GROUP BY order_id
HAVING count(*) > 1
