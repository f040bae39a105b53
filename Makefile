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
# make images: one image per buildpacks/<name>/project.toml, tagged $(IMAGE_PREFIX)<name>:$(IMAGE_TAG).
BUILDER      ?= gcr.io/buildpacks/builder
IMAGE_PREFIX ?= runyard-
IMAGE_TAG    ?= dev
IMAGES       := $(patsubst buildpacks/%/project.toml,%,$(wildcard buildpacks/*/project.toml))

.PHONY: all build test run bench fuzz lint fmt clean infra-check images

all: build

build:
	$(GO) build -o $(RUNYARD) ./functions/cmd/runyard

## test: vet, then every test with the race detector against fresh emulators.
test: build
	$(GO) vet ./...
	$(TESTENV) $(GO) test -race -count=1 ./...

## infra-check: build the pinned OpenTofu and Google provider once (cached outside the repo,
## about 9 minutes with empty Go caches on 2 cores), then tofu fmt -check, validate and test, offline (infra/README.md).
infra-check:
	$(GO) test -tags infracheck -count=1 -run '^TestInfraCheck$$' -v ./infra/

## images: build every function image (and the ingress sidecar) with pack; needs a Docker engine.
images:
	@command -v pack >/dev/null 2>&1 || { echo "make images: pack is not installed (https://buildpacks.io/docs/tools/pack/); Cloud Build builds the images without it: gcloud builds submit --config cloudbuild.yaml"; exit 1; }
	@docker info >/dev/null 2>&1 || { echo "make images: no Docker engine answers (docker info failed); pack builds images in one. Cloud Build builds them without it: gcloud builds submit --config cloudbuild.yaml"; exit 1; }
	@set -e; for n in $(IMAGES); do \
	  echo "== $$n"; pack build $(IMAGE_PREFIX)$$n:$(IMAGE_TAG) --builder $(BUILDER) --descriptor buildpacks/$$n/project.toml --path .; \
	done

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
