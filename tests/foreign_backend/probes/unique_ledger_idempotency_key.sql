-- No two journal lines share a dedupe key (checked from the data, not trusted to the unique constraint)
SELECT dedupe_key, count(*) AS lines, array_agg(id ORDER BY created_at) AS line_ids
FROM journal_lines
GROUP BY dedupe_key
HAVING count(*) > 1
