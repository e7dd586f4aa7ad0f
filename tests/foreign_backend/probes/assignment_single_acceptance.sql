-- No courier job was accepted more than once (by two agents, or twice), per the job event log
SELECT job_id AS assignment_id, count(*) AS accepts, count(DISTINCT courier_id) AS agents,
       array_agg(courier_id ORDER BY at) AS agent_ids
FROM courier_job_events
WHERE event = 'ACCEPTED'
GROUP BY job_id
HAVING count(*) > 1
