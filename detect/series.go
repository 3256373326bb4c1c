package detect

import "slices"

// history is an entity's recent non-event values: a ring of int32 (4 bytes
// per bin, 288 bins for 24 h) with a cached median. The median is
// recomputed only when the multiset of values changed (a pushed value that
// differs from the one it evicts) and then only when asked: hourly, or on
// demand when a value falls below the drop level.
type history struct {
	ring   []int32
	pos    int // next write position once the ring is full
	size   int // capacity (bins in the window)
	median int32
	dirty  bool
	// hi bounds the window's current median from above: the median at
	// the last get, raised by every value pushed since. Pushing values no
	// higher than hi cannot lift the median above it, whatever they
	// evict, so a value above hi×(1−drop) cannot be a drop from the
	// current median, cached or not (see Detector.step).
	hi int32
}

func newHistory(size int) history { return history{size: size, dirty: true} }

func (h *history) len() int { return len(h.ring) }

// push appends v, evicting the oldest value once the window is full.
func (h *history) push(v int32) {
	if len(h.ring) < h.size {
		if len(h.ring) == cap(h.ring) {
			// Grow geometrically up to size: new entities start small.
			n := max(16, 2*cap(h.ring))
			n = min(n, h.size)
			r := make([]int32, len(h.ring), n)
			copy(r, h.ring)
			h.ring = r
		}
		h.ring = append(h.ring, v)
		h.dirty = true
		h.hi = max(h.hi, v)
		return
	}
	h.hi = max(h.hi, v)
	if old := h.ring[h.pos]; old != v {
		h.ring[h.pos] = v
		h.dirty = true
	}
	h.pos++
	if h.pos == h.size {
		h.pos = 0
	}
}

// get returns the median, recomputing it if stale. scratch is reused.
func (h *history) get(scratch *[]int32) int32 {
	if h.dirty {
		h.median = medianOf(h.ring, scratch)
		h.dirty = false
	}
	h.hi = h.median
	return h.median
}

// medianOf returns the (lower) median of v; 0 for an empty slice.
func medianOf(v []int32, scratch *[]int32) int32 {
	if len(v) == 0 {
		return 0
	}
	s := append((*scratch)[:0], v...)
	*scratch = s
	// Fast path: constant series are the common case.
	allSame := true
	for _, x := range s[1:] {
		if x != s[0] {
			allSame = false
			break
		}
	}
	if allSame {
		return s[0]
	}
	slices.Sort(s)
	return s[(len(s)-1)/2]
}
