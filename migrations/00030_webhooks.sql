-- Webhooks: subscriptions, the delivery queue and the attempt log.
--
-- The outbox (event_notices, 00001) is fanned out by the webhook dispatcher
-- into webhook_deliveries: one row per (subscription, event, notice type),
-- carrying the event as rendered at fan-out time so that every retry sends
-- the same event under the same delivery_id. Workers claim due rows with
-- SELECT ... FOR UPDATE SKIP LOCKED and hold them by a lease (locked_until):
-- a dispatcher killed mid-delivery leaves a lease that simply runs out.

-- +goose Up
CREATE TABLE webhooks (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url            text NOT NULL,
    host           text NOT NULL,                   -- URL host[:port], the unit of the per-endpoint limit
    secret         text NOT NULL,
    countries      text[] NOT NULL DEFAULT '{}',     -- empty lists match everything
    asns           bigint[] NOT NULL DEFAULT '{}',
    scopes         text[] NOT NULL DEFAULT '{}',
    access         text[] NOT NULL DEFAULT '{}',
    min_drop_ratio double precision NOT NULL DEFAULT 0,
    format         text NOT NULL DEFAULT 'json' CHECK (format IN ('json','slack')),
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhook_deliveries (
    seq              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- keyset order of the delivery log
    delivery_id      uuid NOT NULL UNIQUE,
    webhook_id       bigint NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id         bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    type             text NOT NULL CHECK (type IN ('event.started','event.ended')),
    event_json       json NOT NULL,                  -- wire.Event at fan-out time, kept verbatim
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','delivered','failed')),
    attempts         integer NOT NULL DEFAULT 0,
    last_status_code integer NOT NULL DEFAULT 0,
    last_error       text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,           -- give up (status failed) after this
    next_attempt_at  timestamptz NOT NULL,
    locked_until     timestamptz,                    -- lease of the worker sending it
    delivered_at     timestamptz,
    UNIQUE (webhook_id, event_id, type)
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_log_idx ON webhook_deliveries (webhook_id, seq DESC);

CREATE TABLE webhook_attempts (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_seq bigint NOT NULL REFERENCES webhook_deliveries (seq) ON DELETE CASCADE,
    attempted_at timestamptz NOT NULL,
    status_code  integer NOT NULL DEFAULT 0,          -- 0: no HTTP response
    error        text NOT NULL DEFAULT '',
    duration_ms  double precision NOT NULL
);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_seq, id);

-- Wake the dispatcher as soon as an outbox row commits (LISTEN bgpwatch_notices).
-- +goose StatementBegin
CREATE FUNCTION bgpwatch_notify_notices() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('bgpwatch_notices', '');
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER event_notices_notify AFTER INSERT ON event_notices
    FOR EACH STATEMENT EXECUTE FUNCTION bgpwatch_notify_notices();

-- +goose Down
DROP TRIGGER event_notices_notify ON event_notices;
DROP FUNCTION bgpwatch_notify_notices();
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
