# Shoal build and test entry points. `make test` is what CI runs.
GO ?= go

.PHONY: test deps unit fuzz demo build

# Installs what the tests need, then runs vet, every test (unit, e2e and
# interop with real clients) and every fuzz target briefly.
test: deps
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...
	./scripts/fuzz.sh

deps:
	./scripts/install-deps.sh

unit:
	$(GO) test -short -count=1 ./...

fuzz:
	./scripts/fuzz.sh

build:
	$(GO) build -o bin/shoal ./cmd/shoal

demo:
	$(GO) run ./cmd/shoal demo
