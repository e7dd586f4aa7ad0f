-- No shipping assignment was accepted more than once (by two agents, or twice), per the acceptance log
SELECT assignment_id, count(*) AS accepts, count(DISTINCT agent_id) AS agents,
       array_agg(agent_id ORDER BY at) AS agent_ids
FROM shipping_assignment_events
WHERE event = 'ACCEPTED'
GROUP BY assignment_id
HAVING count(*) > 1
