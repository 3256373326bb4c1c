package rislive

import "strings"

// CollectorName turns a RIS Live host into the collector's name as the RIS
// archive and MRT replay write it: "rrc00.ripe.net" and "RRC00" are both
// "rrc00", so that a collector peer is one vantage point whichever way its
// routes came in.
func CollectorName(host string) string {
	h := strings.ToLower(strings.TrimSpace(host))
	if i := strings.IndexByte(h, '.'); i > 0 {
		h = h[:i]
	}
	return h
}
