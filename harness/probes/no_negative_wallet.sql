-- No user or platform wallet (anything but the EXTERNAL funding wallet) has a balance below 0
SELECT w.id AS wallet_id, w.owner_id, w.kind, SUM(e.amount_cents)::bigint AS balance_cents
FROM wallets w
JOIN ledger_entries e ON e.wallet_id = w.id
WHERE w.kind <> 'EXTERNAL'
GROUP BY w.id, w.owner_id, w.kind
HAVING SUM(e.amount_cents) < 0
