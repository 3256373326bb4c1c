// Package mrt reads MRT routing archives (RFC 6396) as a stream of typed
// records: TABLE_DUMP (v1), TABLE_DUMP_V2 (PEER_INDEX_TABLE, RIB_IPV4/IPV6
// UNICAST and MULTICAST, RIB_GENERIC and the RFC 8050 *_ADDPATH subtypes),
// BGP4MP and BGP4MP_ET (MESSAGE, MESSAGE_AS4, *_LOCAL, *_ADDPATH,
// STATE_CHANGE, STATE_CHANGE_AS4) and the deprecated MRT BGP type of
// pre-2001 RIS archives. BGP UPDATE contents (path attributes, AS_PATH and
// AS4_PATH merging per RFC 6793, MP_REACH/MP_UNREACH, ADD-PATH NLRI) are
// decoded without allocating per route.
//
// Open detects the container by content: raw, gzip (klauspost/compress)
// or bzip2. bzip2 is piped through lbzip2 (or pbzip2) when installed, which
// decodes blocks on all cores; those tools lose the last good blocks of a
// truncated stream, so on their failure the Go decoder takes over at the
// same output position and delivers everything a sequential decoder would.
// Decompression runs in its own goroutine, ahead of record decoding.
//
// Formatter prints records exactly as `bgpdump -m` (libbgpdump 1.6.2) does,
// quirks included (defaults such as next hop 255.255.255.255 and "INCOMPLETE"
// for a missing ORIGIN, its IPv6 address style, its AS4_PATH merge); the
// test TestBgpdumpCompat diffs the two over the shared sample archives.
//
// # Damage
//
// Damaged input never panics and never ends the stream silently. Next
// returns a *FormatError naming the file, the byte offset in the
// uncompressed stream and the reason, after every good record before the
// damage has been returned:
//
//   - a stream that ends inside a record header or record body (truncated
//     download, cut bzip2 stream): the error, then io.EOF;
//   - an impossible header (unknown type or subtype, length over
//     MaxRecordLen) or a record whose length does not lead to another
//     plausible header: the error, then Next resynchronises at the next
//     offset where a plausible header (known type/subtype, sane length,
//     timestamp within a week of the last good record) is followed by
//     another one, or ends the stream exactly. If such a chain starts inside
//     the suspicious record, its length field is what was damaged and the
//     record is dropped; otherwise the record is returned and the damage is
//     reported at the following offset;
//   - a record whose framing is fine but whose content is inconsistent (an
//     attribute or prefix running past its record): the typed decoders
//     return a *FormatError for that record only, and reading continues.
//
// Example: edge/rrc00.updates.20000325.0345.gz (RIS, March 2000) has a
// 10-byte record header at offset 188 whose length field swallowed the next
// 14 KB. bgpdump trusts the length and prints garbage withdrawals from
// there on; this package reports "offset 188: record length 14556 is not
// followed by a valid record header", resumes at offset 198 with the
// STATE_CHANGE records that follow, and so keeps the rest of the file.
// (bgpdump also prints the peer address in place of the prefix of every
// withdrawal of that old MRT BGP type, because two inet_ntoa calls share
// one buffer in a single printf; the Formatter prints the real prefix.)
//
// Truncated RIBs such as the RouteViews *_firstMB.bz2 samples: every
// complete record is delivered (the same routes bgpdump prints), then
// "truncated record: header says N bytes, M present". A RIB record before
// any PEER_INDEX_TABLE (edge/ris.bview.20140112.1600_3samples.bz2) cannot
// be attributed to peers: the Formatter prints nothing for it, as bgpdump,
// and returns an error saying so.
package mrt
