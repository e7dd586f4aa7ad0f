-- Idempotency keys are scoped per user (as Stripe scopes them per account): a second user who
-- happens to send the first user's key makes a new request, not a 409 IDEMPOTENCY_KEY_REUSED.
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys ADD PRIMARY KEY (user_id, key);
CREATE INDEX idx_idempotency_keys_key ON idempotency_keys (key);
