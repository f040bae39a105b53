# Runyard's contract: `make test` is what CI runs; `make run` is the local stack.
# Both need only what the machine image has (Go, Java 17, google-cloud-cli emulators).

GO        ?= go
PORT      ?= 8080
BIN       := bin
RUNYARD   := $(BIN)/runyard
# Every test run starts the Firestore and Pub/Sub emulators and stripe-mock once, through
# `runyard testenv` (STRIPE_MOCK_URL; stripe-mock is built at its pinned version on first use).
TESTENV   := $(RUNYARD) testenv --
STATICCHECK_VERSION := v0.8.2
BENCH     ?= .
BENCHTIME ?= 1s
COUNT     ?= 6
FUZZTIME  ?= 20s

.PHONY: all build test run bench fuzz lint fmt clean

all: build

build:
	$(GO) build -o $(RUNYARD) ./functions/cmd/runyard

## test: vet, then every test with the race detector against fresh emulators.
test: build
	$(GO) vet ./...
	$(TESTENV) $(GO) test -race -count=1 ./...

## run: the local stack on 127.0.0.1:$(PORT): emulators, every function under /<function>/.
run: build
	PORT=$(PORT) $(RUNYARD) dev

## bench: every benchmark, $(COUNT) times, for benchstat (make bench > new.txt).
bench: build
	$(TESTENV) $(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -benchtime $(BENCHTIME) -count $(COUNT) ./...

## fuzz: each fuzz target for $(FUZZTIME).
fuzz: build
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; $(TESTENV) $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf $(BIN)
