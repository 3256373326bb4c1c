-- Network metadata from public sources (APNIC, PeeringDB, CAIDA, the
-- curated mobile operators table) with the source and date of every field.
--
-- asns gains, for its access type, the source and date it rests on
-- ('user' for the asn-info CSV, which overrides everything), the source of
-- its name, and APNIC's users estimate. meta_datasets and asn_meta keep the
-- rows of each imported dataset, so that a dataset that fails or looks
-- truncated leaves its previous rows in place while the others refresh.

-- +goose Up
ALTER TABLE asns
    ADD COLUMN access_source text NOT NULL DEFAULT ''
        CHECK (access_source IN ('', 'user', 'curated', 'peeringdb', 'caida', 'name')),
    ADD COLUMN access_date   date,
    ADD COLUMN name_source   text NOT NULL DEFAULT '',   -- '' or 'registry': delegations/asnames/CSV; else a dataset
    ADD COLUMN users         bigint CHECK (users >= 0),
    ADD COLUMN users_share   double precision CHECK (users_share >= 0 AND users_share <= 1),
    ADD COLUMN users_country text,
    ADD COLUMN users_source  text,
    ADD COLUMN users_date    date;
UPDATE asns SET access_source = 'user' WHERE access <> 'unknown';

CREATE TABLE meta_datasets (
    name        text PRIMARY KEY,
    rows        integer NOT NULL,
    data_date   date,
    origin      text NOT NULL DEFAULT '',
    imported_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE asn_meta (
    dataset     text NOT NULL REFERENCES meta_datasets (name) ON DELETE CASCADE,
    asn         bigint NOT NULL,
    country     text NOT NULL DEFAULT '',
    name        text NOT NULL DEFAULT '',
    kind        text NOT NULL DEFAULT '',
    users       bigint,
    users_share double precision,
    updated     date,
    PRIMARY KEY (dataset, asn, country)
);

-- Whether the resolved columns of asns may be stale: set when a registry
-- upsert changed names or countries; curated is the version of the curated
-- operators table they were resolved with. A recompute with nothing new
-- (every replay) is skipped when neither changed.
CREATE TABLE meta_state (
    id      boolean PRIMARY KEY DEFAULT true CHECK (id),
    curated text NOT NULL DEFAULT '',
    dirty   boolean NOT NULL DEFAULT true
);
INSERT INTO meta_state DEFAULT VALUES;

-- +goose Down
DROP TABLE meta_state;
DROP TABLE asn_meta;
DROP TABLE meta_datasets;
ALTER TABLE asns
    DROP COLUMN access_source, DROP COLUMN access_date, DROP COLUMN name_source,
    DROP COLUMN users, DROP COLUMN users_share, DROP COLUMN users_country,
    DROP COLUMN users_source, DROP COLUMN users_date;
