package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/bgpwatch/bgpwatch/config"
	"github.com/bgpwatch/bgpwatch/detect"
	"github.com/bgpwatch/bgpwatch/internal/setting"
	"github.com/bgpwatch/bgpwatch/store"
	"github.com/bgpwatch/bgpwatch/visibility"
)

// detectionFlags are the visibility and detection settings as flags: every
// key of the configuration file's visibility: and detection: sections
// (visibility.Keys, detect.Keys), each overriding the file's key when
// given. replay, serve, detect and worker all register them, so one file
// and the same flags give the same settings everywhere.
type detectionFlags struct {
	path    *string // --config, registered here or by the command (serve)
	d       detect.Config
	v       visibility.Config
	visFlag bool // the visibility keys are flags too
}

// addDetectionFlags registers the settings' flags on fs, and --config
// unless the command registers it itself (configPath non-nil).
func addDetectionFlags(fs *flag.FlagSet, configPath *string) *detectionFlags {
	df := &detectionFlags{path: configPath, d: detect.DefaultConfig(), v: visibility.DefaultConfig(), visFlag: true}
	if df.path == nil {
		df.path = fs.String("config", "", "YAML configuration `file` whose visibility: and detection: sections set the thresholds (see docs/bgpwatch.example.yaml); flags override its keys one by one")
	}
	setting.Bind(fs, visibility.Keys(), &df.v)
	setting.Bind(fs, detect.Keys(), &df.d)
	return df
}

// addDetectFlagsOnly is addDetectionFlags for commands that work on stored
// series (detect): the visibility rules shaped those series and cannot
// change there, so only the file gives them (for the settings record).
func addDetectFlagsOnly(fs *flag.FlagSet) *detectionFlags {
	df := &detectionFlags{d: detect.DefaultConfig(), v: visibility.DefaultConfig()}
	df.path = fs.String("config", "", "YAML configuration `file` whose detection: section sets the thresholds (see docs/bgpwatch.example.yaml); flags override its keys one by one")
	setting.Bind(fs, detect.Keys(), &df.d)
	return df
}

// load reads --config (when given) and applies the flags over it.
func (df *detectionFlags) load(fs *flag.FlagSet) (*config.File, error) {
	f := config.Default()
	if *df.path != "" {
		var err error
		if f, err = config.Load(*df.path); err != nil {
			return nil, err
		}
	}
	return f, df.apply(fs, f)
}

// apply overrides f's visibility and detection keys with the flags given
// on the command line and validates the result: an out-of-range value is
// a usage error naming the key and its flag.
func (df *detectionFlags) apply(fs *flag.FlagSet, f *config.File) error {
	if df.visFlag {
		setting.Override(fs, visibility.Keys(), &df.v, &f.Visibility)
	}
	setting.Override(fs, detect.Keys(), &df.d, &f.Detection)
	if err := f.CheckDetection(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return nil
}

// putSettings stores the record of the settings and returns the hash that
// events detected with them carry.
func putSettings(ctx context.Context, db *store.DB, d detect.Config, v visibility.Config) (string, error) {
	hash, values := config.Fingerprint(d, v)
	return hash, db.PutSettings(ctx, hash, values)
}

// given reports whether --config or any setting's flag was on the command
// line.
func (df *detectionFlags) given(fs *flag.FlagSet) bool {
	names := map[string]bool{"config": true}
	for _, k := range detect.Keys() {
		names[k.Flag] = true
	}
	if df.visFlag {
		for _, k := range visibility.Keys() {
			names[k.Flag] = true
		}
	}
	found := false
	fs.Visit(func(f *flag.Flag) { found = found || names[f.Name] })
	return found
}
