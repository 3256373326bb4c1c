package synth

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sort"

	"github.com/bgpwatch/bgpwatch"
)

// asEntry is one ASN of the model.
type asEntry struct {
	asn      uint32
	name     string
	country  string
	access   bgpwatch.Access
	upstream uint32
	named    bool  // from Scenario.Networks
	v4, v6   int   // prefix counts wanted
	aggs     int   // /16 aggregates wanted
	prefixes []int // indices into world.pfx, ascending (base and deagg children)
	base     []int // base prefixes in the fixed shuffled withdrawal order
	v4blocks []netip.Prefix
	v6blocks []netip.Prefix
	regDate  string
}

// world is the static part of the model: ASNs, prefixes and sessions.
type world struct {
	seed     uint64
	ases     []asEntry
	asIdx    map[uint32]int
	pfx      []netip.Prefix // sorted: IPv4 then IPv6, by address then length
	owner    []int32        // index into ases
	parent   []int32        // deagg child → parent index; -1 otherwise
	children map[int32][]int32
	nV4      int // pfx[:nV4] are IPv4
	sessions []*session
	groups   int // full-feed peer groups (by peer ASN)
	groupsV4 int
	groupsV6 int
}

// session is one collector peer in the model.
type session struct {
	col      int // index into Scenario.Collectors
	colName  string
	spec     Peer
	addr     netip.Addr
	nh4      netip.Addr
	nh6      netip.Addr
	bgpID    netip.Addr
	v4, v6   bool // families carried
	full     bool
	group    int // full-feed group, -1 if partial
	index    uint16
	mrt      Session
	feed     bitset
	rib      bitset // the peer's Adj-RIB-In as if the session were up
	odown    bitset // origin withdrawal seen by this peer
	flap     bitset
	up       bool
	perCol   int // position among its collector's sessions (PEER_INDEX_TABLE)
	commBase uint32
}

type bitset []uint64

func newBitset(n int) bitset    { return make(bitset, (n+63)/64) }
func (b bitset) get(i int) bool { return b[i>>6]&(1<<(uint(i)&63)) != 0 }
func (b bitset) set(i int, v bool) { // set or clear bit i
	if v {
		b[i>>6] |= 1 << (uint(i) & 63)
	} else {
		b[i>>6] &^= 1 << (uint(i) & 63)
	}
}

// mix is splitmix64: a fast stateless hash for per-(peer, prefix) choices.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func hash3(a, b, c uint64) uint64 { return mix(mix(mix(a)^b) ^ c) }

// unit maps a hash to [0,1).
func unit(h uint64) float64 { return float64(h>>11) / (1 << 53) }

var worldCountryRIR = map[string]string{
	"US": "arin", "CA": "arin",
	"CN": "apnic", "JP": "apnic", "IN": "apnic", "SG": "apnic", "AU": "apnic", "ID": "apnic", "MM": "apnic", "PK": "apnic", "BD": "apnic", "VN": "apnic", "KR": "apnic",
	"BR": "lacnic", "AR": "lacnic", "MX": "lacnic", "CL": "lacnic", "CO": "lacnic", "VE": "lacnic", "CU": "lacnic",
	"ZA": "afrinic", "NG": "afrinic", "KE": "afrinic", "SD": "afrinic", "ET": "afrinic", "EG": "afrinic", "GH": "afrinic", "TZ": "afrinic",
}

func rirOf(cc string) string {
	if r, ok := worldCountryRIR[cc]; ok {
		return r
	}
	return "ripencc"
}

// v4 prefix length mix of an ordinary network: mostly /24.
var v4Mix = []struct {
	bits int
	w    float64
}{{24, 0.64}, {23, 0.12}, {22, 0.11}, {21, 0.05}, {20, 0.04}, {19, 0.02}, {18, 0.01}, {17, 0.006}, {16, 0.004}}

var v6Mix = []struct {
	bits int
	w    float64
}{{48, 0.55}, {44, 0.1}, {40, 0.12}, {36, 0.08}, {32, 0.15}}

func pickBits(r *rand.Rand, mixes []struct {
	bits int
	w    float64
}) int {
	u := r.Float64()
	for _, m := range mixes {
		if u < m.w {
			return m.bits
		}
		u -= m.w
	}
	return mixes[0].bits
}

var worldAccess = []bgpwatch.Access{bgpwatch.AccessFixed, bgpwatch.AccessFixed, bgpwatch.AccessMixed, bgpwatch.AccessHosting, bgpwatch.AccessHosting, bgpwatch.AccessMobile, bgpwatch.AccessTransit, bgpwatch.AccessUnknown}

// tier1 ASNs used as transit in generated AS paths.
var tier1 = []uint32{3356, 1299, 174, 2914, 3257, 6453, 6762, 6939, 9002, 3491, 5511, 1273}

// v4Reserved are skipped by the IPv4 allocator.
var v4Reserved = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("169.254.0.0/16"), netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.0.0.0/24"), netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("198.18.0.0/15"), netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("193.0.0.0/21"), // RIS peer addresses live here
}

// buildWorld creates ASNs, allocates prefixes and sets up sessions.
func buildWorld(sc *Scenario, seed uint64) (*world, error) {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	w := &world{seed: seed, asIdx: map[uint32]int{}, children: map[int32][]int32{}}
	used := map[uint32]bool{}
	for _, c := range sc.Collectors {
		for _, p := range c.Peers {
			used[uint32(p.ASN)] = true
		}
	}
	for _, t := range tier1 {
		used[t] = true
	}
	for _, n := range sc.Networks {
		used[uint32(n.ASN)] = true
		if n.Upstream != 0 {
			used[uint32(n.Upstream)] = true
		}
	}
	for _, n := range sc.Networks {
		w.asIdx[uint32(n.ASN)] = len(w.ases)
		acc, _ := bgpwatch.ParseAccess(string(n.Access))
		w.ases = append(w.ases, asEntry{asn: uint32(n.ASN), name: n.Name, country: n.Country, access: acc,
			upstream: uint32(n.Upstream), named: true, v4: n.V4, v6: n.V6, aggs: n.Aggregates})
	}
	// World ASNs: heavy-tailed prefix counts summing to World.V4 / V6.
	if wn := sc.World.ASNs; wn > 0 {
		weights := make([]float64, wn)
		var sum float64
		for i := range weights {
			weights[i] = 1 / math.Pow(1-r.Float64()*0.999, 0.9) // Pareto-like
			sum += weights[i]
		}
		v4left, v6left := sc.World.V4, sc.World.V6
		for i := 0; i < wn; i++ {
			var asn uint32
			for asn == 0 || used[asn] {
				if r.IntN(3) == 0 {
					asn = 196608 + uint32(r.IntN(70000)) // 4-byte ASNs
				} else {
					asn = 1000 + uint32(r.IntN(62000))
				}
				if asn == asTrans || (asn >= 64496 && asn <= 131071) {
					asn = 0
				}
			}
			used[asn] = true
			cc := sc.World.Countries[r.IntN(len(sc.World.Countries))]
			acc := sc.World.Access
			if acc == "" {
				acc = worldAccess[r.IntN(len(worldAccess))]
			}
			v4 := int(math.Round(float64(sc.World.V4) * weights[i] / sum))
			v6 := int(math.Round(float64(sc.World.V6) * weights[i] / sum))
			if i == wn-1 {
				v4, v6 = v4left, v6left
			}
			v4, v6 = min(max(v4, 1), v4left), min(v6, v6left)
			v4left -= v4
			v6left -= v6
			w.asIdx[asn] = len(w.ases)
			w.ases = append(w.ases, asEntry{asn: asn, name: fmt.Sprintf("SYNTH-%s-AS%d", cc, asn), country: cc, access: acc, v4: v4, v6: v6})
		}
	}
	// Allocate address space.
	type pinfo struct {
		p      netip.Prefix
		owner  int32
		parent int32 // index into the unsorted list
	}
	var all []pinfo
	v4next := uint64(2 << 24) // 2.0.0.0
	v6next := uint64(0x2a00_0000) << 32
	for ai := range w.ases {
		a := &w.ases[ai]
		a.regDate = fmt.Sprintf("%04d%02d%02d", 1995+int(mix(uint64(a.asn))%25), 1+int(mix(uint64(a.asn)+1)%12), 1+int(mix(uint64(a.asn)+2)%28))
		bits := make([]int, a.v4)
		for i := range bits {
			if i < a.aggs {
				bits[i] = 16
			} else {
				bits[i] = pickBits(r, v4Mix)
			}
		}
		aggs := make([]bool, a.v4) // which allocations are aggregates
		for i := 0; i < a.aggs; i++ {
			aggs[i] = true
		}
		order := make([]int, a.v4)
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(x, y int) bool { return bits[order[x]] < bits[order[y]] })
		var runStart, runEnd uint64
		flush := func() {
			if runEnd > runStart {
				a.v4blocks = append(a.v4blocks, rangeToPrefixes(runStart, runEnd)...)
			}
		}
		runStart, runEnd = v4next, v4next
		for _, oi := range order {
			size := uint64(1) << (32 - bits[oi])
			for {
				v4next = (v4next + size - 1) &^ (size - 1)
				if !overlapsReserved(v4next, size) {
					break
				}
				v4next += size
			}
			if v4next != runEnd {
				flush()
				runStart = v4next
			}
			p := netip.PrefixFrom(u32addr(uint32(v4next)), bits[oi])
			pi := int32(len(all))
			all = append(all, pinfo{p: p, owner: int32(ai), parent: -1})
			if aggs[oi] {
				for k := uint64(0); k < size/256; k++ {
					c := netip.PrefixFrom(u32addr(uint32(v4next+k*256)), 24)
					all = append(all, pinfo{p: c, owner: int32(ai), parent: pi})
				}
			}
			v4next += size
			runEnd = v4next
			if v4next >= 224<<24 {
				return nil, fmt.Errorf("%w scenario %q: IPv4 space exhausted", bgpwatch.ErrInvalid, sc.Name)
			}
		}
		flush()
		// IPv6: one /32 per 64 prefixes, sub-prefixes packed inside.
		if a.v6 > 0 {
			b6 := make([]int, a.v6)
			for i := range b6 {
				b6[i] = pickBits(r, v6Mix)
			}
			slices.Sort(b6)
			blockStart := v6next
			cur := v6next
			a.v6blocks = append(a.v6blocks, netip.PrefixFrom(u64addr6(cur), 32))
			for _, b := range b6 {
				if b == 32 && cur != blockStart {
					b = 36
				}
				size := uint64(1) << (64 - b)
				cur = (cur + size - 1) &^ (size - 1)
				if cur+size > blockStart+(1<<32) { // next /32
					blockStart += 1 << 32
					cur = blockStart
					a.v6blocks = append(a.v6blocks, netip.PrefixFrom(u64addr6(cur), 32))
				}
				all = append(all, pinfo{p: netip.PrefixFrom(u64addr6(cur), b), owner: int32(ai), parent: -1})
				cur += size
			}
			v6next = blockStart + 1<<32
		}
	}
	// Sort: IPv4 before IPv6, then address, then length.
	perm := make([]int32, len(all))
	for i := range perm {
		perm[i] = int32(i)
	}
	slices.SortFunc(perm, func(x, y int32) int {
		return all[x].p.Compare(all[y].p)
	})
	newIdx := make([]int32, len(all))
	for ni, oi := range perm {
		newIdx[oi] = int32(ni)
	}
	w.pfx = make([]netip.Prefix, len(all))
	w.owner = make([]int32, len(all))
	w.parent = make([]int32, len(all))
	for ni, oi := range perm {
		pi := all[oi]
		w.pfx[ni] = pi.p
		w.owner[ni] = pi.owner
		w.parent[ni] = -1
		if pi.parent >= 0 {
			w.parent[ni] = newIdx[pi.parent]
			w.children[newIdx[pi.parent]] = append(w.children[newIdx[pi.parent]], int32(ni))
		}
		if pi.p.Addr().Is4() {
			w.nV4 = ni + 1
		}
		a := &w.ases[pi.owner]
		a.prefixes = append(a.prefixes, ni)
		if pi.parent < 0 {
			a.base = append(a.base, ni)
		}
	}
	for ai := range w.ases {
		a := &w.ases[ai]
		ar := rand.New(rand.NewPCG(seed^uint64(a.asn), 77))
		ar.Shuffle(len(a.base), func(i, j int) { a.base[i], a.base[j] = a.base[j], a.base[i] })
	}
	if err := w.buildSessions(sc); err != nil {
		return nil, err
	}
	return w, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func u32addr(v uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b)
}

func u64addr6(hi uint64) netip.Addr {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:], hi)
	return netip.AddrFrom16(b)
}

func addrU32(a netip.Addr) uint64 {
	b := a.As4()
	return uint64(binary.BigEndian.Uint32(b[:]))
}

func overlapsReserved(start, size uint64) bool {
	for _, r := range v4Reserved {
		rs := addrU32(r.Addr())
		re := rs + 1<<(32-r.Bits())
		if start < re && rs < start+size {
			return true
		}
	}
	return false
}

// rangeToPrefixes splits [start, end) into CIDR blocks.
func rangeToPrefixes(start, end uint64) []netip.Prefix {
	var out []netip.Prefix
	for start < end {
		size := uint64(1) << 32
		for size > 1 && (start%size != 0 || start+size > end) {
			size >>= 1
		}
		bits := 32 - int(math.Log2(float64(size)))
		out = append(out, netip.PrefixFrom(u32addr(uint32(start)), bits))
		start += size
	}
	return out
}

// buildSessions sets up the collectors' peers and their feeds.
func (w *world) buildSessions(sc *Scenario) error {
	groups := map[uint32]int{}
	gv4, gv6 := map[int]bool{}, map[int]bool{}
	n := len(w.pfx)
	for ci, c := range sc.Collectors {
		for pi, p := range c.Peers {
			addr, err := netip.ParseAddr(p.Addr)
			if err != nil {
				return fmt.Errorf("%w collector %s peer %q: %v", bgpwatch.ErrInvalid, c.Name, p.Addr, err)
			}
			s := &session{col: ci, colName: c.Name, spec: p, addr: addr, perCol: pi, index: uint16(pi), up: true, group: -1}
			s.v4 = addr.Is4()
			s.v6 = addr.Is6() || !p.NoV6
			s.full = p.Share >= FullFeedShare
			h := mix(uint64(p.ASN) ^ uint64(pi)<<40 ^ uint64(ci)<<48)
			s.bgpID = u32addr(uint32(0x0a000000 | h&0xffffff))
			if s.bgpID.Is4() && addr.Is4() {
				s.bgpID = addr
			}
			if addr.Is4() {
				s.nh4 = addr
				s.nh6 = u64addr6(0x2001_07f8_0000_0000 | uint64(ci)<<16 | uint64(pi))
			} else {
				s.nh6 = addr
			}
			s.commBase = uint32(p.ASN) << 16
			local := collectorLocal(c.Name, addr.Is6())
			s.mrt = Session{PeerASN: uint32(p.ASN), LocalASN: collectorASN(c), PeerAddr: addr, LocalAddr: local, AS4: !p.AS2, AddPath: p.AddPath}
			if s.full {
				g, ok := groups[uint32(p.ASN)]
				if !ok {
					g = len(groups)
					groups[uint32(p.ASN)] = g
				}
				s.group = g
				if s.v4 {
					gv4[g] = true
				}
				if s.v6 {
					gv6[g] = true
				}
			}
			s.feed, s.rib, s.odown, s.flap = newBitset(n), newBitset(n), newBitset(n), newBitset(n)
			for i := 0; i < n; i++ {
				if (i < w.nV4 && !s.v4) || (i >= w.nV4 && !s.v6) {
					continue
				}
				key := i
				if w.parent[i] >= 0 {
					key = int(w.parent[i])
				}
				share := p.Share
				if s.full {
					share = min(share, 0.999) // full feeds still miss a few routes
				}
				if unit(hash3(w.seed, uint64(p.ASN), uint64(key))) < share {
					s.feed.set(i, true)
				}
			}
			w.sessions = append(w.sessions, s)
		}
	}
	w.groups = len(groups)
	w.groupsV4, w.groupsV6 = len(gv4), len(gv6)
	return nil
}

func collectorASN(c Collector) uint32 {
	if c.Project == "routeviews" {
		return 6447
	}
	return 12654
}

func collectorLocal(name string, v6 bool) netip.Addr {
	h := mix(uint64(len(name)) ^ uint64(name[len(name)-1]))
	if v6 {
		return u64addr6(0x2001_07f8_0000_0000 | h&0xffff)
	}
	return u32addr(0xc1000000 | uint32(h&0x7ff)) // 193.0.0.0/21
}

// collectorID is the BGP ID written in PEER_INDEX_TABLE.
func collectorID(name string) netip.Addr { return collectorLocal(name, false) }

// attrsFor fills a with the path session s advertises for prefix i.
func (w *world) attrsFor(a *Attrs, s *session, i int, ver uint8, pathID uint32) {
	o := &w.ases[w.owner[i]]
	peer := uint32(s.spec.ASN)
	h := hash3(uint64(peer), uint64(o.asn), uint64(ver)|uint64(pathID)<<8)
	a.Path = a.Path[:0]
	a.Path = append(a.Path, peer)
	t := tier1[h%uint64(len(tier1))]
	if t == peer || t == o.asn || t == o.upstream {
		t = tier1[(h>>8)%uint64(len(tier1))]
	}
	direct := slices.Contains(tier1, peer) && (h>>16)%4 == 0
	if t != peer && t != o.asn && t != o.upstream && !direct {
		a.Path = append(a.Path, t)
	}
	if o.upstream != 0 && o.upstream != peer {
		a.Path = append(a.Path, o.upstream)
	}
	a.Path = append(a.Path, o.asn)
	if mix(uint64(o.asn))%7 == 0 {
		a.Path = append(a.Path, o.asn) // prepending
	}
	a.Origin = 0
	if mix(uint64(o.asn)^3)%20 == 0 {
		a.Origin = 2
	}
	if i < w.nV4 {
		a.NextHop = s.nh4
	} else {
		a.NextHop = s.nh6
	}
	a.Communities = a.Communities[:0]
	if peer <= 0xffff {
		a.Communities = append(a.Communities, s.commBase|uint32(100+h%50))
		if h>>40%3 == 0 {
			a.Communities = append(a.Communities, s.commBase|uint32(2000+o.asn%1000))
		}
	}
	a.HasMED = false
}

// twoPaths reports whether the ADD-PATH session sends prefix i with two
// path identifiers.
func (w *world) twoPaths(i int) bool { return mix(w.seed^uint64(i)*31)%3 == 0 }
