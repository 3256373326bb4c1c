-- Core schema: networks, visibility series, events and the webhook outbox.

-- +goose Up
CREATE TABLE asns (
    asn        bigint PRIMARY KEY CHECK (asn >= 0 AND asn <= 4294967295),
    name       text NOT NULL DEFAULT '',
    country    text NOT NULL DEFAULT '',          -- ISO 3166-1 alpha-2 from RIR delegations, '' unknown
    access     text NOT NULL DEFAULT 'unknown'
               CHECK (access IN ('fixed','mobile','mixed','hosting','transit','unknown')),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX asns_country_idx ON asns (country);

-- Visibility series. Both tables are range-partitioned by month on bin so
-- that old history is dropped partition by partition; ensure_series_partitions
-- creates the partitions a write needs.
--
-- country_series: one row per country per 5-minute bin.
-- asn_series: change points. A row is written for an ASN at a bin when its
-- counts differ from the previous bin, and for every ASN with non-zero counts
-- at 00:00 UTC of each day (a key frame), so that the value at any time t is
-- the latest row at or before t and never further back than t's day start.
CREATE TABLE country_series (
    country             text        NOT NULL,
    bin                 timestamptz NOT NULL,
    visible_prefixes    integer     NOT NULL,
    visible_slash24     integer     NOT NULL,
    visible_v6_prefixes integer     NOT NULL,
    asns                integer     NOT NULL DEFAULT 0,  -- ASNs with any visible prefix
    PRIMARY KEY (country, bin)
) PARTITION BY RANGE (bin);

CREATE TABLE asn_series (
    asn                 bigint      NOT NULL,
    bin                 timestamptz NOT NULL,
    visible_prefixes    integer     NOT NULL,
    visible_slash24     integer     NOT NULL,
    visible_v6_prefixes integer     NOT NULL,
    PRIMARY KEY (asn, bin)
) PARTITION BY RANGE (bin);

-- +goose StatementBegin
CREATE FUNCTION ensure_series_partitions(lo timestamptz, hi timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    m timestamptz := date_trunc('month', lo AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    nxt timestamptz;
    t text;
BEGIN
    WHILE m <= hi LOOP
        nxt := ((m AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC';
        FOREACH t IN ARRAY ARRAY['country_series', 'asn_series'] LOOP
            EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                           t || '_' || to_char(m AT TIME ZONE 'UTC', 'YYYYMM'), t, m, nxt);
        END LOOP;
        m := nxt;
    END LOOP;
END $$;
-- +goose StatementEnd

-- Events: natural key (scope, country, asn, started_at) keeps replays idempotent.
CREATE TABLE events (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    scope              text NOT NULL CHECK (scope IN ('country','asn')),
    country            text NOT NULL DEFAULT '',
    asn                bigint NOT NULL DEFAULT 0,          -- 0 for country scope
    access             text NOT NULL DEFAULT 'unknown'
                       CHECK (access IN ('fixed','mobile','mixed','unknown')),
    started_at         timestamptz NOT NULL,
    ended_at           timestamptz,                        -- NULL while ongoing
    baseline_slash24   integer NOT NULL,
    min_slash24        integer NOT NULL,
    drop_ratio         double precision NOT NULL,
    alert_area         double precision NOT NULL DEFAULT 0,
    withdrawn_prefixes integer NOT NULL DEFAULT 0,
    source             text NOT NULL DEFAULT 'replay' CHECK (source IN ('replay','live')),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (scope, country, asn, started_at)
);
CREATE INDEX events_started_idx ON events (started_at DESC, id DESC);
CREATE INDEX events_country_idx ON events (country, started_at DESC);
CREATE INDEX events_asn_idx ON events (asn, started_at DESC) WHERE asn <> 0;

-- The networks behind an event (one row for an ASN event, many for a country).
CREATE TABLE event_asns (
    event_id         bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    asn              bigint NOT NULL,
    baseline_slash24 integer NOT NULL,
    min_slash24      integer NOT NULL,
    PRIMARY KEY (event_id, asn)
);

-- Evidence: prefixes that went invisible during the event.
CREATE TABLE event_prefixes (
    event_id     bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    prefix       cidr NOT NULL,
    origin_asn   bigint NOT NULL,
    withdrawn_at timestamptz NOT NULL,
    PRIMARY KEY (event_id, prefix)
);

-- Outbox: written in the same transaction as the event change it announces
-- (only when notification is on). The webhook dispatcher fans each notice out
-- to the matching subscriptions. UNIQUE keeps replays from notifying twice.
CREATE TABLE event_notices (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id      bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    type          text NOT NULL CHECK (type IN ('event.started','event.ended')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    fanned_out_at timestamptz,
    UNIQUE (event_id, type)
);
CREATE INDEX event_notices_pending_idx ON event_notices (id) WHERE fanned_out_at IS NULL;

-- +goose Down
DROP TABLE event_notices;
DROP TABLE event_prefixes;
DROP TABLE event_asns;
DROP TABLE events;
DROP FUNCTION ensure_series_partitions(timestamptz, timestamptz);
DROP TABLE asn_series;
DROP TABLE country_series;
DROP TABLE asns;
