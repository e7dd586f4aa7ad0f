-- Each captured payment has exactly its three entries (buyer debit, seller credit, platform fee) summing to 0, a refunded one those three and their three reversals, and no other payment has entries
SELECT p.id AS payment_id, p.lifecycle, count(e.id) AS entries,
       COALESCE(SUM(e.amount_cents), 0)::bigint AS total_cents,
       array_agg(e.entry_type ORDER BY e.entry_type) FILTER (WHERE e.id IS NOT NULL) AS entry_types
FROM payments p
LEFT JOIN ledger_entries e ON e.payment_id = p.id
GROUP BY p.id, p.lifecycle
HAVING (p.lifecycle IN ('CAPTURED', 'REFUNDED')
        AND (count(e.id) <> CASE p.lifecycle WHEN 'CAPTURED' THEN 3 ELSE 6 END
             OR COALESCE(SUM(e.amount_cents), 0) <> 0
             OR count(e.id) FILTER (WHERE e.entry_type = 'BUYER_DEBIT') <> 1
             OR count(e.id) FILTER (WHERE e.entry_type = 'SELLER_CREDIT') <> 1
             OR count(e.id) FILTER (WHERE e.entry_type = 'PLATFORM_FEE_CREDIT') <> 1))
    OR (p.lifecycle NOT IN ('CAPTURED', 'REFUNDED') AND count(e.id) > 0)
