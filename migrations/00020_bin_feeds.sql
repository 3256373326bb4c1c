-- Full-feed peers per source and bin, so that a resumed detector's
-- collector-outage guard (detect: FeedCollapse × the median FullFeed of the
-- previous FeedWindow bins) starts from the bins before the restart instead
-- of from nothing. Written with the series, in the same transaction
-- (store.WriteBins); a rewrite of a bin range replaces the source's rows.
-- Per source, as live peers and archive peers are different sets; the
-- series tables are shared. One small row per bin and source (288 a day),
-- so the table is not partitioned.

-- +goose Up
CREATE TABLE bin_feeds (
    source    text        NOT NULL CHECK (source IN ('replay','live')),
    bin       timestamptz NOT NULL,
    full_feed integer     NOT NULL CHECK (full_feed > 0),
    PRIMARY KEY (source, bin)
);

-- +goose Down
DROP TABLE bin_feeds;
