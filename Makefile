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
TEST_FUZZTIME ?= 3s
PKGS ?= ./...

.PHONY: all build demo test deps fuzz-smoke bench vet clean

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

test: deps
	$(GO) test -timeout $(TEST_TIMEOUT) $(PKGS)
	@if [ "$(TEST_FUZZTIME)" != 0 ]; then $(MAKE) --no-print-directory fuzz-smoke FUZZTIME=$(TEST_FUZZTIME); fi

vet:
	$(GO) vet ./...

# Runs every FuzzX target briefly (FUZZTIME each); see scripts/fuzz-smoke.
fuzz-smoke:
	GO=$(GO) ./scripts/fuzz-smoke $(FUZZTIME)

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin
