# Trellis build, run and test targets. GNU make.
#
#   make build    bin/trellis and bin/plugins/*.wasm
#   make examples the example plugins, each its own module, to bin/examples/*.wasm
#   make run      build, then start a one-node cluster with all modules (data in ./data)
#   make test     build, then the whole test suite, then the race detector on core/ and config/,
#                 then every fuzz target for TEST_FUZZTIME
#   make bench    build, then the store benchmark (test/bench), the KV-over-HTTP
#                 load driver (test/loadkv; compares with etcd when it is installed and with
#                 an HTTP floor, Go servers that store nothing) and the
#                 plugin and schema-validator benchmarks (test/pluginbench)
#   make bench-deps  install Debian's etcd-server for the comparison (apt-get, root or sudo)
#   make lint     gofmt, go vet and staticcheck
#   make fuzz     every Fuzz target for FUZZTIME each (scripts/fuzz.sh)
#   make robustness  the whole fault-injection matrix of test/robustness (3- and 5-node
#                 clusters, 50-kill crash loop) and its report, test/robustness/report-<time>.md
#   make clean    remove bin/
#
# Variables: VERSION (default: git describe), TESTFLAGS (extra go test flags,
# e.g. TESTFLAGS='-run TestCluster -v'), RUNFLAGS (extra `trellis serve`
# flags), BENCHFLAGS (flags for the store benchmark), LOADFLAGS (flags for the
# KV load driver, after its -rounds 3, e.g. LOADFLAGS='-duration 5s -nodes 3
# -rounds 1'), FUZZTIME (per fuzz
# target in make fuzz: a duration, default 30s, or an input count like 5000x),
# TEST_FUZZTIME (the same in make test, default 2s), FUZZFLAGS (extra go test
# flags for fuzzing, e.g. '-parallel 1'), ROBUSTNESSFLAGS (extra go test flags
# for make robustness, e.g. -v).

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

GO ?= go
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

TESTFLAGS ?=
RUNFLAGS ?=
BENCHFLAGS ?=
LOADFLAGS ?=
# Debian packages bench-deps installs; etcd-client (etcdctl) is optional.
BENCH_DEBS ?= etcd-server
# apt-get needs root: sudo unless make already runs as root.
SUDO ?= $(shell [ "$$(id -u)" = 0 ] || echo sudo)
FUZZTIME ?= 30s
TEST_FUZZTIME ?= 2s
FUZZFLAGS ?=
ROBUSTNESSFLAGS ?=
STATICCHECK_VERSION ?= v0.8.2

# Every plugins/<name>/ with a main.go is built to bin/plugins/<name>.wasm.
PLUGINS := $(patsubst plugins/%/main.go,%,$(wildcard plugins/*/main.go))
# Every examples/plugins/<name>/ with a main.go is built, from its own
# module, to bin/examples/<name>.wasm.
EXAMPLES := $(patsubst examples/plugins/%/main.go,%,$(wildcard examples/plugins/*/main.go))

.PHONY: build plugins examples run test bench bench-deps lint fuzz robustness clean

build: plugins
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/trellis ./cmd/trellis

plugins:
	@mkdir -p bin/plugins
	@for p in $(PLUGINS); do \
		echo "GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared -o bin/plugins/$$p.wasm ./plugins/$$p"; \
		GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared -o bin/plugins/$$p.wasm ./plugins/$$p; \
	done

examples:
	@mkdir -p bin/examples
	@for p in $(EXAMPLES); do \
		echo "(cd examples/plugins/$$p && GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared -o $(CURDIR)/bin/examples/$$p.wasm .)"; \
		(cd examples/plugins/$$p && GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared -o $(CURDIR)/bin/examples/$$p.wasm .); \
	done

run: build
	./bin/trellis serve $(RUNFLAGS)

test: build
	$(GO) test -count=1 -timeout 15m $(TESTFLAGS) ./...
	$(GO) test -race -count=1 -timeout 15m $(TESTFLAGS) ./core/... ./config/...
	@for p in $(EXAMPLES); do \
		echo "(cd examples/plugins/$$p && $(GO) test -count=1 ./...)"; \
		(cd examples/plugins/$$p && $(GO) test -count=1 ./...) || exit 1; \
	done
	@$(MAKE) --no-print-directory fuzz FUZZTIME=$(TEST_FUZZTIME)

bench: build
	$(GO) run ./test/bench $(BENCHFLAGS)
	$(GO) run ./test/loadkv -bin bin/trellis -rounds 3 $(LOADFLAGS)
	$(GO) run ./test/pluginbench

# etcd for test/loadkv's comparison. On a host with systemd the package also
# starts a system etcd on 127.0.0.1:2379; the driver runs its own on free ports.
bench-deps:
	$(SUDO) apt-get update
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(BENCH_DEBS)

lint:
	@bad=$$(find . -name '*.go' -not -path './.git/*' -not -path '*/testdata/*' -not -path './bin/*' -not -path './data/*' -print0 \
		| xargs -0 -r gofmt -l); \
	if [ -n "$$bad" ]; then echo "gofmt: these files need gofmt -w:"; echo "$$bad"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

# Every fuzz target, found rather than listed, for FUZZTIME each; a failing
# input is written to the package's testdata/fuzz/<Target>/. See the script
# for how it tells a found failure from Go's fuzz-coordinator deadline race.
fuzz:
	@GO='$(GO)' FUZZTIME='$(FUZZTIME)' FUZZFLAGS='$(FUZZFLAGS)' ./scripts/fuzz.sh

# The full matrix of test/robustness: every fault on 3 and 5 nodes and the
# 50-kill crash loop (about half an hour); `go test ./...` runs its short pass.
# TRELLIS_ROBUSTNESS_RUN=regexp picks scenarios, TRELLIS_ROBUSTNESS_RATE the load.
robustness:
	@status=0; \
	echo "TRELLIS_ROBUSTNESS=full $(GO) test -count=1 -timeout 120m $(ROBUSTNESSFLAGS) ./test/robustness"; \
	TRELLIS_ROBUSTNESS=full $(GO) test -count=1 -timeout 120m $(ROBUSTNESSFLAGS) ./test/robustness || status=$$?; \
	ls -t test/robustness/report-*.md 2>/dev/null | head -1 | sed 's/^/report: /'; \
	exit $$status

clean:
	rm -rf bin
