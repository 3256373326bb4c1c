package webhook

import (
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/wire"
)

func TestSignKnownValue(t *testing.T) {
	// printf '1767616200.{"a":1}' | openssl dgst -sha256 -hmac topsecret
	got := Sign("topsecret", 1767616200, []byte(`{"a":1}`))
	want := "sha256=" + hmacHex(t, "topsecret", `1767616200.{"a":1}`)
	if got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}

// hmacHex asks openssl, as the receiver one-liner in doc.go does.
func hmacHex(t *testing.T, secret, msg string) string {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	cmd := exec.Command("sh", "-c", `printf '%s' "$MSG" | openssl dgst -sha256 -hmac "$SECRET" | sed 's/^.* //'`)
	cmd.Env = []string{"MSG=" + msg, "SECRET=" + secret, "PATH=/usr/bin:/bin"}
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

func TestVerify(t *testing.T) {
	now := time.Unix(1767616200, 0)
	body := []byte(`{"type":"event.started"}`)
	good := Sign("k", now.Unix(), body)
	for _, tc := range []struct {
		name, secret, ts, sig string
		body                  []byte
		ok                    bool
	}{
		{"good", "k", "1767616200", good, body, true},
		{"wrong secret", "x", "1767616200", good, body, false},
		{"body changed", "k", "1767616200", good, []byte(`{"type":"event.ended"}`), false},
		{"timestamp changed", "k", "1767616201", good, body, false},
		{"no prefix", "k", "1767616200", strings.TrimPrefix(good, "sha256="), body, false},
		{"not hex", "k", "1767616200", "sha256=zz", body, false},
		{"bad timestamp", "k", "soon", good, body, false},
		{"stale", "k", "1767615000", Sign("k", 1767615000, body), body, false},
		{"future", "k", "1767617400", Sign("k", 1767617400, body), body, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Verify(tc.secret, tc.ts, tc.sig, tc.body, now, 5*time.Minute)
			if (err == nil) != tc.ok {
				t.Errorf("Verify = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestMatches(t *testing.T) {
	kz := kzEvent(0)
	asEv := bgpwatch.Event{Scope: bgpwatch.ScopeASN, Country: "IR", ASN: 197207, Access: bgpwatch.AccessMobile, DropRatio: 0.4}
	for _, tc := range []struct {
		name   string
		sub    bgpwatch.Subscription
		kz, as bool
	}{
		{"empty matches all", bgpwatch.Subscription{}, true, true},
		{"country", bgpwatch.Subscription{Countries: []string{"KZ"}}, true, false},
		{"asn of asn event", bgpwatch.Subscription{ASNs: []bgpwatch.ASN{197207}}, false, true},
		{"asn contributing to country event", bgpwatch.Subscription{ASNs: []bgpwatch.ASN{9198}}, true, false},
		{"scope", bgpwatch.Subscription{Scopes: []bgpwatch.Scope{bgpwatch.ScopeCountry}}, true, false},
		{"access", bgpwatch.Subscription{Access: []bgpwatch.Access{bgpwatch.AccessMobile, bgpwatch.AccessFixed}}, false, true},
		{"min drop", bgpwatch.Subscription{MinDropRatio: 0.5}, true, false},
		{"min drop equal", bgpwatch.Subscription{MinDropRatio: 0.4}, true, true},
		{"all filters AND", bgpwatch.Subscription{Countries: []string{"IR"}, MinDropRatio: 0.5}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Matches(&tc.sub, &kz); got != tc.kz {
				t.Errorf("country event: %v, want %v", got, tc.kz)
			}
			if got := Matches(&tc.sub, &asEv); got != tc.as {
				t.Errorf("asn event: %v, want %v", got, tc.as)
			}
		})
	}
}

func TestSlackText(t *testing.T) {
	kz := kzEvent(0)
	kz.ID = 17
	ended := kz
	ended.EndedAt = kz.StartedAt.Add(95 * time.Minute)
	withUsers := kz
	withUsers.Users = &bgpwatch.Users{Estimate: 9e6, Share: 0.621, Source: "apnic", Date: time.Date(2026, 1, 4, 0, 0, 0, 0, time.UTC)}
	as := bgpwatch.Event{ID: 18, Scope: bgpwatch.ScopeASN, Country: "IR", ASN: 197207, StartedAt: evBase,
		BaselineSlash24: 100, MinSlash24: 60, DropRatio: 0.4,
		ASNs: []bgpwatch.EventASN{{ASN: 197207, Name: "MCCI"}}}
	for _, tc := range []struct {
		name, typ string
		ev        bgpwatch.Event
		want      string
	}{
		{"country started", bgpwatch.NoticeStarted, kz,
			"Kazakhstan (KZ) lost 91% of its routed address space at 12:30 UTC on 2026-01-05 (local 17:30 Asia/Almaty (UTC+5), main zone of 7) (visible /24s: 1356 → 122). bgpwatch event 17, ongoing."},
		{"country started, users known", bgpwatch.NoticeStarted, withUsers,
			"Kazakhstan (KZ) lost 91% of its routed address space at 12:30 UTC on 2026-01-05 (local 17:30 Asia/Almaty (UTC+5), main zone of 7) (visible /24s: 1356 → 122). " +
				"Networks serving about 62 % of Kazakhstan's Internet users (APNIC estimate, 2026-01-04) were cut off. bgpwatch event 17, ongoing."},
		{"country ended", bgpwatch.NoticeEnded, ended,
			"Kazakhstan (KZ) recovered at 14:05 UTC after losing up to 91% of its routed address space for 1h35m0s (since 12:30 UTC on 2026-01-05). bgpwatch event 17, ended."},
		{"asn started", bgpwatch.NoticeStarted, as,
			"AS197207 MCCI in Iran (IR) lost 40% of its routed address space at 12:30 UTC on 2026-01-05 (local 16:00 Asia/Tehran (UTC+3:30)) (visible /24s: 100 → 60). bgpwatch event 18, ongoing."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := wire.FromEvent(&tc.ev)
			if got := SlackText(tc.typ, &w); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestNewUUID(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 1000 {
		u := newUUID()
		if !re.MatchString(u) || seen[u] {
			t.Fatalf("bad or repeated UUID %s", u)
		}
		seen[u] = true
	}
}

func FuzzVerify(f *testing.F) {
	f.Add("1767616200", "sha256=00", []byte(`{}`))
	f.Add("1767616200", Sign("k", 1767616200, []byte(`{}`)), []byte(`{}`))
	f.Add("x", "", []byte(nil))
	now := time.Unix(1767616200, 0)
	f.Fuzz(func(t *testing.T, ts, sig string, body []byte) {
		if Verify("k", ts, sig, body, now, time.Hour) != nil {
			return
		}
		n, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || !strings.EqualFold(sig, Sign("k", n, body)) {
			t.Errorf("Verify accepted timestamp %q signature %q", ts, sig)
		}
	})
}
