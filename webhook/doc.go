// Package webhook delivers bgpwatch's alerts: it fans each event notice
// (the event_notices outbox, written in the same transaction as the event
// change) out to the matching subscriptions and POSTs signed JSON to them,
// retrying from a queue in PostgreSQL that survives restarts.
//
// # What a receiver gets
//
// A POST with Content-Type application/json, User-Agent bgpwatch and
//
//	{"type":"event.started"|"event.ended","delivery_id":"<uuid>","event":{...},"sent_at":"<RFC 3339>"}
//
// (the Event object of the API; for a subscription with format "slack" the
// body is {"text":"Kazakhstan (KZ) lost 91% of its routed address space at
// 12:30 UTC on ..."} instead, for Slack-compatible incoming webhooks), and
// the headers
//
//	X-Bgpwatch-Delivery:  the delivery_id (the same on every retry)
//	X-Bgpwatch-Timestamp: unix seconds when this attempt was sent
//	X-Bgpwatch-Signature: sha256=HEX(HMAC-SHA256(secret, timestamp + "." + body))
//
// The event is a snapshot taken when the notice was fanned out; every retry
// sends the same event, with a fresh sent_at and timestamp.
//
// # Verifying a delivery
//
// Compute the HMAC over the timestamp header, a dot and the raw body bytes
// (before any JSON parsing), compare in constant time, and reject
// timestamps more than a few minutes from your clock, so that a captured
// request cannot be replayed later. Then deduplicate on the delivery id.
//
//	func verify(r *http.Request, body []byte, secret string) bool {
//		ts := r.Header.Get("X-Bgpwatch-Timestamp")
//		sec, err := strconv.ParseInt(ts, 10, 64)
//		if err != nil || math.Abs(time.Since(time.Unix(sec, 0)).Seconds()) > 300 {
//			return false // missing or stale: possible replay
//		}
//		mac := hmac.New(sha256.New, []byte(secret))
//		mac.Write([]byte(ts + "." + string(body)))
//		want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
//		return hmac.Equal([]byte(want), []byte(r.Header.Get("X-Bgpwatch-Signature")))
//	}
//
// (Verify in this package does the same.) From a shell, with the body in
// body.json and the timestamp header in $TS:
//
//	printf '%s.' "$TS" | cat - body.json | openssl dgst -sha256 -hmac "$SECRET" | sed 's/^.* /sha256=/'
//
// prints the value X-Bgpwatch-Signature must have.
//
// # Delivery guarantees
//
// Delivery is at least once. Each (subscription, event, notice type) gets
// one delivery row with a random delivery_id, created once (a UNIQUE key)
// when the notice is fanned out. A worker claims due rows with SELECT …
// FOR UPDATE SKIP LOCKED and a lease (locked_until); any 2xx is committed
// as delivered right after the response, before anything else. Anything
// else — a non-2xx status (redirects are not followed), a connection
// error, the timeout (default 10 s) — is retried with exponential backoff
// and full jitter (default 5 s doubling up to 30 min), never earlier than
// a Retry-After header (seconds or HTTP date) asks, until the expiry
// (default 24 h after fan-out), when the delivery is marked failed.
//
// If the process dies between the receiver's 2xx and our commit (a window
// of one database round trip), or mid-request, the lease runs out (default
// timeout + 30 s) and the delivery is sent again with the same
// delivery_id: receivers must deduplicate on it. Nothing acknowledged and
// committed is sent again; nothing queued is lost. When the database is
// unreachable at that moment (a restart), the outcome is written as soon
// as it is back, until the lease runs out, and the listener reconnects
// within a second of it.
//
// On shutdown (Run's context done) attempts under way may finish for Grace
// (default 5 s) and are recorded; those still waiting are cut off and sent
// again, under the same delivery_id, by the next start.
//
// A hanging receiver holds at most PerEndpoint (default 2) of the Workers
// (default 8) per URL host[:port] for at most the timeout, so others keep
// getting theirs. New notices wake the dispatcher through LISTEN/NOTIFY
// (a trigger on event_notices), with a 1 s poll as a fallback.
//
// Secrets are never logged; attempt errors leave out the URL, since
// incoming-webhook URLs carry secrets themselves.
package webhook
