package openbmp

import (
	"context"
	"time"

	"github.com/bgpwatch/bgpwatch"
)

// Pipeline is live ingest's processing chain (*ingest.Pipeline): it takes
// observations, closes and writes bins as its clock advances, and writes
// what is pending when it closes.
type Pipeline interface {
	Observe(ctx context.Context, o *bgpwatch.Observation) error
	Advance(ctx context.Context, t time.Time) error
	Close(ctx context.Context) error
}

// Wrap returns p with the bookkeeping that lets the consumer commit a
// record only once what it carried is stored. The observations the
// consumer sent reach p in the order it sent them (one channel, one
// sender), so counting those p took says which were applied; an
// observation is stored once a successful Advance has written the bin it
// fell into (step wide, by the observation's time; the bin still open
// when the pipeline closes is not written, so its records are read
// again after a restart). Then the records whose observations are all stored are
// committed: after a restart the consumer resumes at the first record not
// stored, so nothing is lost and nothing counted twice.
func (c *Consumer) Wrap(p Pipeline, step time.Duration) Pipeline {
	return &tracked{Pipeline: p, c: c, step: step}
}

type tracked struct {
	Pipeline
	c       *Consumer
	step    time.Duration
	applied int64 // consumer observations passed to Observe
	// marks are (bin start, applied before the first observation in
	// that bin), for bins not yet known written, in time order.
	marks   []mark
	lastBin time.Time
}

type mark struct {
	bin     time.Time
	applied int64
}

func (t *tracked) Observe(ctx context.Context, o *bgpwatch.Observation) error {
	err := t.Pipeline.Observe(ctx, o)
	if !t.c.owns(o.Peer.Collector) {
		return err
	}
	if b := o.Time.Truncate(t.step); b.After(t.lastBin) {
		t.marks = append(t.marks, mark{b, t.applied})
		t.lastBin = b
	}
	t.applied++
	return err
}

func (t *tracked) Advance(ctx context.Context, now time.Time) error {
	if err := t.Pipeline.Advance(ctx, now); err != nil {
		return err
	}
	// Bins before now's bin are written: what was applied before the
	// first observation of a bin at or after it is stored.
	open := now.Truncate(t.step)
	stored := t.applied
	i := 0
	for i < len(t.marks) && t.marks[i].bin.Before(open) {
		i++
	}
	if i < len(t.marks) {
		stored = t.marks[i].applied
	}
	t.marks = append(t.marks[:0], t.marks[i:]...)
	t.c.Stored(stored)
	return nil
}

func (t *tracked) Close(ctx context.Context) error {
	err := t.Pipeline.Close(ctx)
	t.c.Close(ctx) // commits what the last Advance stored
	return err
}
