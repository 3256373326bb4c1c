package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/bgpwatch/bgpwatch/bgp/bmp"
	"github.com/bgpwatch/bgpwatch/bgp/openbmp"
)

// BMP configures the BMP station: routers connect to Listen and stream
// their tables (RFC 7854).
type BMP struct {
	// Listen is the TCP address routers connect to, e.g. ":11019".
	Listen string `yaml:"listen"`
	// RIBs are the table kinds whose routes count as vantage points:
	// adj-rib-in-pre (the default), adj-rib-in-post, adj-rib-out-pre,
	// adj-rib-out-post, loc-rib.
	RIBs []string `yaml:"ribs"`
	// MaxSkew: a router's timestamp further than this from the time its
	// message arrived (at the station, or at the OpenBMP collector) is
	// replaced by the arrival time; 0 means 10 min, negative keeps them.
	MaxSkew time.Duration `yaml:"max_skew"`
	// Kafka reads OpenBMP raw messages from Kafka (e.g. RouteViews).
	Kafka *Kafka `yaml:"kafka"`
}

// Kafka configures the OpenBMP Kafka consumer.
type Kafka struct {
	Brokers    []string `yaml:"brokers"`
	Topics     []string `yaml:"topics"`
	TopicRegex string   `yaml:"topic_regex"` // instead of topics
	Group      string   `yaml:"group"`       // default "bgpwatch"
	FromStart  bool     `yaml:"from_start"`  // a new group starts at the oldest record, not the newest
	TLS        *struct {
		CAFile             string `yaml:"ca_file"`
		CertFile           string `yaml:"cert_file"`
		KeyFile            string `yaml:"key_file"`
		ServerName         string `yaml:"server_name"`
		InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
	} `yaml:"tls"`
	SASL *struct {
		Mechanism   string `yaml:"mechanism"` // plain, scram-sha-256, scram-sha-512
		Username    string `yaml:"username"`
		Password    string `yaml:"password"`
		PasswordEnv string `yaml:"password_env"`
	} `yaml:"sasl"`
}

// Enabled reports whether a BMP source is configured.
func (b *BMP) Enabled() bool { return b != nil && (b.Listen != "" || b.Kafka != nil) }

func (b *BMP) validate(getenvFn func(string) string) error {
	if b == nil {
		return nil
	}
	if b.Listen != "" {
		if _, _, err := net.SplitHostPort(b.Listen); err != nil {
			return invalid("bmp.listen %q: want host:port or :port", b.Listen)
		}
	}
	if _, err := b.ribSet(); err != nil {
		return invalid("bmp.ribs: %v", err)
	}
	if k := b.Kafka; k != nil {
		if len(k.Brokers) == 0 {
			return invalid("bmp.kafka.brokers is required")
		}
		if (len(k.Topics) == 0) == (k.TopicRegex == "") {
			return invalid("bmp.kafka: give topics or topic_regex (one of them)")
		}
		if k.TopicRegex != "" {
			if _, err := regexp.Compile(k.TopicRegex); err != nil {
				return invalid("bmp.kafka.topic_regex: %v", err)
			}
		}
		if s := k.SASL; s != nil {
			switch s.Mechanism {
			case "plain", "scram-sha-256", "scram-sha-512":
			default:
				return invalid("bmp.kafka.sasl.mechanism %q: want plain, scram-sha-256 or scram-sha-512", s.Mechanism)
			}
			if s.Username == "" {
				return invalid("bmp.kafka.sasl.username is required")
			}
			if s.PasswordEnv != "" {
				if getenvFn == nil {
					getenvFn = os.Getenv
				}
				pw := strings.TrimSpace(getenvFn(s.PasswordEnv))
				if pw == "" {
					return invalid("bmp.kafka.sasl: environment variable %s is empty", s.PasswordEnv)
				}
				s.Password = pw
			}
		}
		if t := k.TLS; t != nil && (t.CertFile == "") != (t.KeyFile == "") {
			return invalid("bmp.kafka.tls: cert_file and key_file go together")
		}
	}
	return nil
}

// KafkaConfig returns the OpenBMP consumer's configuration; it reads the
// TLS files.
func (b *BMP) KafkaConfig() (openbmp.Config, error) {
	k := b.Kafka
	s, _ := b.ribSet()
	c := openbmp.Config{Brokers: k.Brokers, Topics: k.Topics, TopicRegex: k.TopicRegex, Group: k.Group, FromStart: k.FromStart, RIBs: s, MaxSkew: b.MaxSkew}
	if c.Group == "" {
		c.Group = "bgpwatch"
	}
	if t := k.TLS; t != nil {
		tc := &tls.Config{ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
		if t.CAFile != "" {
			pem, err := os.ReadFile(t.CAFile)
			if err != nil {
				return c, fmt.Errorf("bmp.kafka.tls.ca_file: %w", err)
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return c, fmt.Errorf("bmp.kafka.tls.ca_file %s: no PEM certificate", t.CAFile)
			}
		}
		if t.CertFile != "" {
			cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
			if err != nil {
				return c, fmt.Errorf("bmp.kafka.tls: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		c.TLS = tc
	}
	if s := k.SASL; s != nil {
		var m sasl.Mechanism
		switch s.Mechanism {
		case "plain":
			m = plain.Auth{User: s.Username, Pass: s.Password}.AsMechanism()
		case "scram-sha-256":
			m = scram.Auth{User: s.Username, Pass: s.Password}.AsSha256Mechanism()
		case "scram-sha-512":
			m = scram.Auth{User: s.Username, Pass: s.Password}.AsSha512Mechanism()
		}
		c.SASL = m
	}
	return c, nil
}

func (b *BMP) ribSet() (bmp.RIBSet, error) {
	var s bmp.RIBSet
	for _, n := range b.RIBs {
		k, err := bmp.ParseRIB(n)
		if err != nil {
			return 0, err
		}
		s = s.With(k)
	}
	if s == 0 {
		s = bmp.DefaultRIBs
	}
	return s, nil
}

// StationConfig returns the BMP station's configuration (validated).
func (b *BMP) StationConfig() bmp.StationConfig {
	s, _ := b.ribSet()
	return bmp.StationConfig{Listen: b.Listen, RIBs: s, MaxSkew: b.MaxSkew}
}
