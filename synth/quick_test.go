package synth

import (
	"context"
	"os"
	"testing"
	"time"
)

func TestQuickGen(t *testing.T) {
	name := os.Getenv("SC")
	sc, _ := Builtin(name)
	t0 := time.Now()
	tr, err := Generate(context.Background(), sc, "/tmp/synthtry/"+name, Options{Only: os.Getenv("ONLY")})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %d files in %v", name, len(tr.Files), time.Since(t0))
}
