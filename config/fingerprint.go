package config

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/bgpwatch/bgpwatch/detect"
	"github.com/bgpwatch/bgpwatch/internal/setting"
	"github.com/bgpwatch/bgpwatch/visibility"
)

// Fingerprint returns the record of the settings that produce events —
// every visibility and detection key by its YAML path, and the bin step —
// as canonical JSON (keys sorted), and its hash (hex SHA-256, first 16
// bytes). Events are stored with the hash; the store keeps the values
// once per hash.
func Fingerprint(d detect.Config, v visibility.Config) (hash string, values []byte) {
	m := map[string]any{}
	setting.Values(detect.Section, detect.Keys(), &d, m)
	setting.Values(visibility.Section, visibility.Keys(), &v, m)
	step := d.Step
	if step <= 0 {
		step = detect.DefaultConfig().Step
	}
	m["bin_step"] = step.String()
	b, err := json.Marshal(m) // map keys are sorted
	if err != nil {
		panic("config: fingerprint: " + err.Error()) // numbers and strings only
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16]), b
}
