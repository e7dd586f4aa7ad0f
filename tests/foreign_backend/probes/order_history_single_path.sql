-- Every order's history is a single path: never two transitions out of the same state
SELECT order_id, from_state, count(*) AS transitions, array_agg(to_state ORDER BY at) AS to_states
FROM order_transitions
GROUP BY order_id, from_state
HAVING count(*) > 1
