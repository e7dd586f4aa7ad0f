-- Each captured charge has exactly its three lines (buyer debit, seller credit, platform fee) summing to 0, and no other charge has lines
SELECT c.id AS payment_id, c.stage, count(l.id) AS lines,
       COALESCE(SUM(l.cents), 0)::bigint AS total_cents,
       array_agg(l.line_kind ORDER BY l.line_kind) FILTER (WHERE l.id IS NOT NULL) AS line_kinds
FROM charges c
LEFT JOIN journal_lines l ON l.charge_id = c.id
GROUP BY c.id, c.stage
HAVING (c.stage = 'CAPTURED'
        AND (count(l.id) <> 3
             OR COALESCE(SUM(l.cents), 0) <> 0
             OR count(l.id) FILTER (WHERE l.line_kind = 'BUYER_DEBIT') <> 1
             OR count(l.id) FILTER (WHERE l.line_kind = 'SELLER_CREDIT') <> 1
             OR count(l.id) FILTER (WHERE l.line_kind = 'PLATFORM_FEE_CREDIT') <> 1))
    OR (c.stage <> 'CAPTURED' AND count(l.id) > 0)
