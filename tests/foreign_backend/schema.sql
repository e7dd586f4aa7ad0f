-- The foreign backend's own schema: none of the reference service's table names.
-- Applied on every start and by the seeder; every statement is idempotent.

CREATE TABLE IF NOT EXISTS members (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email       text NOT NULL UNIQUE,
    pass_hash   text NOT NULL,
    role        text NOT NULL CHECK (role IN ('BUYER', 'SELLER', 'AGENT', 'ADMIN')),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS access_tokens (
    token_hash  text PRIMARY KEY,
    member_id   uuid NOT NULL REFERENCES members(id),
    expires_at  timestamptz NOT NULL
);

-- kind MEMBER: a buyer's or seller's purse; PLATFORM: the fee purse; EXTERNAL: where top-ups come from.
CREATE TABLE IF NOT EXISTS purses (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    member_id   uuid UNIQUE REFERENCES members(id),
    kind        text NOT NULL DEFAULT 'MEMBER' CHECK (kind IN ('MEMBER', 'PLATFORM', 'EXTERNAL')),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS purses_one_system_purse ON purses (kind) WHERE kind <> 'MEMBER';

CREATE TABLE IF NOT EXISTS purchase_orders (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    buyer_id     uuid NOT NULL REFERENCES members(id),
    seller_id    uuid NOT NULL REFERENCES members(id),
    state        text NOT NULL DEFAULT 'PENDING',
    total_cents  bigint NOT NULL CHECK (total_cents >= 0),
    ship_zip     text NOT NULL,
    items        jsonb NOT NULL,
    request_key  text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS order_transitions (
    id          bigserial PRIMARY KEY,
    order_id    uuid NOT NULL REFERENCES purchase_orders(id),
    from_state  text,
    to_state    text NOT NULL,
    at          timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS order_transitions_by_order ON order_transitions (order_id, id);

CREATE TABLE IF NOT EXISTS charges (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    order_id     uuid NOT NULL UNIQUE REFERENCES purchase_orders(id),
    cents        bigint NOT NULL CHECK (cents >= 0),
    stage        text NOT NULL DEFAULT 'INITIATED' CHECK (stage IN ('INITIATED', 'CAPTURED')),
    method       text NOT NULL DEFAULT 'WALLET',
    created_at   timestamptz NOT NULL DEFAULT now(),
    captured_at  timestamptz
);

-- The ledger: a purse's balance is the sum of its lines; every write is a balanced set.
CREATE TABLE IF NOT EXISTS journal_lines (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    purse_id    uuid NOT NULL REFERENCES purses(id),
    charge_id   uuid REFERENCES charges(id),
    cents       bigint NOT NULL,
    line_kind   text NOT NULL,
    dedupe_key  text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS journal_lines_by_purse ON journal_lines (purse_id);
CREATE INDEX IF NOT EXISTS journal_lines_by_charge ON journal_lines (charge_id);

CREATE TABLE IF NOT EXISTS couriers (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    member_id   uuid NOT NULL UNIQUE REFERENCES members(id),
    zips        text[] NOT NULL DEFAULT '{}',
    active      boolean NOT NULL DEFAULT true
);

CREATE TABLE IF NOT EXISTS courier_jobs (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    order_id      uuid NOT NULL REFERENCES purchase_orders(id),
    courier_id    uuid REFERENCES couriers(id),
    state         text NOT NULL DEFAULT 'OPEN',
    candidates    uuid[],
    due_at        timestamptz NOT NULL DEFAULT now() + interval '48 hours',
    created_at    timestamptz NOT NULL DEFAULT now(),
    accepted_at   timestamptz,
    picked_up_at  timestamptz,
    delivered_at  timestamptz
);
CREATE INDEX IF NOT EXISTS courier_jobs_open ON courier_jobs (created_at) WHERE state = 'OPEN';
CREATE INDEX IF NOT EXISTS courier_jobs_by_courier ON courier_jobs (courier_id, state);
CREATE INDEX IF NOT EXISTS courier_jobs_by_order ON courier_jobs (order_id);

-- Every acceptance is appended here, so a probe can see two acceptances of one job.
CREATE TABLE IF NOT EXISTS courier_job_events (
    id          bigserial PRIMARY KEY,
    job_id      uuid NOT NULL REFERENCES courier_jobs(id),
    courier_id  uuid NOT NULL REFERENCES couriers(id),
    event       text NOT NULL,
    at          timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Idempotency-Key records, per member, kept 24 h; IN_PROGRESS until the work's transaction commits.
CREATE TABLE IF NOT EXISTS request_keys (
    member_id        uuid NOT NULL REFERENCES members(id),
    key              text NOT NULL,
    fingerprint      text NOT NULL,
    state            text NOT NULL DEFAULT 'IN_PROGRESS' CHECK (state IN ('IN_PROGRESS', 'COMPLETED')),
    response_status  int,
    response_body    jsonb,
    claimed_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL DEFAULT now() + interval '24 hours',
    PRIMARY KEY (member_id, key)
);
