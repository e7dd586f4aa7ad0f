-- A cancelled order's payment nets to zero for every wallet it touched: a capture of a cancelled order was refunded (seed 003: compensation on cancellation)
-- metrics: ledger_violations
SELECT o.id AS order_id, p.id AS payment_id, p.lifecycle, e.wallet_id,
       SUM(e.amount_cents)::bigint AS net_cents
FROM orders o
JOIN payments p ON p.order_id = o.id
JOIN ledger_entries e ON e.payment_id = p.id
WHERE o.status = 'CANCELLED'
GROUP BY o.id, p.id, p.lifecycle, e.wallet_id
HAVING SUM(e.amount_cents) <> 0
