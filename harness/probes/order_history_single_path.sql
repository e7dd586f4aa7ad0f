-- Every order's history is a single path: never two transitions out of the same status
SELECT order_id, from_status, count(*) AS transitions, array_agg(to_status ORDER BY at) AS to_statuses
FROM order_status_history
GROUP BY order_id, from_status
HAVING count(*) > 1
