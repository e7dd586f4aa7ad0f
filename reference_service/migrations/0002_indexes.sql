-- Every index seeds 000 ("Index Audit", "New Indexes for Sprint 8") and 001 ("Indexes Created")
-- name, on our column names (`amount` is `amount_cents` here). Where the two seeds disagree on
-- columns, 001 (what was applied) wins: idx_shipping_assignments_agent_status is
-- (agent_id, status, created_at). Webhook indexes are skipped: no webhook tables (see 0001).

-- Orders
CREATE INDEX idx_orders_buyer_id ON orders (buyer_id);
CREATE INDEX idx_orders_status ON orders (status);
CREATE INDEX idx_orders_created_at ON orders (created_at);

-- Payments
CREATE INDEX idx_payments_order_id ON payments (order_id);
CREATE INDEX idx_payments_lifecycle ON payments (lifecycle);
CREATE INDEX idx_payments_payment_method ON payments (payment_method);

-- Ledger entries
CREATE INDEX idx_ledger_entries_wallet_id ON ledger_entries (wallet_id);
CREATE INDEX idx_ledger_entries_payment_id ON ledger_entries (payment_id);
CREATE INDEX idx_ledger_entries_idempotency_key ON ledger_entries (idempotency_key);
CREATE INDEX idx_ledger_entries_wallet_amount ON ledger_entries (wallet_id, amount_cents);
CREATE INDEX idx_ledger_entries_created ON ledger_entries (created_at DESC);

-- Shipping assignments
CREATE INDEX idx_shipping_assignments_order_id ON shipping_assignments (order_id);
CREATE INDEX idx_shipping_assignments_agent_id ON shipping_assignments (agent_id);
CREATE INDEX idx_shipping_assignments_status ON shipping_assignments (status);
CREATE INDEX idx_shipping_assignments_agent_status ON shipping_assignments (agent_id, status, created_at);
CREATE INDEX idx_shipping_assignments_delivered_sla
    ON shipping_assignments (status, delivered_at, estimated_delivery_time)
    WHERE status = 'DELIVERED';

-- Delivery agents
CREATE INDEX idx_delivery_agents_user_id ON delivery_agents (user_id);
CREATE INDEX idx_delivery_agents_status ON delivery_agents (status);
CREATE INDEX idx_delivery_agents_is_available ON delivery_agents (is_available);
CREATE INDEX idx_delivery_agents_zip_codes ON delivery_agents USING GIN (service_zip_codes);

-- Our own: history and events are read per order / per assignment by the API and the probes.
CREATE INDEX idx_order_status_history_order ON order_status_history (order_id, at);
CREATE INDEX idx_shipping_assignment_events_assignment ON shipping_assignment_events (assignment_id);
CREATE INDEX idx_orders_idempotency_key ON orders (idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX idx_idempotency_keys_expires_at ON idempotency_keys (expires_at);
