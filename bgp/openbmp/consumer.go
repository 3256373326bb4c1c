package openbmp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/bgp/bmp"
)

// Config configures a Consumer.
type Config struct {
	Brokers []string
	// Topics are consumed, or every topic matching TopicRegex when set
	// (e.g. RouteViews' `^routeviews\..*\.bmp_raw$`).
	Topics     []string
	TopicRegex string
	// Group is the consumer group: offsets are committed there.
	Group string
	// FromStart makes a group without committed offsets start at the
	// oldest retained record instead of the newest.
	FromStart bool
	TLS       *tls.Config    // nil: plaintext
	SASL      sasl.Mechanism // nil: none
	// RIBs are the table kinds that count; 0 means bmp.DefaultRIBs.
	RIBs bmp.RIBSet
	// MaxSkew: a router's timestamp further than this from the time the
	// collector stamped on the record is replaced by the collector's; 0
	// means bmp.DefaultMaxSkew, < 0 keeps router times.
	MaxSkew time.Duration
	Logger  *slog.Logger     // nil: discard
	Now     func() time.Time // nil: time.Now
	// Opts are added to the Kafka client's options (tests).
	Opts []kgo.Opt
}

// routerKey identifies a router across collectors.
type routerKey struct {
	collector, router [16]byte
	ip                string
}

type router struct {
	dec   *bmp.Decoder
	entry *bmp.RouterEntry
	// newest is the latest collector time of the router's records applied;
	// ended the time of the Termination applied last (zero once a newer
	// Initiation is): records of a router spread over several topics or
	// partitions are read in no order across them.
	newest, ended time.Time
	warned        bool // a late record was logged
}

// pending is a consumed record whose offset is not committed yet: it is
// committed once the first seq observations the consumer sent are stored.
type pending struct {
	topic     string
	partition int32
	offset    int64 // the record's offset + 1: where a restart resumes
	epoch     int32
	seq       int64
}

// Consumer reads OpenBMP raw records from Kafka and sends their
// observations to live ingest. A malformed record is skipped (logged once
// with router, topic, partition, offset and reason); it does not stop the
// router's stream.
type Consumer struct {
	cfg Config
	log *slog.Logger
	cl  *kgo.Client

	routers bmp.RouterSet
	byKey   map[routerKey]*router // consumer goroutine only

	mu       sync.Mutex
	pend     []pending
	sent     int64    // observations sent to out
	stored   int64    // observations known stored
	names    sync.Map // vantage point collectors this consumer produced (string → struct{})
	records  int64
	skipped  int64
	bad      int64
	late     int64
	lastRec  time.Time
	commitMu sync.Mutex
	sig      chan struct{} // Stored → committer
}

// New connects a consumer (the brokers are contacted lazily).
func New(cfg Config) (*Consumer, error) {
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("openbmp: no brokers")
	}
	if len(cfg.Topics) == 0 && cfg.TopicRegex == "" {
		return nil, errors.New("openbmp: no topics and no topic regex")
	}
	if cfg.Group == "" {
		return nil, errors.New("openbmp: a consumer group is required (offsets are committed there)")
	}
	if cfg.RIBs == 0 {
		cfg.RIBs = bmp.DefaultRIBs
	}
	if cfg.MaxSkew == 0 {
		cfg.MaxSkew = bmp.DefaultMaxSkew
	}
	cfg.MaxSkew = max(cfg.MaxSkew, 0)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ConsumerGroup(cfg.Group),
		kgo.DisableAutoCommit(),
		kgo.FetchMaxBytes(64 << 20),
		kgo.ClientID("bgpwatch"),
	}
	if cfg.TopicRegex != "" {
		if _, err := regexp.Compile(cfg.TopicRegex); err != nil {
			return nil, fmt.Errorf("openbmp: topic regex: %w", err)
		}
		opts = append(opts, kgo.ConsumeRegex(), kgo.ConsumeTopics(cfg.TopicRegex))
	} else {
		opts = append(opts, kgo.ConsumeTopics(cfg.Topics...))
	}
	if cfg.FromStart {
		opts = append(opts, kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	} else {
		opts = append(opts, kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()))
	}
	if cfg.TLS != nil {
		opts = append(opts, kgo.DialTLSConfig(cfg.TLS))
	}
	if cfg.SASL != nil {
		opts = append(opts, kgo.SASL(cfg.SASL))
	}
	c := &Consumer{cfg: cfg, log: log, byKey: map[routerKey]*router{}, sig: make(chan struct{}, 1)}
	// Partitions taken away in a rebalance: commit what is stored of
	// them before another member takes over.
	opts = append(opts, kgo.OnPartitionsRevoked(func(ctx context.Context, _ *kgo.Client, _ map[string][]int32) {
		c.commit(ctx)
	}))
	opts = append(opts, cfg.Opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("openbmp: %w", err)
	}
	c.cl = cl
	return c, nil
}

// Routers returns the routers seen so far.
func (c *Consumer) Routers() []bmp.RouterStatus { return c.routers.List() }

// Stats are the consumer's record counts.
type Stats struct {
	Records, Skipped, Malformed int64
	// Late counts records skipped because newer ones of their router were
	// applied first (see late).
	Late                  int64
	Last                  time.Time
	Sent, Stored, Pending int64 // observations sent, stored; records not committed
}

// Stats returns the counts so far.
func (c *Consumer) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{Records: c.records, Skipped: c.skipped, Malformed: c.bad, Late: c.late, Last: c.lastRec, Sent: c.sent, Stored: c.stored, Pending: int64(len(c.pend))}
}

// Run consumes until ctx ends, sending observations to out. The client
// stays open for the final commit: call Close after the pipeline that
// reads out has stored what it got (Wrap's Close does).
func (c *Consumer) Run(ctx context.Context, out chan<- bgpwatch.Observation) {
	done := make(chan struct{})
	cctx, cancel := context.WithCancel(ctx)
	defer func() { cancel(); <-done }()
	go func() {
		defer close(done)
		for {
			select {
			case <-cctx.Done():
				return
			case <-c.sig:
				c.commit(cctx)
			}
		}
	}()
	var obs []bgpwatch.Observation
	for ctx.Err() == nil {
		fs := c.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		fs.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				c.log.Warn("kafka fetch", "topic", topic, "partition", p, "err", err)
			}
		})
		if fs.IsClientClosed() {
			return
		}
		stop := false
		fs.EachRecord(func(r *kgo.Record) {
			if stop {
				return
			}
			obs = c.record(r, obs[:0])
			for _, o := range obs {
				select {
				case out <- o:
				case <-ctx.Done():
					stop = true
					return
				}
			}
			c.mu.Lock()
			c.sent += int64(len(obs))
			c.pend = append(c.pend, pending{r.Topic, r.Partition, r.Offset + 1, r.LeaderEpoch, c.sent})
			c.mu.Unlock()
		})
		if stop {
			// The observations of the record being sent are partly
			// dropped: it stays uncommitted, and is read again.
			return
		}
		c.commit(ctx)
	}
}

// record decodes one Kafka record and appends its observations.
func (c *Consumer) record(r *kgo.Record, obs []bgpwatch.Observation) []bgpwatch.Observation {
	now := c.cfg.Now()
	c.mu.Lock()
	c.records++
	c.lastRec = now
	c.mu.Unlock()
	h, msg, err := Parse(r.Value)
	if errors.Is(err, ErrNotBMP) {
		c.mu.Lock()
		c.skipped++
		c.mu.Unlock()
		return obs
	}
	if err != nil {
		c.malformed(nil, r, "", err)
		return obs
	}
	k := routerKey{collector: h.CollectorHash, router: h.RouterHash, ip: h.RouterIP.String()}
	rt := c.byKey[k]
	if rt == nil {
		dec := bmp.NewDecoder(h.RouterIP.String(), bmp.Options{RIBs: c.cfg.RIBs, Now: c.cfg.Now, MaxSkew: c.cfg.MaxSkew, Names: c.routers.Names()})
		remote := h.RouterIP.String()
		if h.Collector != "" {
			remote = h.Collector + "/" + remote
		}
		rt = &router{dec: dec, entry: c.routers.Attach(remote, dec, now)}
		c.byKey[k] = rt
	}
	c.routers.Touch(rt.entry, now)
	if c.isLate(rt, r, h, msg) {
		return obs
	}
	if len(msg) >= bmp.CommonHeaderLen && msg[5] == bmp.TypeInitiation {
		rt.ended = time.Time{}
		// The router (re)connected to its collector: the tables it had
		// are gone and will be sent again.
		obs = rt.dec.Close(now, obs)
		c.routers.Reconnect(rt.entry, now)
	}
	n0 := len(obs)
	// The collector's time is when the message arrived there.
	obs, err = rt.dec.DecodeAt(msg, 0, h.Time, obs)
	if err != nil {
		obs = obs[:n0] // a malformed record counts for nothing
		c.malformed(rt, r, rt.dec.Name(), err)
		return obs
	}
	if len(msg) >= bmp.CommonHeaderLen && msg[5] == bmp.TypeTermination {
		obs = rt.dec.Close(now, obs)
		c.routers.Detach(rt.entry, now, false)
		rt.ended = h.Time
	}
	last := ""
	for i := range obs {
		if n := obs[i].Peer.Collector; n != last {
			c.names.LoadOrStore(n, struct{}{})
			last = n
		}
	}
	return obs
}

// isLate reports whether a record must be skipped because its router's
// records were read out of order, and otherwise notes its time. A router's
// messages spread over several topics or partitions (one topic per peer,
// as RouteViews publishes) come in no order across them, and two would do
// harm read late: an Initiation older than routes already applied (it
// would drop the tables its session sent since: Kafka does not send them
// again) or a Termination older than them, and a route older than the
// Termination applied (it would come back into a table that is gone).
// Records without a collector time are never late.
func (c *Consumer) isLate(rt *router, r *kgo.Record, h Header, msg []byte) bool {
	if h.Time.IsZero() || len(msg) < bmp.CommonHeaderLen {
		return false
	}
	late := false
	switch typ := msg[5]; {
	case typ == bmp.TypeInitiation || typ == bmp.TypeTermination:
		late = h.Time.Before(rt.newest)
	default:
		late = !rt.ended.IsZero() && h.Time.Before(rt.ended)
	}
	if !late {
		if h.Time.After(rt.newest) {
			rt.newest = h.Time
		}
		return false
	}
	c.mu.Lock()
	c.late++
	c.mu.Unlock()
	if !rt.warned {
		rt.warned = true
		c.log.Warn("openbmp record skipped: older than records of its router already applied (read from another topic or partition); later ones are counted, not logged",
			"router", rt.dec.Name(), "topic", r.Topic, "partition", r.Partition, "offset", r.Offset,
			"message", bmp.TypeName(msg[5]), "time", h.Time, "newest", rt.newest)
	}
	return true
}

func (c *Consumer) malformed(rt *router, r *kgo.Record, name string, err error) {
	c.mu.Lock()
	c.bad++
	c.mu.Unlock()
	if rt != nil {
		c.routers.Malformed(rt.entry)
	}
	c.log.Warn("openbmp record skipped: malformed", "router", name, "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "reason", err.Error())
}

// Stored tells the consumer that the first n observations it sent are
// stored; the records that carried them are committed at the next
// commit.
func (c *Consumer) Stored(n int64) {
	c.mu.Lock()
	more := n > c.stored
	if more {
		c.stored = n
	}
	c.mu.Unlock()
	if more {
		select {
		case c.sig <- struct{}{}:
		default:
		}
	}
}

// commit commits the offsets of the records whose observations are all
// stored.
func (c *Consumer) commit(ctx context.Context) {
	c.commitMu.Lock()
	defer c.commitMu.Unlock()
	c.mu.Lock()
	n := 0
	for n < len(c.pend) && c.pend[n].seq <= c.stored {
		n++
	}
	if n == 0 {
		c.mu.Unlock()
		return
	}
	offsets := map[string]map[int32]kgo.EpochOffset{}
	for _, p := range c.pend[:n] {
		if offsets[p.topic] == nil {
			offsets[p.topic] = map[int32]kgo.EpochOffset{}
		}
		if eo, ok := offsets[p.topic][p.partition]; !ok || p.offset > eo.Offset {
			offsets[p.topic][p.partition] = kgo.EpochOffset{Epoch: p.epoch, Offset: p.offset}
		}
	}
	c.mu.Unlock()
	var cerr error
	c.cl.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		cerr = err
		if err == nil && resp != nil {
			for _, t := range resp.Topics {
				for _, p := range t.Partitions {
					if p.ErrorCode != 0 && cerr == nil {
						cerr = fmt.Errorf("topic %s partition %d: error code %d", t.Topic, p.Partition, p.ErrorCode)
					}
				}
			}
		}
	})
	if cerr != nil {
		if ctx.Err() == nil {
			c.log.Warn("kafka offset commit failed; retried later", "err", cerr)
		}
		return
	}
	c.mu.Lock()
	c.pend = append(c.pend[:0], c.pend[n:]...)
	c.mu.Unlock()
}

// Close commits what is stored and closes the Kafka client.
func (c *Consumer) Close(ctx context.Context) {
	c.commit(ctx)
	c.cl.Close()
}

// owns reports whether the consumer produced observations for the
// vantage point collector name.
func (c *Consumer) owns(name string) bool {
	_, ok := c.names.Load(name)
	return ok
}
