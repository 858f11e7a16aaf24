# skiff — build, test and run. `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
BIN := build/bin
DATA_DIR ?= $(CURDIR)/build/data
GOFLAGS_BUILD = -trimpath -ldflags "$(shell ./hack/ldflags.sh)"
STATICCHECK_VERSION := v0.8.2
TEST_PKGS := ./internal/... ./cmd/...
# helm reports the version of the helm.sh/helm/v4 module it is built from.
HELM_VERSION = $(shell $(GO) list -m -f '{{.Version}}' helm.sh/helm/v4)

IMAGES := build/images
# Static binaries for the images: no libc in them.
GO_BUILD_STATIC = CGO_ENABLED=0 $(GO) build -trimpath

.PHONY: help build run deps test lint unit integration e2e bench clean openapi images conformance-images conformance conformance-bin

help:
	@echo "make run         - build, start skiff server and deploy the example model from its manifests"
	@echo "make test        - lint, integration (every unit test included) and e2e tests (what CI runs)"
	@echo "make lint        - gofmt, go mod tidy, generated OpenAPI up to date, go vet, staticcheck"
	@echo "make unit        - fast tests only (-race -short): no API server, root or containerd"
	@echo "make integration - every test without -short (-race): also those against a real API server"
	@echo "                   (internal/testserver), as root and with containerd"
	@echo "make e2e         - e2e tests only (upstream kubectl against a real skiff server)"
	@echo "make build       - build skiff, kubectl, helm, model-server and loadgen into $(BIN)"
	@echo "make images      - build the pause and model-server images into $(IMAGES)/*.tar (for --runtime=cri)"
	@echo "make conformance-images - build the images the Kubernetes conformance suite runs into"
	@echo "                   $(CONFORMANCE_IMAGES)/*.tar, tagged as the suite names them (skiff image load)"
	@echo "make openapi     - regenerate internal/apiserver/openapi (after a k8s.io/api update)"
	@echo "make bench       - benchmarks; figures go to BENCHMARKS.md"
	@echo "make conformance - the Kubernetes [Conformance] suite against skiff with containerd; writes CONFORMANCE.md"
	@echo "                   (FOCUS=regex SKIP=regex run a part)"

build:
	$(GO) build $(GOFLAGS_BUILD) -o $(BIN)/skiff ./cmd/skiff
	$(GO) build $(GOFLAGS_BUILD) -o $(BIN)/kubectl ./cmd/kubectl
	$(GO) build -trimpath -ldflags "-X helm.sh/helm/v4/internal/version.version=$(HELM_VERSION)" -o $(BIN)/helm ./cmd/helm
	$(GO_BUILD_STATIC) -ldflags "-s -w" -o $(BIN)/model-server ./cmd/model-server
	$(GO_BUILD_STATIC) -ldflags "-s -w" -o $(BIN)/loadgen ./cmd/loadgen

# images writes pause.tar and model-server-v1/-v2.tar (docker-archive) from
# static binaries and Debian's static busybox.
images:
	@test -x /bin/busybox || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null; }
	$(GO_BUILD_STATIC) -ldflags "-s -w" -o $(IMAGES)/bin/pause ./cmd/pause
	$(GO_BUILD_STATIC) -ldflags "-s -w" -o $(IMAGES)/bin/fetch ./cmd/fetch
	$(GO_BUILD_STATIC) -ldflags "-s -w" -o $(IMAGES)/bin/admission-webhook ./cmd/admission-webhook
	$(GO_BUILD_STATIC) -ldflags "-s -w" -o $(IMAGES)/bin/aggregated-api ./cmd/aggregated-api
	$(GO_BUILD_STATIC) -ldflags "-s -w -X main.version=v1" -o $(IMAGES)/bin/model-server-v1 ./cmd/model-server
	$(GO_BUILD_STATIC) -ldflags "-s -w -X main.version=v2" -o $(IMAGES)/bin/model-server-v2 ./cmd/model-server
	$(GO) run ./hack/mkimage --bin-dir $(IMAGES)/bin --busybox /bin/busybox --out $(IMAGES)

CONFORMANCE_IMAGES := build/conformance-images
# conformance-images writes the images the conformance suite of the
# k8s.io/kubernetes module in go.mod runs, tagged with the names it asks for
# (hack/conformance/IMAGES.md): agnhost, nonewprivs and sample-apiserver from
# their source (go.mod's tool lines keep their dependencies), etcd from the
# etcd server module, busybox and bash from Debian's static builds, pause from
# cmd/pause, and static Go substitutes (test/images) for the rest. Nothing is
# pulled.
conformance-images:
	@test -x /bin/busybox -a -x /bin/bash-static || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static bash-static >/dev/null; }
	$(GO_BUILD_STATIC) -ldflags "-s -w" -o $(CONFORMANCE_IMAGES)/bin/agnhost k8s.io/kubernetes/test/images/agnhost
	$(GO_BUILD_STATIC) -ldflags "-s -w" -o $(CONFORMANCE_IMAGES)/bin/nonewprivs k8s.io/kubernetes/test/images/nonewprivs
	$(GO_BUILD_STATIC) -ldflags "-s -w" -o $(CONFORMANCE_IMAGES)/bin/sample-apiserver k8s.io/sample-apiserver
	$(GO_BUILD_STATIC) -ldflags "-s -w" -o $(CONFORMANCE_IMAGES)/bin/etcd ./test/images/etcd
	$(GO_BUILD_STATIC) -ldflags "-s -w" -o $(CONFORMANCE_IMAGES)/bin/pause ./cmd/pause
	$(GO_BUILD_STATIC) -ldflags "-s -w" -o $(CONFORMANCE_IMAGES)/bin/nettools ./test/images/nettools
	$(GO_BUILD_STATIC) -ldflags "-s -w" -o $(CONFORMANCE_IMAGES)/bin/webserver ./test/images/webserver
	$(GO) run ./hack/conformance/images --bin-dir $(CONFORMANCE_IMAGES)/bin --busybox /bin/busybox --bash /bin/bash-static \
	  --kubernetes-dir "$$($(GO) list -m -f '{{.Dir}}' k8s.io/kubernetes)" --out $(CONFORMANCE_IMAGES)

run: deps build images
	./hack/run.sh "$(DATA_DIR)"

# deps installs what the tests need from Debian's packages when missing:
# etcd (external-etcd tests), containerd with runc and the CNI plugins (the
# cri runtime), iptables (CNI portmap/masquerade), busybox-static and
# bash-static (images).
DEB_DEPS := etcd:etcd-server containerd:containerd runc:runc /usr/lib/cni/bridge:containernetworking-plugins iptables:iptables /bin/busybox:busybox-static /bin/bash-static:bash-static nft:nftables
deps:
	@missing=""; for d in $(DEB_DEPS); do cmd=$${d%%:*}; pkg=$${d#*:}; \
	  if [ "$${cmd#/}" != "$$cmd" ]; then [ -e "$$cmd" ] || missing="$$missing $$pkg"; \
	  else command -v "$$cmd" >/dev/null || missing="$$missing $$pkg"; fi; done; \
	if [ -n "$$missing" ]; then echo "installing$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi

# The test tiers: unit is the fast tier (-short, no build tag; the tests that
# need a real API server (internal/testserver), root or containerd are in
# files tagged `integration`, or skip themselves under -short); integration
# builds with -tags integration and runs without -short, so it is every test,
# the unit tests included; e2e runs skiff's binaries. test (CI) runs lint,
# integration and e2e: integration already runs every unit test under -race,
# so running the unit tier first as well would only repeat it.
test: deps lint integration e2e

# lint fails on an unformatted file, an untidy go.mod/go.sum, or generated
# OpenAPI definitions that differ from what hack/update-openapi.sh makes now.
lint:
	./hack/verify-gofmt.sh
	$(GO) mod tidy -diff
	./hack/verify-openapi.sh
	$(GO) vet -tags integration ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) -tags integration ./...

# -p 4 on 2 cores: a test binary that waits (on a child process, a timer)
# leaves its core to the next link.
unit:
	$(GO) test -race -short -count=1 -p 4 $(TEST_PKGS)

integration:
	$(GO) test -race -count=1 -tags integration $(TEST_PKGS)

# e2e runs the real-runtime suites too: containerd must be there (CI).
# The tests with simulated nodes only run 3 at a time (t.Parallel), after the
# ones with real nodes. E2E_FLAGS adds go test flags (-v, -run ...).
e2e: build images conformance-images
	SKIFF_BIN=$(CURDIR)/$(BIN)/skiff KUBECTL_BIN=$(CURDIR)/$(BIN)/kubectl HELM_BIN=$(CURDIR)/$(BIN)/helm SKIFF_IMAGES=$(CURDIR)/$(IMAGES) \
	SKIFF_CONFORMANCE_IMAGES=$(CURDIR)/$(CONFORMANCE_IMAGES) \
	MODEL_SERVER_BIN=$(CURDIR)/$(IMAGES)/bin/model-server-v2 FETCH_BIN=$(CURDIR)/$(IMAGES)/bin/fetch ADMISSION_WEBHOOK_BIN=$(CURDIR)/$(IMAGES)/bin/admission-webhook SKIFF_REQUIRE_CONTAINERD=1 \
	LOADGEN_BIN=$(CURDIR)/$(BIN)/loadgen $(GO) test -count=1 -timeout 40m -parallel 3 $(E2E_FLAGS) ./test/e2e/...

bench: deps build images
	./hack/bench.sh

openapi:
	./hack/update-openapi.sh

# The conformance suite: e2e.test and the ginkgo CLI of the Kubernetes
# release our k8s.io modules are at, from a module of their own
# (hack/conformance/tools) so that their dependencies stay out of go.mod.
# hack/conformance.sh starts a server, runs the [Conformance] tests (FOCUS
# and SKIP narrow them) and writes CONFORMANCE.md.
CONFORMANCE := build/conformance
CONFORMANCE_MOD := hack/conformance/tools/go.mod hack/conformance/tools/go.sum
conformance: deps
	./hack/conformance.sh

conformance-bin: $(CONFORMANCE)/e2e.test $(CONFORMANCE)/ginkgo

$(CONFORMANCE)/e2e.test: $(CONFORMANCE_MOD)
	cd hack/conformance/tools && $(GO) test -c -trimpath -o $(CURDIR)/$@ k8s.io/kubernetes/test/e2e

$(CONFORMANCE)/ginkgo: $(CONFORMANCE_MOD)
	cd hack/conformance/tools && $(GO) build -trimpath -o $(CURDIR)/$@ github.com/onsi/ginkgo/v2/ginkgo

clean:
	rm -rf build
