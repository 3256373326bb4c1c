package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/wire"
)

func init() {
	register(&command{name: "events", summary: "list detected events", run: runEvents})
}

func runEvents(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "events", "[flags]", `
Lists the detected events, newest first, as a table or (--json) as the API's
{"events":[...],"next_cursor":...} object. Filters combine with AND.`)
	db := addDBFlags(fs, e)
	country := fs.String("country", "", "only events of this country (ISO code such as KZ)")
	asnFlag := fs.String("asn", "", "only events of this ASN or with it among the contributors (9198 or AS9198)")
	scope := fs.String("scope", "", "only events of this scope: country or asn")
	from := fs.String("from", "", "only events still going at or after this time (RFC 3339)")
	to := fs.String("to", "", "only events started before this time (RFC 3339)")
	limit := fs.Int("limit", 50, "at most this many events (1-1000)")
	cursor := fs.String("cursor", "", "continue after a previous --json page's next_cursor")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	if err := parseFlags(fs, args, e); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	f := bgpwatch.EventFilter{Limit: *limit, Cursor: *cursor}
	var err error
	if *country != "" {
		if f.Country, err = bgpwatch.ParseCountry(*country); err != nil {
			return fmt.Errorf("%w: --country: %v", errUsage, err)
		}
	}
	if *asnFlag != "" {
		if f.ASN, err = bgpwatch.ParseASN(*asnFlag); err != nil {
			return fmt.Errorf("%w: --asn: %v", errUsage, err)
		}
	}
	switch bgpwatch.Scope(*scope) {
	case "", bgpwatch.ScopeCountry, bgpwatch.ScopeASN:
		f.Scope = bgpwatch.Scope(*scope)
	default:
		return fmt.Errorf("%w: --scope %q: want country or asn", errUsage, *scope)
	}
	if f.From, f.To, err = parseTimeRange(*from, *to); err != nil {
		return err
	}
	if *limit < 1 || *limit > 1000 {
		return fmt.Errorf("%w: --limit %d: want 1 to 1000", errUsage, *limit)
	}
	st, err := db.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	evs, next, err := st.ListEvents(ctx, f)
	if err != nil {
		return err
	}
	if *asJSON {
		out := struct {
			Events     []wire.Event `json:"events"`
			NextCursor *string      `json:"next_cursor"`
		}{Events: make([]wire.Event, 0, len(evs))}
		for i := range evs {
			out.Events = append(out.Events, wire.FromEvent(&evs[i]))
		}
		if next != "" {
			out.NextCursor = &next
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	printEvents(e, evs, next)
	return nil
}

// parseTimeFlag parses an optional RFC 3339 flag value.
func parseTimeFlag(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: --%s %q: want RFC 3339 such as 2022-01-05T00:00:00Z", errUsage, name, v)
	}
	return t.UTC(), nil
}

// parseTimeRange parses the optional --from and --to values; when both
// are given, --to must be after --from.
func parseTimeRange(from, to string) (fromT, toT time.Time, err error) {
	if fromT, err = parseTimeFlag("from", from); err != nil {
		return fromT, toT, err
	}
	if toT, err = parseTimeFlag("to", to); err != nil {
		return fromT, toT, err
	}
	if !fromT.IsZero() && !toT.IsZero() && !toT.After(fromT) {
		return fromT, toT, fmt.Errorf("%w: --to must be after --from", errUsage)
	}
	return fromT, toT, nil
}

func printEvents(e *env, evs []bgpwatch.Event, next string) {
	if len(evs) == 0 {
		fmt.Fprintln(e.stdout, "no events")
		return
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSCOPE\tCOUNTRY\tASN / NAME\tACCESS\tSTARTED (UTC)\tENDED (UTC)\t/24s BASE→MIN\tDROP")
	for i := range evs {
		ev := &evs[i]
		who := "-"
		if ev.Scope == bgpwatch.ScopeASN {
			who = "AS" + ev.ASN.String()
			for _, a := range ev.ASNs {
				if a.ASN == ev.ASN && a.Name != "" {
					who += " " + truncate(a.Name, 28)
				}
			}
		} else if n := len(ev.ASNs); n > 0 {
			who = fmt.Sprintf("%d ASNs", n)
		}
		ended := "ongoing"
		if !ev.EndedAt.IsZero() {
			ended = ev.EndedAt.UTC().Format("2006-01-02 15:04")
		}
		access := string(ev.Access)
		if access == "" {
			access = string(bgpwatch.AccessUnknown)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%d→%d\t%.0f%%\n",
			ev.ID, ev.Scope, ev.Country, who, access,
			ev.StartedAt.UTC().Format("2006-01-02 15:04"), ended,
			ev.BaselineSlash24, ev.MinSlash24, 100*ev.DropRatio)
	}
	tw.Flush()
	if next != "" {
		fmt.Fprintf(e.stdout, "more: --cursor %s\n", next)
	}
}

func truncate(s string, n int) string {
	s = strings.TrimSpace(s)
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
