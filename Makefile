# gatecrash — see README.md. Every target works on a machine with only Go installed;
# end-to-end tests and benchmarks that need nginx & co. skip without them (CI sets
# GATECRASH_E2E=require so they fail instead).
GO       ?= go
BIN      := bin/gatecrash
# The version stamped into the binary (gatecrash --version): the git description of the
# checkout, or "dev" outside git.
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# An execution count, not a duration: with a duration, Go 1.26's fuzz coordinator can report
# "context deadline exceeded" at the end of the window with no failing input (golang/go#75804,
# fixed in Go 1.27). A count has no deadline to race. About 3-10 s per target here.
FUZZTIME ?= 20000x
FUZZ_TARGETS := faultserver:FuzzReadHead faultserver:FuzzServeConn faultserver:FuzzServeH2 faultserver:FuzzParseFaultSpec \
                loadgen:FuzzReadResponse internal/http1:FuzzDiscardChunked internal/http1:FuzzReadResponseHead \
                internal/h2wire:FuzzRequestHeaders

.PHONY: all build man test unit rare fuzz lint matrix matrix-check compose-config bench bench-go bench-serve bench-load demo demo-faultserver report-example readme-samples clean

all: build

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/gatecrash

## man: man pages of every command (cobra/doc) into bin/man; read one with man -l bin/man/gatecrash-load.1
man: build
	$(BIN) man bin/man

## test: lint, all tests with the race detector (end-to-end included), the rare-event
## accounting tests without it (3M requests on the built binaries), the conformance matrix's
## pinned cells against the real proxies, then a short fuzz run
test: lint unit rare matrix-check fuzz

# TestUvicornRaceThroughNginx first, alone: its race window is about one link round trip, and
# other packages' tests running beside it (go test runs two packages at once here) shift the
# load's timing enough to miss it (no 502 in 640 requests, reproduced on the code before
# and after 2026-12-04's seventh session).
unit:
	$(GO) test -race -count=1 -run '^TestUvicornRaceThroughNginx$$' ./scenarios
	$(GO) test -race -count=1 -skip '^TestUvicornRaceThroughNginx$$' ./...

rare:
	$(GO) test -count=1 -run '^TestRareEvent' ./cmd/gatecrash

fuzz:
	@for pt in $(FUZZ_TARGETS); do \
		pkg=$${pt%%:*}; t=$${pt#*:}; \
		echo "fuzz $$pkg $$t: $(FUZZTIME)"; \
		$(GO) test -run='^$$' -fuzz="^$$t$$" -fuzztime=$(FUZZTIME) ./$$pkg || exit 1; \
	done

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	@$(GO) mod tidy -diff >/dev/null || { echo "go.mod/go.sum not tidy: run go mod tidy"; exit 1; }

## bench: Go micro-benchmarks, then the side-by-side scripts in bench/
bench: bench-go bench-serve bench-load

bench-go:
	$(GO) test -run='^$$' -bench=. -benchmem ./...

bench-serve: build
	bench/serve-vs-nginx.sh

bench-load: build
	bench/load-vs-wrk-hey.sh

## matrix: regenerate docs/conformance.{md,json,html} from a real run here (about 4 minutes on 2 cores:
## four cells at a time), then check the pins against it; the binary carries conformance.json
## (gatecrash advise), so rebuild after it
matrix: build
	$(BIN) matrix --budget 8s --out bin/matrix
	cp bin/matrix/conformance.md bin/matrix/conformance.json bin/matrix/conformance.html docs/
	$(GO) test -count=1 -run TestConformanceDocAgreesWithPins ./cmd/gatecrash

## matrix-check: run the pinned cells of the matrix (docs/conformance-pins.yaml) briefly and fail
## when one differs; a proxy that is not installed is skipped (fails under GATECRASH_E2E=require)
matrix-check: build
	$(BIN) matrix --check docs/conformance-pins.yaml --only-pinned --budget 2s --parallel 2 --out bin/matrix-check

## demo: the main job — reproduce the keep-alive race through the embedded proxy, then fix it
demo: build
	$(BIN) run keepalive-race

## readme-samples: rewrite the README's output samples (<!-- sample NAME --> blocks) from real
## runs, its proxy variable tables from the kinds' records, and docs/architecture.md's import
## table from the code; make test fails when one no longer matches what the code prints (about 35 s)
readme-samples:
	$(GO) test -count=1 -run 'TestReadmeSamples|TestReadmeProxyVarTables|TestArchitectureDocIsTheCode' ./cmd/gatecrash -args -update-samples

## report-example: regenerate docs/report-example.png, the README's picture of the HTML report,
## from a real run of the main job (headless Chromium at 1400 px; about 35 s)
report-example: build
	rm -rf bin/report-example
	$(BIN) run keepalive-race --out bin/report-example
	chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,2600 \
		--screenshot=$(CURDIR)/docs/report-example.png file://$(CURDIR)/bin/report-example/report.html

## demo-faultserver: the fault server answering, misbehaving on request, and counting (bash only)
demo-faultserver: build
	scripts/demo-faultserver.sh $(BIN)

clean:
	rm -rf bin bench/out

## compose-config: render docker-compose's nginx configs from the keepalive-race and relay-app
## scenarios with gatecrash's own templates (a test fails when the committed files drift from this)
compose-config:
	@for v in default fixed; do \
		$(GO) run ./cmd/gatecrash scenarios render keepalive-race --variant $$v --proxy nginx --origin origin:9001 \
			--listen 0.0.0.0:8080 --dir /tmp --log-dir /var/log/nginx > deploy/compose/nginx-$$v.conf || exit 1; \
	done
	$(GO) run ./cmd/gatecrash scenarios render relay-app --variant rare-reset --proxy nginx --origin relay:9001 \
		--listen 0.0.0.0:8080 --dir /tmp --log-dir /var/log/nginx > deploy/compose/nginx-relay.conf
	@echo "rendered deploy/compose/nginx-default.conf, nginx-fixed.conf and nginx-relay.conf"
