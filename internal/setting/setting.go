// Package setting describes the user-settable keys of a configuration
// struct once, so that the YAML file, the command-line flags, validation
// and the record stored with results all follow the same list: a key's
// YAML path, its flag, its bounds and its field.
package setting

import (
	"flag"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/bgpwatch/bgpwatch"
)

// Key is one setting of a configuration of type C.
type Key[C any] struct {
	// Name is the YAML path within its section ("country.drop").
	Name string
	// Flag is the command-line flag ("country-drop").
	Flag string
	// Usage is the flag's help text.
	Usage string
	// Field returns a pointer to the setting in c: *float64, *int or
	// *time.Duration.
	Field func(c *C) any
	// Min and Max bound the value (durations in seconds); MinOpen and
	// MaxOpen make a bound exclusive; NoMax leaves the value unbounded
	// above.
	Min, Max         float64
	MinOpen, MaxOpen bool
	NoMax            bool
}

// value returns the key's value in c as a float64 (durations in seconds).
func (k *Key[C]) value(c *C) float64 {
	switch p := k.Field(c).(type) {
	case *float64:
		return *p
	case *int:
		return float64(*p)
	case *time.Duration:
		return p.Seconds()
	}
	panic("setting: unsupported field type for " + k.Name)
}

// Value returns the key's value in c: float64, int or time.Duration.
func (k *Key[C]) Value(c *C) any {
	switch p := k.Field(c).(type) {
	case *float64:
		return *p
	case *int:
		return *p
	case *time.Duration:
		return *p
	}
	panic("setting: unsupported field type for " + k.Name)
}

// Check reports a value out of its bounds as an error wrapping
// bgpwatch.ErrInvalid that names the key (section.name) and its flag.
func (k *Key[C]) Check(section string, c *C) error {
	v := k.value(c)
	ok := !math.IsNaN(v) && (v > k.Min || (!k.MinOpen && v == k.Min))
	if !k.NoMax {
		ok = ok && (v < k.Max || (!k.MaxOpen && v == k.Max))
	}
	if ok {
		return nil
	}
	return fmt.Errorf("%w: %s.%s (--%s) %s: want %s", bgpwatch.ErrInvalid, section, k.Name, k.Flag, k.format(c), k.bounds())
}

func (k *Key[C]) format(c *C) string {
	switch v := k.Value(c).(type) {
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case int:
		return strconv.Itoa(v)
	case time.Duration:
		return v.String()
	}
	return "?"
}

func (k *Key[C]) bound(v float64) string {
	if _, ok := k.Field(new(C)).(*time.Duration); ok {
		return time.Duration(v * float64(time.Second)).String()
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func (k *Key[C]) bounds() string {
	lo := "≥ " + k.bound(k.Min)
	if k.MinOpen {
		lo = "> " + k.bound(k.Min)
	}
	if k.NoMax {
		return lo
	}
	hi := "≤ " + k.bound(k.Max)
	if k.MaxOpen {
		hi = "< " + k.bound(k.Max)
	}
	return lo + " and " + hi
}

// Bind registers every key's flag on fs, writing into c (whose values are
// the flags' defaults).
func Bind[C any](fs *flag.FlagSet, keys []Key[C], c *C) {
	for i := range keys {
		k := &keys[i]
		switch p := k.Field(c).(type) {
		case *float64:
			fs.Float64Var(p, k.Flag, *p, k.Usage)
		case *int:
			fs.IntVar(p, k.Flag, *p, k.Usage)
		case *time.Duration:
			fs.DurationVar(p, k.Flag, *p, k.Usage)
		default:
			panic("setting: unsupported field type for " + k.Name)
		}
	}
}

// Override copies into dst the value in src of every key whose flag was
// set on the command line (fs.Visit): flags override a file key by key.
func Override[C any](fs *flag.FlagSet, keys []Key[C], src, dst *C) {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for i := range keys {
		k := &keys[i]
		if !set[k.Flag] {
			continue
		}
		switch p := k.Field(dst).(type) {
		case *float64:
			*p = *k.Field(src).(*float64)
		case *int:
			*p = *k.Field(src).(*int)
		case *time.Duration:
			*p = *k.Field(src).(*time.Duration)
		}
	}
}

// Validate checks every key of c; the first error is returned.
func Validate[C any](section string, keys []Key[C], c *C) error {
	for i := range keys {
		if err := keys[i].Check(section, c); err != nil {
			return err
		}
	}
	return nil
}

// Values returns c's settings by YAML path (section.name), durations as
// strings ("15m0s"): the record stored with results.
func Values[C any](section string, keys []Key[C], c *C, out map[string]any) {
	for i := range keys {
		k := &keys[i]
		v := k.Value(c)
		if d, ok := v.(time.Duration); ok {
			v = d.String()
		}
		out[section+"."+k.Name] = v
	}
}
