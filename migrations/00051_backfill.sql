-- Backfill runs and their windows (bgpwatch backfill / worker). The jobs
-- themselves are River's (river_job, created by River's own migrator,
-- rivermigrate); these tables say which windows of a run have their bins
-- stored, so that the worker storing the last one runs detection over the
-- run's range. Small tables: under Citus, reference tables.

-- +goose Up
CREATE TABLE backfill_runs (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    from_time   timestamptz NOT NULL,
    to_time     timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    detected_at timestamptz,                 -- detection over the whole range done
    CHECK (to_time > from_time)
);

CREATE TABLE backfill_windows (
    run_id       bigint      NOT NULL REFERENCES backfill_runs (id) ON DELETE CASCADE,
    window_start timestamptz NOT NULL,
    window_end   timestamptz NOT NULL,
    started_at   timestamptz,                -- first attempt began
    done_at      timestamptz,                -- bins stored
    PRIMARY KEY (run_id, window_start)
);

-- +goose Down
DROP TABLE backfill_windows;
DROP TABLE backfill_runs;
