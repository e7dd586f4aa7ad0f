-- No two ledger entries share an idempotency key (checked from the data, not trusted to the unique constraint)
SELECT idempotency_key, count(*) AS entries, array_agg(id ORDER BY created_at) AS entry_ids
FROM ledger_entries
GROUP BY idempotency_key
HAVING count(*) > 1
