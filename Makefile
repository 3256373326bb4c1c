# bgpwatch — see README.md. The two commands for a fresh machine:
#   make demo    build, replay generated sample data, serve the API
#   make test    install missing Debian packages, run the whole test suite

# Go from PATH, else the official tarball location.
export PATH := $(PATH):/usr/local/go/bin
GO ?= go
BIN := bin/bgpwatch
TEST_TIMEOUT ?= 15m
FUZZTIME ?= 10s
# make test ends with a short run of every fuzz target (0 skips it).
TEST_FUZZTIME ?= 1s
PKGS ?= ./...
# staticcheck, pinned; `go run` fetches it through the module proxy once
# (checked against go.sum's checksum database) and caches the build.
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
# `make race` (run by `make test`) runs the packages with goroutines, locks
# or channels again under the race detector, with -short (the database
# restart tests and the long scenarios are left to the plain run). The race
# detector slows code 5-20 times; spent on decoding the largest sample
# archives it would double the suite's time without exercising any more
# concurrency, so RACE_SKIP leaves those out too (they ran in the plain
# run), and of cmd/bgpwatch only the serve tests run (the concurrency of the
# command is serve's; replay's is the ingest package's, raced there).
RACE_PKGS ?= ./api/... ./backfill/... ./bgp/bmp/... ./bgp/live/... ./bgp/mrt/... ./bgp/openbmp/... ./bgp/risfeed/... ./bgp/rislive/... ./fetch/... ./internal/daemontest/ ./ingest/... ./store/ ./store/storetest/ ./synth/... ./webhook/...
RACE_SKIP ?= ^(TestBgpdumpCompat|TestBzip2Paths|TestReplayRealDamage)$$/^(rrc05\.bview|route-views2\.|route-views6|rrc21\.updates|lenient)
RACE_FLAGS ?= -short

.PHONY: all build demo test deps lint race fuzz-smoke bench vet clean

all: build

deps:
	./scripts/install-deps

build:
	$(GO) build -o $(BIN) ./cmd/bgpwatch

# Generates the Kazakhstan 2022 sample archive, replays it into the embedded
# database and serves the API and page (scripts/demo; DEMO_NO_SERVE=1 stops
# after the replay).
demo: deps build
	./scripts/demo

# lint first: it is the quickest to fail. Then the tests, the race run and
# the fuzz run.
test: deps lint
	$(GO) test -timeout $(TEST_TIMEOUT) $(PKGS)
	$(MAKE) --no-print-directory race
	@if [ "$(TEST_FUZZTIME)" != 0 ]; then $(MAKE) --no-print-directory fuzz-smoke FUZZTIME=$(TEST_FUZZTIME); fi

vet:
	$(GO) vet ./...

# Fails on a file gofmt would change, on go vet's findings and on
# staticcheck's (all its default checks).
lint: vet
	@files=$$("$$($(GO) env GOROOT)/bin/gofmt" -l .); if [ -n "$$files" ]; then \
		echo "gofmt -l: these files are not gofmt'ed (gofmt -w FILE):"; echo "$$files"; exit 1; fi
	$(GO) run $(STATICCHECK) ./...

# The concurrent packages under the race detector (see RACE_PKGS).
race:
	$(GO) test -race -timeout $(TEST_TIMEOUT) $(RACE_FLAGS) -skip '$(RACE_SKIP)' $(RACE_PKGS)
	$(GO) test -race -timeout $(TEST_TIMEOUT) $(RACE_FLAGS) -run '^TestServe' ./cmd/bgpwatch

# Runs every FuzzX target briefly (FUZZTIME each); see scripts/fuzz-smoke.
fuzz-smoke:
	GO=$(GO) ./scripts/fuzz-smoke $(FUZZTIME)

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin
