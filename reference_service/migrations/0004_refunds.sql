-- Business rules of docs/business-rules.md: cancelling an order whose payment was captured refunds
-- it (lifecycle REFUNDED, three reversing ledger entries); cancelling before capture voids the
-- payment (lifecycle CANCELLED), so it can never be captured afterwards.
ALTER TABLE payments DROP CONSTRAINT payments_lifecycle_check;
ALTER TABLE payments ADD CONSTRAINT payments_lifecycle_check
    CHECK (lifecycle IN ('INITIATED', 'CAPTURED', 'REFUNDED', 'CANCELLED'));
ALTER TABLE payments ADD COLUMN refunded_at timestamptz;
-- "at most one live assignment per order" is checked under the order's row lock; this index
-- makes that look-up cheap.
CREATE INDEX idx_shipping_assignments_order_live ON shipping_assignments (order_id)
    WHERE status IN ('OPEN', 'ACCEPTED', 'PICKED_UP');
