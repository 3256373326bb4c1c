package live

import (
	"log/slog"
	"sync/atomic"

	gobgplog "github.com/osrg/gobgp/v3/pkg/log"
)

// gobgpFamilyDisabled is the message gobgp v3 logs (pkg/server/fsm.go,
// handlingError) when it applies RFC 7606's AFI/SAFI disable to a
// neighbor; its field "Key" is the neighbor's address. The log is gobgp's
// only report of it. TestRFC7606MalformedUpdates fails if a gobgp upgrade
// changes this.
const gobgpFamilyDisabled = "Capability was disabled"

// gobgpMD5Failed is the message gobgp v3 logs (pkg/server/server.go,
// addNeighbor) when it cannot set a neighbor's TCP MD5 key on a listener;
// "Key" is the neighbor's address, "Err" the error.
const gobgpMD5Failed = "failed to set md5"

// gobgpLogger adapts gobgp's logger to slog. Fatal and Panic are logged as
// errors: the process stays up. familyDisabled, when set, is called with
// the neighbor's address when gobgp disables an address family;
// md5Failed with the neighbor's address and the error when gobgp cannot
// set its TCP MD5 key on a listener.
type gobgpLogger struct {
	log            *slog.Logger
	level          atomic.Uint32
	familyDisabled func(peer string)
	md5Failed      func(peer string, err any)
}

func (l *gobgpLogger) attrs(f gobgplog.Fields) []any {
	out := make([]any, 0, 2*len(f))
	for k, v := range f {
		if k == "Key" {
			k = "peer"
		}
		out = append(out, k, v)
	}
	return out
}

func (l *gobgpLogger) Panic(msg string, f gobgplog.Fields) { l.log.Error(msg, l.attrs(f)...) }
func (l *gobgpLogger) Fatal(msg string, f gobgplog.Fields) { l.log.Error(msg, l.attrs(f)...) }
func (l *gobgpLogger) Error(msg string, f gobgplog.Fields) { l.log.Error(msg, l.attrs(f)...) }
func (l *gobgpLogger) Warn(msg string, f gobgplog.Fields) {
	l.log.Warn(msg, l.attrs(f)...)
	if msg == gobgpFamilyDisabled && l.familyDisabled != nil {
		if peer, ok := f["Key"].(string); ok {
			l.familyDisabled(peer)
		}
	}
	if msg == gobgpMD5Failed && l.md5Failed != nil {
		if peer, ok := f["Key"].(string); ok {
			l.md5Failed(peer, f["Err"])
		}
	}
}
func (l *gobgpLogger) Info(msg string, f gobgplog.Fields)  { l.log.Debug(msg, l.attrs(f)...) }
func (l *gobgpLogger) Debug(msg string, f gobgplog.Fields) {}
func (l *gobgpLogger) SetLevel(level gobgplog.LogLevel)    { l.level.Store(uint32(level)) }
func (l *gobgpLogger) GetLevel() gobgplog.LogLevel         { return gobgplog.LogLevel(l.level.Load()) }
