-- The settings that produced each event: the visibility and detection keys
-- (as the configuration file names them) and the bin step, kept once per
-- distinct set under its hash (config.Fingerprint); events point at it.
-- A small table that only grows when the settings change: under Citus it
-- is a reference table, so the events' foreign key needs no cross-shard
-- check.

-- +goose Up
CREATE TABLE detection_settings (
    hash       text PRIMARY KEY,
    settings   jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE events ADD COLUMN settings_hash text REFERENCES detection_settings (hash);

-- +goose Down
ALTER TABLE events DROP COLUMN settings_hash;
DROP TABLE detection_settings;
