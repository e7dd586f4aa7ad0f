-- Tables of the reference service (API.md "Tables the invariant checks read").
-- Webhook tables (webhook_subscriptions, webhook_deliveries) are deliberately absent: the reference
-- service has no webhooks in scope (docs/contracts.md), so seed 000's webhook indexes are skipped too.

CREATE TABLE users (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email         text NOT NULL UNIQUE,
    password_hash text NOT NULL,
    role          text NOT NULL CHECK (role IN ('BUYER', 'SELLER', 'AGENT', 'ADMIN')),
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- USER wallets belong to a user; one PLATFORM wallet collects fees; one EXTERNAL wallet is the
-- other side of every top-up, so the sum of all ledger entries is always 0.
CREATE TABLE wallets (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_id   uuid REFERENCES users (id),
    kind       text NOT NULL DEFAULT 'USER' CHECK (kind IN ('USER', 'PLATFORM', 'EXTERNAL')),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX uq_wallets_owner ON wallets (owner_id) WHERE owner_id IS NOT NULL;
CREATE UNIQUE INDEX uq_wallets_system_kind ON wallets (kind) WHERE kind <> 'USER';

CREATE TABLE orders (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    buyer_id        uuid NOT NULL REFERENCES users (id),
    seller_id       uuid NOT NULL REFERENCES users (id),
    status          text NOT NULL DEFAULT 'PENDING'
                    CHECK (status IN ('PENDING', 'CONFIRMED', 'SHIPPING', 'DELIVERED', 'CANCELLED')),
    total_cents     bigint NOT NULL CHECK (total_cents >= 0),
    shipping_zip    text NOT NULL,
    items           jsonb NOT NULL,
    -- The Idempotency-Key the order was created with; NOT unique on purpose, so a probe can see
    -- duplicates when the idempotency safeguard is off.
    idempotency_key text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE order_status_history (
    id          bigserial PRIMARY KEY,
    order_id    uuid NOT NULL REFERENCES orders (id),
    from_status text,
    to_status   text NOT NULL,
    at          timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE payments (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    order_id       uuid NOT NULL REFERENCES orders (id),
    payment_method text NOT NULL DEFAULT 'WALLET',
    lifecycle      text NOT NULL DEFAULT 'INITIATED' CHECK (lifecycle IN ('INITIATED', 'CAPTURED')),
    amount_cents   bigint NOT NULL CHECK (amount_cents >= 0),
    created_at     timestamptz NOT NULL DEFAULT now(),
    captured_at    timestamptz,
    CONSTRAINT uq_payments_order UNIQUE (order_id)
);

CREATE TABLE ledger_entries (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    wallet_id       uuid NOT NULL REFERENCES wallets (id),
    payment_id      uuid REFERENCES payments (id),
    amount_cents    bigint NOT NULL,
    entry_type      text NOT NULL,
    idempotency_key text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ledger_entries_idempotency_key_key UNIQUE (idempotency_key)
);

CREATE TABLE delivery_agents (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id           uuid NOT NULL UNIQUE REFERENCES users (id),
    status            text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'INACTIVE')),
    is_available      boolean NOT NULL DEFAULT true,
    service_zip_codes text[] NOT NULL DEFAULT '{}',
    created_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE shipping_assignments (
    id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    order_id                uuid NOT NULL REFERENCES orders (id),
    agent_id                uuid REFERENCES delivery_agents (id),
    status                  text NOT NULL DEFAULT 'OPEN'
                            CHECK (status IN ('OPEN', 'ACCEPTED', 'PICKED_UP', 'DELIVERED', 'CANCELLED')),
    candidate_agent_ids     uuid[],
    estimated_delivery_time timestamptz,
    created_at              timestamptz NOT NULL DEFAULT now(),
    accepted_at             timestamptz,
    picked_up_at            timestamptz,
    delivered_at            timestamptz
);

-- Append-only log of successful accepts, written in the accept's own transaction. The assignment
-- row keeps only the last writer; this table keeps every one, so a probe can see an assignment
-- accepted by two agents when the lock safeguard is off.
CREATE TABLE shipping_assignment_events (
    id            bigserial PRIMARY KEY,
    assignment_id uuid NOT NULL REFERENCES shipping_assignments (id),
    agent_id      uuid NOT NULL REFERENCES delivery_agents (id),
    event         text NOT NULL,
    at            timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE idempotency_keys (
    key             text PRIMARY KEY,
    user_id         uuid NOT NULL,
    method          text NOT NULL,
    path            text NOT NULL,
    fingerprint     text NOT NULL,
    status          text NOT NULL CHECK (status IN ('IN_PROGRESS', 'COMPLETED')),
    response_status integer,
    response_body   jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL DEFAULT now() + interval '24 hours'
);
