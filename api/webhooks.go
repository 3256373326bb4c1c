package api

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/internal/netguard"
)

// Webhook secret length bounds, in bytes of UTF-8.
const (
	minSecretLen = 16
	maxSecretLen = 256
)

type webhookIn struct {
	URL          string          `json:"url"`
	Secret       json.RawMessage `json:"secret"` // checked raw: the decoder hides invalid UTF-8
	Countries    []string        `json:"countries"`
	ASNs         []any           `json:"asns"` // 9198 or "AS9198"
	Scopes       []string        `json:"scopes"`
	Access       []string        `json:"access"`
	MinDropRatio float64         `json:"min_drop_ratio"`
	Format       string          `json:"format"`
}

type webhookJSON struct {
	ID           int64     `json:"id"`
	URL          string    `json:"url"`
	Secret       string    `json:"secret,omitempty"` // only in the 201 answer
	Countries    []string  `json:"countries"`
	ASNs         []uint32  `json:"asns"`
	Scopes       []string  `json:"scopes"`
	Access       []string  `json:"access"`
	MinDropRatio float64   `json:"min_drop_ratio"`
	Format       string    `json:"format"`
	CreatedAt    time.Time `json:"created_at"`
}

func toWebhookJSON(sub *bgpwatch.Subscription) webhookJSON {
	out := webhookJSON{ID: sub.ID, URL: sub.URL, Countries: []string{}, ASNs: []uint32{}, Scopes: []string{},
		Access: []string{}, MinDropRatio: sub.MinDropRatio, Format: sub.Format, CreatedAt: sub.CreatedAt.UTC()}
	out.Countries = append(out.Countries, sub.Countries...)
	for _, a := range sub.ASNs {
		out.ASNs = append(out.ASNs, uint32(a))
	}
	for _, sc := range sub.Scopes {
		out.Scopes = append(out.Scopes, string(sc))
	}
	for _, a := range sub.Access {
		out.Access = append(out.Access, string(a))
	}
	if out.Format == "" {
		out.Format = "json"
	}
	return out
}

// decodeWebhook validates a subscription request body. Unless
// allowPrivate, a URL whose host is an IP address (in any spelling a
// resolver accepts) in an internal range is refused; names are checked
// when delivery dials them.
func decodeWebhook(r io.Reader, allowPrivate bool) (*bgpwatch.Subscription, error) {
	body, err := io.ReadAll(r)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errTooLarge
		}
		return nil, invalid("body: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var in webhookIn
	if err := dec.Decode(&in); err != nil {
		return nil, invalid("body: %v", err)
	}
	if dec.More() {
		return nil, invalid("body: more than one JSON value")
	}
	secret, err := decodeSecret(in.Secret)
	if err != nil {
		return nil, err
	}
	// The decoder replaces invalid UTF-8 with U+FFFD without a word; the
	// secret was checked above, the rest is checked here.
	if !utf8.Valid(body) {
		return nil, invalid("body: not valid UTF-8")
	}
	sub := &bgpwatch.Subscription{MinDropRatio: in.MinDropRatio, Format: in.Format}
	u, err := url.Parse(in.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || len(in.URL) > 2048 {
		return nil, invalid("url %q: want an absolute http or https URL without credentials", clip(in.URL))
	}
	if !allowPrivate {
		if a, ok := netguard.ParseHost(u.Hostname()); ok {
			if err := netguard.Check(a); err != nil {
				var ne *netguard.Error
				errors.As(err, &ne)
				return nil, invalid("url: host %q is a %s address; webhook receivers on internal addresses are refused "+
					"(serve --webhooks-allow-private, or webhooks.allow_private in the config file, permits them)", clip(u.Hostname()), ne.Range)
			}
		}
	}
	sub.URL = u.String()
	sub.Secret = secret
	if len(in.Countries)+len(in.ASNs)+len(in.Scopes)+len(in.Access) > 1000 {
		return nil, invalid("filters: more than 1000 entries")
	}
	for _, c := range in.Countries {
		cc, err := bgpwatch.ParseCountry(c)
		if err != nil {
			return nil, err
		}
		sub.Countries = append(sub.Countries, cc)
	}
	for _, a := range in.ASNs {
		var asn bgpwatch.ASN
		switch x := a.(type) {
		case float64:
			if x < 1 || x > math.MaxUint32 || x != math.Trunc(x) {
				return nil, invalid("asns: %v is not an ASN", x)
			}
			asn = bgpwatch.ASN(x)
		case string:
			if asn, err = parseASN(x); err != nil {
				return nil, err
			}
		default:
			return nil, invalid("asns: want numbers or strings such as \"AS9198\"")
		}
		sub.ASNs = append(sub.ASNs, asn)
	}
	for _, sc := range in.Scopes {
		if sc != string(bgpwatch.ScopeCountry) && sc != string(bgpwatch.ScopeASN) {
			return nil, invalid("scopes: %q: want country or asn", clip(sc))
		}
		sub.Scopes = append(sub.Scopes, bgpwatch.Scope(sc))
	}
	for _, a := range in.Access {
		acc, err := bgpwatch.ParseAccess(a)
		if err != nil || a == "" {
			return nil, invalid("access %q: want fixed, mobile, mixed or unknown", clip(a))
		}
		sub.Access = append(sub.Access, acc)
	}
	if math.IsNaN(in.MinDropRatio) || in.MinDropRatio < 0 || in.MinDropRatio > 1 {
		return nil, invalid("min_drop_ratio: want a number from 0 to 1")
	}
	switch in.Format {
	case "":
		sub.Format = "json"
	case "json", "slack":
	default:
		return nil, invalid("format %q: want json or slack", clip(in.Format))
	}
	return sub, nil
}

// decodeSecret checks the raw JSON of the secret field: absent, null or ""
// (one is generated), or a string of minSecretLen to maxSecretLen bytes of
// valid UTF-8 without control characters. Invalid UTF-8 would otherwise be
// stored as U+FFFD, so that no signature could ever verify; a NUL byte
// cannot be stored at all.
func decodeSecret(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	if !utf8.Valid(raw) {
		return "", invalid("secret: not valid UTF-8")
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", invalid("secret: want a string")
	}
	if s == "" {
		return "", nil
	}
	for i, c := range s {
		if c == utf8.RuneError {
			// From an escaped lone surrogate (\ud800) or a literal U+FFFD:
			// either way the secret is not what the client holds.
			return "", invalid("secret: not valid UTF-8 (U+FFFD or an unpaired surrogate at byte %d)", i)
		}
		if unicode.IsControl(c) {
			return "", invalid("secret: control character %U at byte %d; want printable characters", c, i)
		}
	}
	if len(s) < minSecretLen {
		return "", invalid("secret: want at least %d bytes, or leave it out to get a generated one", minSecretLen)
	}
	if len(s) > maxSecretLen {
		return "", invalid("secret: longer than %d bytes", maxSecretLen)
	}
	return s, nil
}

// generateSecret makes a 32-byte random secret.
func generateSecret() string {
	var b [32]byte
	rand.Read(b[:]) // crypto/rand never fails on Linux
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (s *Server) webhooks(w http.ResponseWriter, r *http.Request) (Webhooks, bool) {
	if s.cfg.Webhooks == nil {
		s.writeError(w, r, errorf(errUnavailable, "webhook storage is not configured"))
		return nil, false
	}
	return s.cfg.Webhooks, true
}

func (s *Server) handleCreateWebhook(w http.ResponseWriter, r *http.Request) {
	if _, err := query(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		s.writeError(w, r, invalid("content type %q: want application/json", clip(ct)))
		return
	}
	wh, ok := s.webhooks(w, r)
	if !ok {
		return
	}
	sub, err := decodeWebhook(http.MaxBytesReader(w, r.Body, maxBodyBytes), s.cfg.WebhooksAllowPrivate)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if sub.Secret == "" {
		sub.Secret = generateSecret()
	}
	if err := wh.CreateSubscription(r.Context(), sub); err != nil {
		s.writeError(w, r, err)
		return
	}
	out := toWebhookJSON(sub)
	out.Secret = sub.Secret
	w.Header().Set("Location", "/v1/webhooks/"+itoa(int(sub.ID)))
	writeJSON(w, http.StatusCreated, out)
}

func (s *Server) handleListWebhooks(w http.ResponseWriter, r *http.Request) {
	if _, err := query(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	wh, ok := s.webhooks(w, r)
	if !ok {
		return
	}
	subs, err := wh.ListSubscriptions(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := struct {
		Webhooks []webhookJSON `json:"webhooks"`
	}{Webhooks: make([]webhookJSON, 0, len(subs))}
	for i := range subs {
		out.Webhooks = append(out.Webhooks, toWebhookJSON(&subs[i])) // never the secret
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleDeleteWebhook(w http.ResponseWriter, r *http.Request) {
	id, err := parseID("webhook", chi.URLParam(r, "id"))
	if err == nil {
		_, err = query(r)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	wh, ok := s.webhooks(w, r)
	if !ok {
		return
	}
	if err := wh.DeleteSubscription(r.Context(), id); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type deliveryJSON struct {
	ID             string     `json:"delivery_id"`
	EventID        int64      `json:"event_id"`
	Type           string     `json:"type"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	LastStatusCode int        `json:"last_status_code,omitempty"`
	LastError      string     `json:"last_error,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	NextAttemptAt  *time.Time `json:"next_attempt_at"`
	DeliveredAt    *time.Time `json:"delivered_at"`
}

func (s *Server) handleDeliveries(w http.ResponseWriter, r *http.Request) {
	id, err := parseID("webhook", chi.URLParam(r, "id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	v, err := query(r, "limit", "cursor")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	limit, err := parseLimit(v.Get("limit"), 100, maxLimit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	cursor, err := parseCursor(v.Get("cursor"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	wh, ok := s.webhooks(w, r)
	if !ok {
		return
	}
	ds, next, err := wh.ListDeliveries(r.Context(), id, limit, cursor)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := struct {
		Deliveries []deliveryJSON `json:"deliveries"`
		NextCursor *string        `json:"next_cursor"`
	}{Deliveries: make([]deliveryJSON, 0, len(ds))}
	for _, d := range ds {
		dj := deliveryJSON{ID: d.ID, EventID: d.EventID, Type: d.Type, Status: d.Status, Attempts: d.Attempts,
			LastStatusCode: d.LastStatusCode, LastError: d.LastError, CreatedAt: d.CreatedAt.UTC()}
		if !d.NextAttemptAt.IsZero() && d.Status == "pending" {
			t := d.NextAttemptAt.UTC()
			dj.NextAttemptAt = &t
		}
		if !d.DeliveredAt.IsZero() {
			t := d.DeliveredAt.UTC()
			dj.DeliveredAt = &t
		}
		out.Deliveries = append(out.Deliveries, dj)
	}
	if next != "" {
		out.NextCursor = &next
	}
	writeJSON(w, http.StatusOK, out)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeProblem(w, problemFor(err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n')) // the client went away
}
