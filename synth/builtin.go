package synth

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/bgpwatch/bgpwatch"
)

// builtins maps scenario names to constructors; each call returns a fresh
// value the caller may modify.
var builtins = map[string]struct {
	summary string
	make    func() Scenario
}{
	"kazakhstan-2022": {"Kazakhstan, 3-7 Jan 2022: mobile cut, nationwide shutdown, brief restoration, partial restoration", kazakhstan2022},
	"mobile-only":     {"Sudan-like mobile-only shutdown: mobile operators withdraw, fixed lines stay up (2019-06-02..05)", mobileOnly},
	"quiet":           {"three quiet days: churn, a peer reset, de-aggregation, a collector gap, damaged files; zero events", quiet},
	"traps":           {"every trap (resets, de-aggregation, gaps, partial feeds, ADD-PATH, AS2 peers, damaged files), no real event", traps},
	"small":           {"36 hours, ~2k prefixes, one ASN outage: fast enough for unit tests", small},
	"scale":           {"benchmark: >1M IPv4 + 200k IPv6 prefixes, 64 full-feed peers, one RIB and a day of updates", scale},
}

// Builtin returns a copy of the named built-in scenario.
func Builtin(name string) (Scenario, error) {
	b, ok := builtins[name]
	if !ok {
		return Scenario{}, fmt.Errorf("%w scenario %q: want one of %v", bgpwatch.ErrNotFound, name, BuiltinNames())
	}
	return b.make(), nil
}

// BuiltinNames lists the built-in scenarios, sorted.
func BuiltinNames() []string {
	var out []string
	for n := range builtins {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// BuiltinSummary is a one-line description of a built-in scenario.
func BuiltinSummary(name string) string { return builtins[name].summary }

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err) // constant input in this file
	}
	return t
}

func tp(s string) *time.Time { t := ts(s); return &t }

func asns(a ...bgpwatch.ASN) []bgpwatch.ASN { return a }

// standardCollectors: RIS rrc00 and RouteViews route-views2 with full and
// partial feeds, an IPv6 session, 2-byte speakers, an ADD-PATH peer and
// one peer ASN present on both collectors.
func standardCollectors() []Collector {
	return []Collector{
		{Name: "rrc00", Project: "ris", Peers: []Peer{
			{ASN: 3356, Addr: "80.81.192.10", Share: 1},
			{ASN: 1299, Addr: "80.81.192.20", Share: 1},
			{ASN: 9002, Addr: "80.81.193.9", Share: 1},
			{ASN: 6939, Addr: "80.81.192.172", Share: 1, NoV6: true},
			{ASN: 6939, Addr: "2001:7f8::1b1b:0:1", Share: 1},
			{ASN: 3257, Addr: "80.81.192.30", Share: 1, AS2: true},
			{ASN: 8455, Addr: "80.81.195.12", Share: 0.08},
			{ASN: 34549, Addr: "80.81.194.34", Share: 0.35},
		}},
		{Name: "route-views2", Project: "routeviews", Peers: []Peer{
			{ASN: 3356, Addr: "4.68.4.46", Share: 1},
			{ASN: 2914, Addr: "129.250.1.71", Share: 1},
			{ASN: 6453, Addr: "66.110.0.86", Share: 1, AS2: true},
			{ASN: 20485, Addr: "217.150.32.2", Share: 1, AddPath: true},
			{ASN: 7018, Addr: "12.0.1.63", Share: 0.2, NoV6: true},
		}},
	}
}

// outage adds ASN events for every network in nets and returns them.
func outage(nets []Network, started string, ended *time.Time, note string, which ...bgpwatch.ASN) []TruthEvent {
	var out []TruthEvent
	for _, n := range nets {
		if slices.Contains(which, n.ASN) {
			out = append(out, TruthEvent{Scope: bgpwatch.ScopeASN, Country: n.Country, ASN: n.ASN, Access: n.Access, StartedAt: ts(started), EndedAt: ended, Note: note})
		}
	}
	return out
}

func kazakhstan2022() Scenario {
	nets := []Network{
		{ASN: 9198, Name: "KAZTELECOM-AS JSC Kazakhtelecom", Country: "KZ", Access: bgpwatch.AccessFixed, V4: 900, V6: 24},
		{ASN: 21299, Name: "KAR-TEL-AS Kar-Tel LLC (Beeline)", Country: "KZ", Access: bgpwatch.AccessMobile, V4: 90, V6: 6, Upstream: 9198},
		{ASN: 206026, Name: "KAR-TEL-MOBILE Kar-Tel LLC", Country: "KZ", Access: bgpwatch.AccessMobile, V4: 25, V6: 2},
		{ASN: 29355, Name: "KCELL-AS Kcell JSC", Country: "KZ", Access: bgpwatch.AccessMobile, V4: 60, V6: 4},
		{ASN: 48503, Name: "TELE2-KZ Mobile Telecom-Service LLP (Tele2/Altel)", Country: "KZ", Access: bgpwatch.AccessMobile, V4: 70, V6: 4},
		{ASN: 35104, Name: "KAZTRANSCOM-AS JSC Kaztranscom", Country: "KZ", Access: bgpwatch.AccessTransit, V4: 150, V6: 6, Aggregates: 2},
		{ASN: 48716, Name: "PS-KZ hosting (synthetic)", Country: "KZ", Access: bgpwatch.AccessHosting, V4: 60, V6: 3},
		{ASN: 50482, Name: "Almaty regional ISP (synthetic)", Country: "KZ", Access: bgpwatch.AccessFixed, V4: 40, V6: 1, Upstream: 9198},
		{ASN: 203087, Name: "Astana fibre ISP (synthetic)", Country: "KZ", Access: bgpwatch.AccessFixed, V4: 30, V6: 1, Upstream: 9198},
		{ASN: 39824, Name: "Shymkent cable ISP (synthetic)", Country: "KZ", Access: bgpwatch.AccessFixed, V4: 25, V6: 1, Upstream: 35104},
	}
	cut := asns(9198, 21299, 206026, 29355, 50482, 203087, 39824)
	cutShares := []Happening{
		{Kind: Withdraw, ASNs: asns(9198), Share: 0.9},
		{Kind: Withdraw, ASNs: asns(21299, 206026, 29355, 50482, 203087, 39824), Share: 0.95},
	}
	at := func(hs []Happening, when string, j time.Duration, note string) []Happening {
		out := make([]Happening, len(hs))
		for i, h := range hs {
			h.At, h.Jitter, h.Note = ts(when), Duration(j), note
			out[i] = h
		}
		return out
	}
	var hs []Happening
	hs = append(hs,
		// Noise and traps before, between and after the happenings.
		Happening{At: ts("2022-01-03T09:12:00Z"), Kind: PeerReset, Collector: "rrc00", Peer: "80.81.192.20", For: Duration(11 * time.Minute), Note: "peer session reset (not an outage)"},
		Happening{At: ts("2022-01-03T20:00:00Z"), Kind: Gap, Collector: "rrc00", For: Duration(30 * time.Minute), Note: "collector gap: no update files"},
		Happening{At: ts("2022-01-04T03:00:00Z"), Kind: Deaggregate, ASNs: asns(35104), Jitter: Duration(40 * time.Second), Note: "de-aggregation: /16s replaced by /24s"},
		Happening{At: ts("2022-01-04T06:20:00Z"), Kind: Truncate, Collector: "route-views2", Note: "truncated .bz2"},
		Happening{At: ts("2022-01-04T09:00:00Z"), Kind: Reaggregate, ASNs: asns(35104), Jitter: Duration(40 * time.Second), Note: "re-aggregation"},
		Happening{At: ts("2022-01-04T14:00:00Z"), Kind: Withdraw, ASNs: asns(48503), Share: 0.95, Jitter: Duration(90 * time.Second), Note: "Tele2/Altel mobile ordered off (20:00 local)"},
		Happening{At: ts("2022-01-06T20:00:00Z"), Kind: NotMRT, Collector: "rrc00", Note: "text file named like an update file"},
		Happening{At: ts("2022-01-06T21:05:00Z"), Kind: Truncate, Collector: "rrc00", Note: "truncated .gz"},
		Happening{At: ts("2022-01-05T03:40:00Z"), Kind: PeerReset, Collector: "route-views2", Peer: "217.150.32.2", For: Duration(6 * time.Minute), Note: "ADD-PATH peer session reset"},
	)
	hs = append(hs, at(cutShares, "2022-01-05T12:30:00Z", 2*time.Minute, "nationwide fixed and mobile shutdown (18:30 local)")...)
	hs = append(hs, Happening{At: ts("2022-01-05T16:00:00Z"), Kind: Restore, ASNs: cut, Share: 1, Jitter: Duration(time.Minute), Note: "brief restoration during the president's televised address (22:00 local)"})
	hs = append(hs, at(cutShares, "2022-01-05T17:30:00Z", 2*time.Minute, "shutdown reinstated (23:30 local)")...)
	hs = append(hs, Happening{At: ts("2022-01-06T11:00:00Z"), Kind: Restore, ASNs: asns(9198, 21299, 29355, 48503, 50482, 203087, 39824), Share: 1, Jitter: Duration(2 * time.Minute), Note: "partial restoration (17:00 local); AS206026 stays off"})

	var ev []TruthEvent
	ev = append(ev, outage(nets, "2022-01-04T14:00:00Z", tp("2022-01-06T11:00:00Z"), "Tele2/Altel ordered off", 48503)...)
	ev = append(ev, outage(nets, "2022-01-05T12:30:00Z", tp("2022-01-05T16:00:00Z"), "nationwide shutdown", cut...)...)
	ev = append(ev, outage(nets, "2022-01-05T17:30:00Z", tp("2022-01-06T11:00:00Z"), "shutdown reinstated", slices.DeleteFunc(slices.Clone(cut), func(a bgpwatch.ASN) bool { return a == 206026 })...)...)
	ev = append(ev, outage(nets, "2022-01-05T17:30:00Z", nil, "shutdown reinstated; never restored in the archive", 206026)...)
	ev = append(ev,
		TruthEvent{Scope: bgpwatch.ScopeCountry, Country: "KZ", Access: bgpwatch.AccessMixed, StartedAt: ts("2022-01-05T12:30:00Z"), EndedAt: tp("2022-01-05T16:00:00Z"), Note: "nationwide shutdown"},
		TruthEvent{Scope: bgpwatch.ScopeCountry, Country: "KZ", Access: bgpwatch.AccessMixed, StartedAt: ts("2022-01-05T17:30:00Z"), EndedAt: tp("2022-01-06T11:00:00Z"), Note: "shutdown reinstated until partial restoration"},
	)
	sortEvents(ev)
	return Scenario{
		Name: "kazakhstan-2022",
		Description: "Kazakhstan, January 2022 (local time UTC+6). Tue 4 Jan 14:00Z Tele2/Altel (AS48503) ordered off; " +
			"Wed 5 Jan 12:30Z nationwide fixed and mobile shutdown; 16:00-17:30Z brief restoration during the president's address; " +
			"17:30Z cut reinstated overnight; Thu 6 Jan 11:00Z partial restoration (AS206026 stays off). Transit AS35104 and hosting AS48716 stay up. " +
			"Plus traps: peer resets, de-aggregation, a collector gap, damaged files.",
		Start: ts("2022-01-03T00:00:00Z"), End: ts("2022-01-07T00:00:00Z"), Seed: 2022,
		Networks:   nets,
		World:      World{ASNs: 300, V4: 12000, V6: 2000, Countries: []string{"RU", "DE", "US", "NL", "GB", "FR", "UZ", "KG", "CN", "TR", "UA", "JP", "BR"}},
		Collectors: standardCollectors(),
		Churn:      Churn{FlapsPerPeerHour: 40, PathChangesPerPeerHour: 60},
		Happenings: hs,
		Expect:     ev,
	}
}

func sortEvents(ev []TruthEvent) {
	sort.SliceStable(ev, func(a, b int) bool {
		if !ev[a].StartedAt.Equal(ev[b].StartedAt) {
			return ev[a].StartedAt.Before(ev[b].StartedAt)
		}
		if ev[a].Scope != ev[b].Scope {
			return ev[a].Scope == bgpwatch.ScopeCountry
		}
		return ev[a].ASN < ev[b].ASN
	})
}

func mobileOnly() Scenario {
	nets := []Network{
		{ASN: 15706, Name: "Sudatel fixed (synthetic)", Country: "SD", Access: bgpwatch.AccessFixed, V4: 70, V6: 3},
		{ASN: 33788, Name: "Kanartel fixed (synthetic)", Country: "SD", Access: bgpwatch.AccessFixed, V4: 25, V6: 1},
		{ASN: 36972, Name: "MTN Sudan mobile (synthetic)", Country: "SD", Access: bgpwatch.AccessMobile, V4: 60, V6: 2, Upstream: 15706},
		{ASN: 36998, Name: "Zain Sudan mobile (synthetic)", Country: "SD", Access: bgpwatch.AccessMobile, V4: 80, V6: 2},
		{ASN: 37197, Name: "Sudani mobile (synthetic)", Country: "SD", Access: bgpwatch.AccessMobile, V4: 40, V6: 1, Upstream: 15706},
		{ASN: 328125, Name: "Khartoum hosting (synthetic)", Country: "SD", Access: bgpwatch.AccessHosting, V4: 10, V6: 1},
	}
	mobile := asns(36972, 36998, 37197)
	ev := outage(nets, "2019-06-03T10:00:00Z", tp("2019-06-04T16:00:00Z"), "mobile shutdown", mobile...)
	ev = append(ev, TruthEvent{Scope: bgpwatch.ScopeCountry, Country: "SD", Access: bgpwatch.AccessMobile, StartedAt: ts("2019-06-03T10:00:00Z"), EndedAt: tp("2019-06-04T16:00:00Z"), Note: "mobile-only shutdown; fixed lines stay up"})
	sortEvents(ev)
	return Scenario{
		Name:        "mobile-only",
		Description: "A mobile-only shutdown (Sudan-like, June 2019): the mobile operators withdraw 95% of their prefixes on 3 Jun 10:00Z until 4 Jun 16:00Z; fixed and hosting networks stay up.",
		Start:       ts("2019-06-02T00:00:00Z"), End: ts("2019-06-05T00:00:00Z"), Seed: 2019,
		Networks:   nets,
		World:      World{ASNs: 150, V4: 8000, V6: 1200, Countries: []string{"EG", "SA", "AE", "ET", "KE", "DE", "US", "FR"}},
		Collectors: standardCollectors(),
		Churn:      Churn{FlapsPerPeerHour: 30, PathChangesPerPeerHour: 40},
		Happenings: []Happening{
			{At: ts("2019-06-03T10:00:00Z"), Kind: Withdraw, ASNs: mobile, Share: 0.95, Jitter: Duration(2 * time.Minute), Note: "mobile data ordered off"},
			{At: ts("2019-06-04T16:00:00Z"), Kind: Restore, ASNs: mobile, Share: 1, Jitter: Duration(2 * time.Minute), Note: "mobile data restored"},
			{At: ts("2019-06-02T15:00:00Z"), Kind: PeerReset, Collector: "rrc00", Peer: "80.81.193.9", For: Duration(8 * time.Minute)},
		},
		Expect: ev,
	}
}

// quietNets are ordinary networks with nothing happening to them.
func quietNets(cc string, first bgpwatch.ASN) []Network {
	return []Network{
		{ASN: first, Name: "fixed incumbent (synthetic)", Country: cc, Access: bgpwatch.AccessFixed, V4: 300, V6: 8, Aggregates: 2},
		{ASN: first + 1, Name: "mobile operator (synthetic)", Country: cc, Access: bgpwatch.AccessMobile, V4: 60, V6: 3},
		{ASN: first + 2, Name: "second mobile operator (synthetic)", Country: cc, Access: bgpwatch.AccessMobile, V4: 40, V6: 2},
		{ASN: first + 3, Name: "hosting (synthetic)", Country: cc, Access: bgpwatch.AccessHosting, V4: 50, V6: 2},
	}
}

func quiet() Scenario {
	return Scenario{
		Name:        "quiet",
		Description: "Three quiet days: churn, a peer session reset, a de-aggregation and re-aggregation, a collector gap, a truncated file. A correct monitor reports zero events.",
		Start:       ts("2023-03-06T00:00:00Z"), End: ts("2023-03-09T00:00:00Z"), Seed: 7,
		Networks:   quietNets("AM", 12297),
		World:      World{ASNs: 80, V4: 3000, V6: 400, Countries: []string{"AM", "GE", "DE", "US", "RU"}},
		Collectors: standardCollectors(),
		Churn:      Churn{FlapsPerPeerHour: 30, PathChangesPerPeerHour: 40},
		Happenings: []Happening{
			{At: ts("2023-03-06T13:07:00Z"), Kind: PeerReset, Collector: "rrc00", Peer: "80.81.192.10", For: Duration(9 * time.Minute), Note: "peer session reset"},
			{At: ts("2023-03-07T02:00:00Z"), Kind: Deaggregate, ASNs: asns(12297), Jitter: Duration(time.Minute), Note: "de-aggregation"},
			{At: ts("2023-03-07T10:00:00Z"), Kind: Reaggregate, ASNs: asns(12297), Jitter: Duration(time.Minute), Note: "re-aggregation"},
			{At: ts("2023-03-07T18:00:00Z"), Kind: Gap, Collector: "route-views2", For: Duration(45 * time.Minute), Note: "collector gap"},
			{At: ts("2023-03-08T07:10:00Z"), Kind: Truncate, Collector: "rrc00", Note: "truncated .gz"},
		},
	}
}

func traps() Scenario {
	return Scenario{
		Name: "traps",
		Description: "Every trap and no real event: full-feed and ADD-PATH peer session resets (down, up, full re-announcement), a partial-feed peer reset, " +
			"de-aggregation/re-aggregation, gaps on both collectors, partial feeds, a 2-byte-ASN speaker, truncated .gz and .bz2, text files named like update files.",
		Start: ts("2023-05-01T00:00:00Z"), End: ts("2023-05-03T00:00:00Z"), Seed: 11,
		Networks:   quietNets("GE", 16010),
		World:      World{ASNs: 60, V4: 2500, V6: 300, Countries: []string{"GE", "AM", "TR", "DE", "US"}},
		Collectors: standardCollectors(),
		Churn:      Churn{FlapsPerPeerHour: 60, PathChangesPerPeerHour: 60},
		Happenings: []Happening{
			{At: ts("2023-05-01T06:00:00Z"), Kind: PeerReset, Collector: "rrc00", Peer: "80.81.192.10", For: Duration(40 * time.Minute), Note: "long full-feed peer reset"},
			{At: ts("2023-05-01T06:10:00Z"), Kind: PeerReset, Collector: "route-views2", Peer: "129.250.1.71", For: Duration(20 * time.Minute), Note: "overlapping second reset"},
			{At: ts("2023-05-01T09:00:00Z"), Kind: PeerReset, Collector: "route-views2", Peer: "217.150.32.2", For: Duration(5 * time.Minute), Note: "ADD-PATH peer reset"},
			{At: ts("2023-05-01T11:00:00Z"), Kind: PeerReset, Collector: "rrc00", Peer: "80.81.194.34", For: Duration(15 * time.Minute), Note: "partial-feed peer reset"},
			{At: ts("2023-05-01T12:00:00Z"), Kind: PeerReset, Collector: "rrc00", Peer: "80.81.192.30", For: Duration(3 * time.Minute), Note: "2-byte speaker reset"},
			{At: ts("2023-05-01T14:00:00Z"), Kind: Deaggregate, ASNs: asns(16010), Jitter: Duration(2 * time.Minute), Note: "de-aggregation"},
			{At: ts("2023-05-01T20:00:00Z"), Kind: Reaggregate, ASNs: asns(16010), Jitter: Duration(2 * time.Minute), Note: "re-aggregation"},
			{At: ts("2023-05-01T22:00:00Z"), Kind: Gap, Collector: "rrc00", For: Duration(time.Hour), Note: "collector gap"},
			{At: ts("2023-05-02T01:00:00Z"), Kind: Gap, Collector: "route-views2", For: Duration(30 * time.Minute), Note: "collector gap"},
			{At: ts("2023-05-02T04:05:00Z"), Kind: Truncate, Collector: "rrc00", Note: "truncated .gz"},
			{At: ts("2023-05-02T05:00:00Z"), Kind: Truncate, Collector: "route-views2", Note: "truncated .bz2"},
			{At: ts("2023-05-02T07:30:00Z"), Kind: NotMRT, Collector: "rrc00", Note: "text file named .gz"},
			{At: ts("2023-05-02T08:00:00Z"), Kind: NotMRT, Collector: "route-views2", Note: "text file named .bz2"},
		},
	}
}

func small() Scenario {
	nets := quietNets("AM", 12297)
	for i := range nets {
		nets[i].V4 /= 3
	}
	ev := outage(nets, "2024-01-02T06:00:00Z", tp("2024-01-02T08:00:00Z"), "mobile operator outage", 12298)
	return Scenario{
		Name:        "small",
		Description: "36 hours, about two thousand prefixes: AS12298 (mobile) withdraws 90% of its prefixes on 2 Jan 06:00-08:00Z.",
		Start:       ts("2024-01-01T00:00:00Z"), End: ts("2024-01-02T12:00:00Z"), Seed: 1,
		Networks:   nets,
		World:      World{ASNs: 30, V4: 1500, V6: 200, Countries: []string{"GE", "DE", "US"}},
		Collectors: standardCollectors(),
		Churn:      Churn{FlapsPerPeerHour: 20, PathChangesPerPeerHour: 20},
		Happenings: []Happening{
			{At: ts("2024-01-02T06:00:00Z"), Kind: Withdraw, ASNs: asns(12298), Share: 0.9, Jitter: Duration(90 * time.Second)},
			{At: ts("2024-01-02T08:00:00Z"), Kind: Restore, ASNs: asns(12298), Share: 1, Jitter: Duration(90 * time.Second)},
			{At: ts("2024-01-01T10:00:00Z"), Kind: PeerReset, Collector: "rrc00", Peer: "80.81.192.10", For: Duration(5 * time.Minute)},
			{At: ts("2024-01-01T12:00:00Z"), Kind: Truncate, Collector: "rrc00"},
		},
		Expect: ev,
	}
}

func scale() Scenario {
	var peers []Peer
	for k := 0; k < 64; k++ {
		p := Peer{ASN: bgpwatch.ASN(100 + k*37), Addr: fmt.Sprintf("80.81.%d.%d", 192+k/200, 1+k%200), Share: 1}
		if k < len(tier1) {
			p.ASN = bgpwatch.ASN(tier1[k])
		}
		if k%16 == 5 {
			p.AS2 = true
		}
		peers = append(peers, p)
	}
	peers = append(peers, Peer{ASN: 6939, Addr: "2001:7f8::1b1b:0:1", Share: 1},
		Peer{ASN: 8455, Addr: "80.81.195.12", Share: 0.05}, Peer{ASN: 34549, Addr: "80.81.194.34", Share: 0.3})
	return Scenario{
		Name:        "scale",
		Description: "Benchmark: 1.05M IPv4 and 200k IPv6 prefixes, one RIS collector with 64 full-feed peers; one RIB at the start and a day of update churn.",
		Start:       ts("2024-05-01T00:00:00Z"), End: ts("2024-05-02T00:00:00Z"), Seed: 99,
		Networks:     quietNets("NL", 1136),
		World:        World{ASNs: 75000, V4: 1050000, V6: 200000, Countries: []string{"US", "DE", "NL", "GB", "FR", "RU", "BR", "CN", "JP", "IN", "AU", "ZA"}},
		Collectors:   []Collector{{Name: "rrc00", Project: "ris", Peers: peers}},
		Churn:        Churn{FlapsPerPeerHour: 300, PathChangesPerPeerHour: 300},
		FirstRIBOnly: true,
	}
}
