// Package mrtsource turns MRT archives (RIB dumps and update files) into the
// domain's route observations: the MRT source of the bgpwatch pipeline.
//
// RIB dumps (TABLE_DUMP_V2 and the old TABLE_DUMP) produce a TableStart, one
// TableRoute per (peer, prefix, path id) entry and, only when the whole file
// was read without damage, a TableEnd: a truncated dump must not make the
// routes it did not reach look withdrawn. Update files (BGP4MP, BGP4MP_ET
// and the deprecated MRT BGP type) produce Announce and Withdraw per prefix
// (classic NLRI and MP_REACH/MP_UNREACH) and PeerDown when a session leaves
// Established. Only unicast routes are reported; messages the collector
// sent itself (*_LOCAL) are skipped.
package mrtsource

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/bgp/mrt"
)

// Options configures a Source.
type Options struct {
	Collector string       // collector name put into every Peer, e.g. "rrc00"
	Logger    *slog.Logger // nil: discard
}

// Stats counts what a Source has read so far.
type Stats struct {
	Records      map[string]int // by MRT type/subtype name, e.g. "BGP4MP/MESSAGE_AS4"
	Observations map[string]int // by observation kind name
	Errors       int            // damage reports (FormatErrors) returned by Next
}

// Source reads one MRT file as observations. It is not safe for concurrent use.
type Source struct {
	file   *mrt.File
	opt    Options
	log    *slog.Logger
	obs    []bgpwatch.Observation
	next   int
	errAft error // returned once obs is drained

	attrs   mrt.Attrs
	rib     mrt.RIB
	td      mrt.TableDump
	msg     mrt.Message
	sc      mrt.StateChange
	upd     mrt.Update
	mp      mrt.MPReach
	records map[uint32]int
	kinds   [8]int
	errors  int

	table    bool // a TableStart was emitted
	damaged  bool
	ended    bool
	lastTime time.Time
}

// Open opens an MRT file (raw, gzip or bzip2).
func Open(path string, opt Options) (*Source, error) {
	f, err := mrt.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open mrt source: %w", err)
	}
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Source{file: f, opt: opt, log: log.With("file", path), records: map[uint32]int{}}, nil
}

// BytesRead is the number of (compressed) file bytes consumed so far.
func (s *Source) BytesRead() int64 { return s.file.BytesRead() }

// Size is the file size in bytes.
func (s *Source) Size() int64 { return s.file.Size() }

// Close closes the file.
func (s *Source) Close() error { return s.file.Close() }

// Stats returns the counts so far.
func (s *Source) Stats() Stats {
	st := Stats{Records: map[string]int{}, Observations: map[string]int{}, Errors: s.errors}
	for k, n := range s.records {
		st.Records[RecordName(uint16(k>>16), uint16(k))] += n
	}
	for k, n := range s.kinds {
		if n > 0 {
			st.Observations[bgpwatch.ObservationKind(k).String()] = n
		}
	}
	return st
}

// Next returns the next observation. It returns io.EOF at the end, and a
// *mrt.FormatError for damage; after a FormatError Next may be called
// again (the reader resynchronises when it can; after unrecoverable damage
// the next call returns io.EOF).
func (s *Source) Next() (bgpwatch.Observation, error) {
	for {
		if s.next < len(s.obs) {
			o := s.obs[s.next]
			s.next++
			s.kinds[o.Kind]++
			return o, nil
		}
		if s.errAft != nil {
			err := s.errAft
			s.errAft = nil
			s.errors++
			return bgpwatch.Observation{}, err
		}
		if s.ended {
			return bgpwatch.Observation{}, io.EOF
		}
		s.obs, s.next = s.obs[:0], 0
		rec, err := s.file.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				s.ended = true
				if s.table && !s.damaged {
					s.obs = append(s.obs, bgpwatch.Observation{Time: s.lastTime, Kind: bgpwatch.TableEnd, Peer: bgpwatch.Peer{Collector: s.opt.Collector}})
				}
				continue
			}
			s.damaged = true
			var fe *mrt.FormatError
			if !errors.As(err, &fe) {
				s.ended = true
			}
			if rec == nil {
				s.errors++
				return bgpwatch.Observation{}, err
			}
			s.errAft = err
		}
		s.records[uint32(rec.Type)<<16|uint32(rec.Subtype)]++
		if err := s.convert(rec); err != nil {
			s.damaged = true
			if s.errAft == nil {
				s.errAft = err
			}
		}
	}
}

func (s *Source) recTime(rec *mrt.Record) time.Time {
	return time.Unix(int64(rec.Timestamp), int64(rec.Micro)*1000).UTC()
}

func (s *Source) startTable(t time.Time) {
	if s.table {
		return
	}
	s.table = true
	s.obs = append(s.obs, bgpwatch.Observation{Time: t, Kind: bgpwatch.TableStart, Peer: bgpwatch.Peer{Collector: s.opt.Collector}})
}

func (s *Source) convert(rec *mrt.Record) error {
	switch rec.Type {
	case mrt.TypeTableDumpV2:
		t := s.recTime(rec)
		s.lastTime = t
		if rec.Subtype == mrt.SubPeerIndexTable {
			s.startTable(t)
			return nil
		}
		if !rec.IsRIB() {
			return nil
		}
		return s.ribRecord(rec, t)
	case mrt.TypeTableDump:
		t := s.recTime(rec)
		s.lastTime = t
		s.startTable(t)
		if err := rec.TableDump(&s.td); err != nil {
			return err
		}
		if err := s.attrs.Parse(s.td.Attrs, s.td.AS4); err != nil {
			return rec2err(rec, "table dump attributes", err)
		}
		s.obs = append(s.obs, bgpwatch.Observation{
			Time: t, Kind: bgpwatch.TableRoute,
			Peer:   bgpwatch.Peer{Collector: s.opt.Collector, ASN: bgpwatch.ASN(s.td.PeerAS), Addr: s.td.PeerAddr},
			Prefix: s.td.Prefix.Masked(), Origin: bgpwatch.ASN(s.attrs.OriginAS()),
		})
		return nil
	case mrt.TypeBGP4MP, mrt.TypeBGP4MPET:
		t := s.recTime(rec)
		if rec.IsStateChange() {
			if err := rec.StateChange(&s.sc); err != nil {
				return err
			}
			s.stateChange(t)
			return nil
		}
		if !rec.IsMessage() {
			return nil
		}
		if err := rec.Message(&s.msg); err != nil {
			return err
		}
		if s.msg.Local {
			return nil
		}
		typ, body, err := mrt.ParseMessage(s.msg.Data)
		if err != nil {
			return rec2err(rec, "bgp message", err)
		}
		if typ != mrt.MsgUpdate {
			return nil
		}
		return s.update(rec, t, body)
	case mrt.TypeBGP:
		t := s.recTime(rec)
		kind, err := rec.LegacyBGP(&s.msg, &s.sc)
		if err != nil {
			return err
		}
		switch kind {
		case 1:
			return s.update(rec, t, s.msg.Update)
		case 3:
			s.stateChange(t)
		}
	}
	return nil
}

func rec2err(rec *mrt.Record, what string, err error) error {
	return &mrt.FormatError{File: rec.File, Offset: rec.Offset, Reason: what + ": " + err.Error(), Err: err}
}

func (s *Source) stateChange(t time.Time) {
	old, nw := s.sc.Old, s.sc.New
	if nw == mrt.StateEstablished {
		return
	}
	if old == mrt.StateEstablished || old == 0 || old > mrt.StateEstablished || nw == mrt.StateIdle {
		s.obs = append(s.obs, bgpwatch.Observation{
			Time: t, Kind: bgpwatch.PeerDown,
			Peer: bgpwatch.Peer{Collector: s.opt.Collector, ASN: bgpwatch.ASN(s.sc.PeerAS), Addr: s.sc.PeerAddr},
		})
	}
}

func (s *Source) ribRecord(rec *mrt.Record, t time.Time) error {
	s.startTable(t)
	err := rec.RIB(&s.rib)
	if s.rib.SAFI != mrt.SAFIUnicast || (s.rib.AFI != mrt.AFIIPv4 && s.rib.AFI != mrt.AFIIPv6) || !s.rib.Prefix.IsValid() {
		return err
	}
	peers, ok := s.file.Peers()
	if !ok {
		return &mrt.FormatError{File: rec.File, Offset: rec.Offset, Reason: mrt.ErrNoPeerIndex.Error(), Err: mrt.ErrNoPeerIndex}
	}
	prefix := s.rib.Prefix.Masked()
	for i := range s.rib.Entries {
		e := &s.rib.Entries[i]
		if int(e.PeerIndex) >= len(peers.Peers) {
			if err == nil {
				err = &mrt.FormatError{File: rec.File, Offset: rec.Offset, Reason: "rib entry peer index " + strconv.Itoa(int(e.PeerIndex)) + " out of range"}
			}
			continue
		}
		origin, aerr := mrt.OriginOf(e.Attrs, true)
		if aerr != nil {
			if err == nil {
				err = rec2err(rec, "rib entry attributes", aerr)
			}
			continue
		}
		p := &peers.Peers[e.PeerIndex]
		s.obs = append(s.obs, bgpwatch.Observation{
			Time: t, Kind: bgpwatch.TableRoute,
			Peer:   bgpwatch.Peer{Collector: s.opt.Collector, ASN: bgpwatch.ASN(p.AS), Addr: p.Addr},
			Prefix: prefix, PathID: e.PathID, Origin: bgpwatch.ASN(origin),
		})
	}
	return err
}

func (s *Source) update(rec *mrt.Record, t time.Time, body []byte) error {
	if err := mrt.ParseUpdate(body, &s.upd); err != nil {
		return rec2err(rec, "bgp update", err)
	}
	if err := s.attrs.Parse(s.upd.Attrs, s.msg.AS4); err != nil {
		return rec2err(rec, "bgp update attributes", err)
	}
	peer := bgpwatch.Peer{Collector: s.opt.Collector, ASN: bgpwatch.ASN(s.msg.PeerAS), Addr: s.msg.PeerAddr}
	ap := s.msg.AddPath
	if err := s.prefixes(t, peer, bgpwatch.Withdraw, s.upd.Withdrawn, mrt.AFIIPv4, ap, 0); err != nil {
		return rec2err(rec, "withdrawn routes", err)
	}
	if s.attrs.MPUnreach != nil {
		afi, safi, nlri, err := mrt.ParseMPUnreach(s.attrs.MPUnreach)
		if err != nil {
			return rec2err(rec, "bgp update", err)
		}
		if safi == mrt.SAFIUnicast && (afi == mrt.AFIIPv4 || afi == mrt.AFIIPv6) {
			if err := s.prefixes(t, peer, bgpwatch.Withdraw, nlri, afi, ap, 0); err != nil {
				return rec2err(rec, "MP_UNREACH_NLRI", err)
			}
		}
	}
	origin := bgpwatch.ASN(s.attrs.OriginAS())
	if err := s.prefixes(t, peer, bgpwatch.Announce, s.upd.NLRI, mrt.AFIIPv4, ap, origin); err != nil {
		return rec2err(rec, "NLRI", err)
	}
	if s.attrs.MPReach != nil {
		if err := mrt.ParseMPReach(s.attrs.MPReach, false, 0, &s.mp); err != nil {
			return rec2err(rec, "bgp update", err)
		}
		if s.mp.SAFI == mrt.SAFIUnicast && (s.mp.AFI == mrt.AFIIPv4 || s.mp.AFI == mrt.AFIIPv6) {
			if err := s.prefixes(t, peer, bgpwatch.Announce, s.mp.NLRI, s.mp.AFI, ap, origin); err != nil {
				return rec2err(rec, "MP_REACH_NLRI", err)
			}
		}
	}
	return nil
}

func (s *Source) prefixes(t time.Time, peer bgpwatch.Peer, kind bgpwatch.ObservationKind, b []byte, afi uint16, addPath bool, origin bgpwatch.ASN) error {
	for len(b) > 0 {
		p, id, rest, err := mrt.NextPrefix(b, afi, addPath)
		if err != nil {
			return err
		}
		b = rest
		o := bgpwatch.Observation{Time: t, Kind: kind, Peer: peer, Prefix: p.Masked(), PathID: id}
		if kind == bgpwatch.Announce {
			o.Origin = origin
		}
		s.obs = append(s.obs, o)
	}
	return nil
}

// RecordName names an MRT type/subtype pair, e.g. "TABLE_DUMP_V2/RIB_IPV4_UNICAST".
func RecordName(typ, sub uint16) string {
	var names []string
	var tn string
	switch typ {
	case mrt.TypeBGP:
		tn, names = "BGP", []string{"NULL", "UPDATE", "PREF_UPDATE", "STATE_CHANGE", "SYNC", "OPEN", "NOTIFY", "KEEPALIVE"}
	case mrt.TypeTableDump:
		tn, names = "TABLE_DUMP", []string{"", "AFI_IPV4", "AFI_IPV6", "AFI_IPV4_AS4", "AFI_IPV6_AS4"}
	case mrt.TypeTableDumpV2:
		tn, names = "TABLE_DUMP_V2", []string{"", "PEER_INDEX_TABLE", "RIB_IPV4_UNICAST", "RIB_IPV4_MULTICAST", "RIB_IPV6_UNICAST", "RIB_IPV6_MULTICAST", "RIB_GENERIC", "", "RIB_IPV4_UNICAST_ADDPATH", "RIB_IPV4_MULTICAST_ADDPATH", "RIB_IPV6_UNICAST_ADDPATH", "RIB_IPV6_MULTICAST_ADDPATH", "RIB_GENERIC_ADDPATH"}
	case mrt.TypeBGP4MP, mrt.TypeBGP4MPET:
		tn = "BGP4MP"
		if typ == mrt.TypeBGP4MPET {
			tn = "BGP4MP_ET"
		}
		names = []string{"STATE_CHANGE", "MESSAGE", "ENTRY", "SNAPSHOT", "MESSAGE_AS4", "STATE_CHANGE_AS4", "MESSAGE_LOCAL", "MESSAGE_AS4_LOCAL", "MESSAGE_ADDPATH", "MESSAGE_AS4_ADDPATH", "MESSAGE_LOCAL_ADDPATH", "MESSAGE_AS4_LOCAL_ADDPATH"}
	default:
		return "TYPE" + strconv.Itoa(int(typ)) + "/" + strconv.Itoa(int(sub))
	}
	if int(sub) < len(names) && names[sub] != "" {
		return tn + "/" + names[sub]
	}
	return tn + "/" + strconv.Itoa(int(sub))
}
