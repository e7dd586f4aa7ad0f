-- The sum of all journal lines is 0 (every capture and every top-up is balanced)
SELECT COALESCE(SUM(cents), 0)::bigint AS total_cents, count(*) AS lines
FROM journal_lines
HAVING COALESCE(SUM(cents), 0) <> 0
