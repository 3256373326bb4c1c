package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/bgp/bmp"
)

func TestBMPConfig(t *testing.T) {
	f, err := Parse(strings.NewReader("bmp: {listen: ':11019', ribs: [loc-rib, adj-rib-in-post], max_skew: 1m}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	sc := f.BMP.StationConfig()
	if !f.Live() || sc.Listen != ":11019" || sc.RIBs != bmp.RIBSet(0).With(bmp.LocRIB).With(bmp.AdjRIBInPost) || sc.MaxSkew != time.Minute {
		t.Errorf("station config %+v", sc)
	}
	if f, _ := Parse(strings.NewReader("bmp: {listen: ':11019'}\n"), nil); f.BMP.StationConfig().RIBs != bmp.DefaultRIBs {
		t.Error("default RIB kinds")
	}
	for _, bad := range []string{"bmp: {listen: '11019'}", "bmp: {listen: ':1', ribs: [adj-rib-in]}", "bmp: {listn: ':1'}"} {
		if _, err := Parse(strings.NewReader(bad), nil); !errors.Is(err, bgpwatch.ErrInvalid) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

func TestBMPKafkaConfig(t *testing.T) {
	getenv := func(k string) string { return map[string]string{"KPW": "secret"}[k] }
	f, err := Parse(strings.NewReader(`bmp:
  kafka:
    brokers: [k1:9092, k2:9092]
    topic_regex: '^routeviews\..*\.bmp_raw$'
    sasl: {mechanism: scram-sha-512, username: u, password_env: KPW}
    tls: {server_name: kafka.example}
`), getenv)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := f.BMP.KafkaConfig()
	if err != nil {
		t.Fatal(err)
	}
	if !f.Live() || len(kc.Brokers) != 2 || kc.TopicRegex == "" || kc.Group != "bgpwatch" || kc.SASL == nil ||
		kc.SASL.Name() != "SCRAM-SHA-512" || kc.TLS == nil || kc.TLS.ServerName != "kafka.example" || kc.RIBs != bmp.DefaultRIBs {
		t.Errorf("kafka config %+v", kc)
	}
	for _, bad := range []string{
		"bmp: {kafka: {topics: [a]}}",
		"bmp: {kafka: {brokers: [k:1]}}",
		"bmp: {kafka: {brokers: [k:1], topics: [a], topic_regex: b}}",
		"bmp: {kafka: {brokers: [k:1], topic_regex: '('}}",
		"bmp: {kafka: {brokers: [k:1], topics: [a], sasl: {mechanism: gssapi, username: u}}}",
		"bmp: {kafka: {brokers: [k:1], topics: [a], sasl: {mechanism: plain, username: u, password_env: NONE}}}",
		"bmp: {kafka: {brokers: [k:1], topics: [a], tls: {cert_file: c}}}",
	} {
		if _, err := Parse(strings.NewReader(bad), getenv); !errors.Is(err, bgpwatch.ErrInvalid) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

func TestBMPKafkaTLSFiles(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	// A self-signed certificate, PEM-encoded (any will do for the pool).
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	notPEM := filepath.Join(dir, "x.pem")
	os.WriteFile(notPEM, []byte("hello"), 0o644)
	for _, c := range []struct {
		file string
		ok   bool
	}{{ca, true}, {notPEM, false}, {filepath.Join(dir, "missing.pem"), false}} {
		f, err := Parse(strings.NewReader("bmp: {kafka: {brokers: [k:1], topics: [a], tls: {ca_file: "+c.file+"}}}"), nil)
		if err != nil {
			t.Fatal(err)
		}
		kc, err := f.BMP.KafkaConfig()
		if c.ok != (err == nil) || (c.ok && (kc.TLS == nil || kc.TLS.RootCAs == nil)) {
			t.Errorf("%s: %v", c.file, err)
		}
		if err != nil && !strings.Contains(err.Error(), "bmp.kafka.tls.ca_file") {
			t.Errorf("%s: error %v does not name the setting", c.file, err)
		}
	}
}
