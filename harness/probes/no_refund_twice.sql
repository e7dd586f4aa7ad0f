-- No payment was refunded twice, or refunded more than it captured (seed 003: zero double refunds)
-- metrics: ledger_violations
SELECT payment_id,
       count(*) FILTER (WHERE entry_type = 'BUYER_REFUND_CREDIT') AS buyer_refunds,
       COALESCE(SUM(amount_cents) FILTER (WHERE entry_type = 'BUYER_REFUND_CREDIT'), 0)::bigint
           AS refunded_cents,
       COALESCE(-SUM(amount_cents) FILTER (WHERE entry_type = 'BUYER_DEBIT'), 0)::bigint AS captured_cents
FROM ledger_entries
WHERE payment_id IS NOT NULL
GROUP BY payment_id
HAVING count(*) FILTER (WHERE entry_type = 'BUYER_REFUND_CREDIT') > 1
    OR COALESCE(SUM(amount_cents) FILTER (WHERE entry_type = 'BUYER_REFUND_CREDIT'), 0)
       > COALESCE(-SUM(amount_cents) FILTER (WHERE entry_type = 'BUYER_DEBIT'), 0)
