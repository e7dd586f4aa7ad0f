-- No member or platform purse (anything but the EXTERNAL funding purse) has a balance below 0
SELECT p.id AS wallet_id, p.member_id, p.kind, SUM(l.cents)::bigint AS balance_cents
FROM purses p
JOIN journal_lines l ON l.purse_id = p.id
WHERE p.kind <> 'EXTERNAL'
GROUP BY p.id, p.member_id, p.kind
HAVING SUM(l.cents) < 0
