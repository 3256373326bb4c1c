// Package retry holds the waiting rules of everything in bgpwatch that
// tries again (webhook deliveries, archive downloads, the RIS Live client,
// damped BGP neighbors): exponential backoff, jitter and the Retry-After
// header.
package retry

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Exp is the exponential wait before retry n (n >= 1, the first retry):
// base·2^(n-1), at most maxWait. It is 0 when base is not positive.
func Exp(base, maxWait time.Duration, n int) time.Duration {
	if base <= 0 {
		return 0
	}
	w := base
	for i := 1; i < n && w < maxWait; i++ {
		if w > maxWait/2 {
			return maxWait
		}
		w *= 2
	}
	return min(w, maxWait)
}

// Jitter is a uniform draw from [lo, hi] given u uniform in [0, 1): with lo
// 0 and hi = Exp(...), the "full jitter" of the AWS architecture blog,
// which keeps many clients failing together from retrying together.
func Jitter(lo, hi time.Duration, u float64) time.Duration {
	return lo + time.Duration(u*float64(hi-lo))
}

// maxAfter caps a Retry-After so that adding it to a time cannot overflow;
// callers cap it further.
const maxAfter = 1 << 32 * time.Second

// After reads a Retry-After header value (RFC 9110 §10.2.3): delay seconds
// or an HTTP date. It is 0 when v is empty, unparseable, not positive, or a
// date not after now.
func After(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(min(n, int64(maxAfter/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), maxAfter)
	}
	return 0
}
