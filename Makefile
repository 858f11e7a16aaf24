# skiff — build, test and run. `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
BIN := build/bin
DATA_DIR ?= $(CURDIR)/build/data
GOFLAGS_BUILD = -trimpath -ldflags "$(shell ./hack/ldflags.sh)"
STATICCHECK_VERSION := v0.8.2
UNIT_PKGS := ./internal/... ./cmd/...

.PHONY: help build run deps test lint unit e2e bench clean openapi

help:
	@echo "make build   - build skiff and kubectl into $(BIN)"
	@echo "make run     - build, start skiff server and deploy the example model from its manifests"
	@echo "make test    - vet, lint, unit+integration tests (-race) and e2e tests"
	@echo "make e2e     - e2e tests only (upstream kubectl against a real skiff server)"
	@echo "make bench   - benchmarks; figures go to BENCHMARKS.md"

build:
	$(GO) build $(GOFLAGS_BUILD) -o $(BIN)/skiff ./cmd/skiff
	$(GO) build $(GOFLAGS_BUILD) -o $(BIN)/kubectl ./cmd/kubectl

run: build
	./hack/run.sh "$(DATA_DIR)"

# deps installs what the tests need from Debian's packages when missing.
deps:
	@command -v etcd >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server >/dev/null; }

test: deps lint unit e2e

lint:
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

unit:
	$(GO) test -race -count=1 $(UNIT_PKGS)

e2e: build
	SKIFF_BIN=$(CURDIR)/$(BIN)/skiff KUBECTL_BIN=$(CURDIR)/$(BIN)/kubectl $(GO) test -count=1 -timeout 20m ./test/e2e/...

bench: build
	./hack/bench.sh

openapi:
	./hack/update-openapi.sh

clean:
	rm -rf build
