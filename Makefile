# The two commands a newcomer needs are `make dev` and `make test`.
GO        ?= go
BIN       ?= bin/breach
TEST_TIMEOUT ?= 14m

.PHONY: all build dev demo test vet fmt-check generate check-generate bench clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/breach

# Runs the whole system (embedded Temporal, private Postgres, worker, HTTP) with a demo incident.
dev: build
	./$(BIN) dev --demo

# Everything CI checks: generated code up to date, vet, formatting, every test.
test: check-generate vet fmt-check
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '_templ.go$$')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

generate:
	$(GO) tool templ generate

# templ's generated files are committed; this fails when they are stale.
check-generate:
	$(GO) tool templ generate
	@if [ -n "$$(git status --porcelain -- '*_templ.go')" ]; then \
		echo "templ generate changed files: run 'make generate' and commit them"; \
		git status --porcelain -- '*_templ.go'; exit 1; fi

bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x ./bench/...

clean:
	rm -rf bin
