-- The sum of all ledger entries is 0 (every capture and every top-up is balanced)
SELECT COALESCE(SUM(amount_cents), 0)::bigint AS total_cents, count(*) AS entries
FROM ledger_entries
HAVING COALESCE(SUM(amount_cents), 0) <> 0
