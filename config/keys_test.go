package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/detect"
	"github.com/bgpwatch/bgpwatch/internal/setting"
	"github.com/bgpwatch/bgpwatch/visibility"
)

// badValue is one out-of-range value of a key, as YAML would write it.
type badValue struct {
	key  string // section.name
	flag string
	yaml any    // the value in the file
	flg  string // the value on the command line
}

// outOfRange returns, for every key, the values just outside its bounds.
func outOfRange[C any](section string, keys []setting.Key[C]) []badValue {
	var out []badValue
	for _, k := range keys {
		var zero C
		_, isDur := k.Field(&zero).(*time.Duration)
		_, isInt := k.Field(&zero).(*int)
		val := func(v float64) (any, string) {
			switch {
			case isDur:
				d := time.Duration(v * float64(time.Second))
				return d.String(), d.String()
			case isInt:
				return int(v), strconv.Itoa(int(v))
			}
			return v, strconv.FormatFloat(v, 'g', -1, 64)
		}
		lo := k.Min - 1
		if !isDur && !isInt {
			lo = k.Min - 0.01
		}
		if k.MinOpen {
			lo = k.Min
		}
		vals := []float64{lo}
		if !k.NoMax {
			hi := k.Max + 0.5
			if k.MaxOpen {
				hi = k.Max
			}
			vals = append(vals, hi)
		}
		for _, v := range vals {
			y, f := val(v)
			out = append(out, badValue{key: section + "." + k.Name, flag: k.Flag, yaml: y, flg: f})
		}
	}
	return out
}

// AllBadValues lists the out-of-range values of every visibility and
// detection key.
func allBadValues() []badValue {
	return append(outOfRange(visibility.Section, visibility.Keys()), outOfRange(detect.Section, detect.Keys())...)
}

// nested turns "detection.country.drop" = v into the YAML document.
func nested(key string, v any) string {
	parts := strings.Split(key, ".")
	var m any = v
	for i := len(parts) - 1; i >= 0; i-- {
		m = map[string]any{parts[i]: m}
	}
	b, err := yaml.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestEveryKeyRefusesOutOfRange(t *testing.T) {
	bad := allBadValues()
	if n := len(visibility.Keys()) + len(detect.Keys()); n != 21 {
		t.Errorf("%d keys, want the 21 of the visibility and detection sections", n)
	}
	for _, b := range bad {
		t.Run(fmt.Sprintf("%s=%v", b.key, b.yaml), func(t *testing.T) {
			doc := nested(b.key, b.yaml)
			_, err := Parse(strings.NewReader(doc), env(nil))
			if err == nil || !errors.Is(err, bgpwatch.ErrInvalid) || !strings.Contains(err.Error(), b.key+" (--"+b.flag+")") {
				t.Fatalf("%q: err = %v, want ErrInvalid naming %s", doc, err, b.key)
			}
		})
	}
}

func TestEveryKeyReadFromFile(t *testing.T) {
	// A value different from the default, inside the bounds, for every
	// key: the file must set exactly that field.
	check := func(t *testing.T, section string, name string, def, got any, doc string) {
		t.Helper()
		if fmt.Sprint(def) == fmt.Sprint(got) {
			t.Errorf("%s.%s: %q left the default %v", section, name, doc, def)
		}
	}
	for _, k := range detect.Keys() {
		def := detect.DefaultConfig()
		v := inRange(k.Value(&def), k.Min, k.NoMax, k.Max)
		doc := nested(detect.Section+"."+k.Name, v)
		f, err := Parse(strings.NewReader(doc), env(nil))
		if err != nil {
			// A recovery level above the default drop: raise the drop too.
			f, err = Parse(strings.NewReader(strings.Replace(doc, "recover:", "drop: 0.95\n        recover:", 1)), env(nil))
			if err != nil {
				t.Fatalf("%q: %v", doc, err)
			}
		}
		check(t, detect.Section, k.Name, k.Value(&def), k.Value(&f.Detection), doc)
	}
	for _, k := range visibility.Keys() {
		def := visibility.DefaultConfig()
		v := inRange(k.Value(&def), k.Min, k.NoMax, k.Max)
		doc := nested(visibility.Section+"."+k.Name, v)
		f, err := Parse(strings.NewReader(doc), env(nil))
		if err != nil {
			t.Fatalf("%q: %v", doc, err)
		}
		check(t, visibility.Section, k.Name, k.Value(&def), k.Value(&f.Visibility), doc)
	}
}

// inRange returns a valid value different from def.
func inRange(def any, lo float64, noMax bool, hi float64) any {
	switch d := def.(type) {
	case time.Duration:
		if d > time.Hour {
			return (d - 30*time.Minute).String()
		}
		return (d + 5*time.Minute).String()
	case int:
		return d + 3
	case float64:
		if d+0.05 < hi || noMax {
			return d + 0.05
		}
		return d - 0.05
	}
	panic(fmt.Sprintf("%T", def))
}

func TestFingerprint(t *testing.T) {
	d, v := detect.DefaultConfig(), visibility.DefaultConfig()
	h1, rec := Fingerprint(d, v)
	if len(h1) != 32 || !strings.Contains(string(rec), `"detection.country.drop":0.3`) || !strings.Contains(string(rec), `"bin_step":"5m0s"`) {
		t.Fatalf("fingerprint %s %s", h1, rec)
	}
	for _, k := range detect.Keys() {
		if !strings.Contains(string(rec), `"detection.`+k.Name+`"`) {
			t.Errorf("record lacks %s", k.Name)
		}
	}
	d2 := d
	d2.Country.Drop = 0.31
	if h2, _ := Fingerprint(d2, v); h2 == h1 {
		t.Error("a changed threshold kept the hash")
	}
	if h3, _ := Fingerprint(d, v); h3 != h1 {
		t.Error("the same settings gave another hash")
	}
}
