# Ramp's build. `make help` lists the targets.

SHELL := /usr/bin/env bash -o pipefail
BIN := $(CURDIR)/bin
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/rampdev/ramp/internal/version.Version=$(VERSION)
CONTROLLER_GEN := $(BIN)/controller-gen
STATICCHECK := $(BIN)/staticcheck
SANDBOX_DIR ?= .ramp-sandbox
# The whole suite; the in-process clusters need time on a 2-core machine.
TEST_TIMEOUT ?= 25m
TEST_FLAGS ?=
# Where the suite records the controller's requests, for the RBAC check.
REQUEST_LOG ?= $(CURDIR)/.test-requests

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: run
run: prometheus ## Start ramp-sandbox --demo: a local cluster, the controller, Prometheus and two demo rollouts (state in .ramp-sandbox/).
	$(GO) run -ldflags "$(LDFLAGS)" ./cmd/ramp-sandbox --demo --dir $(SANDBOX_DIR)

.PHONY: test
test: prometheus chromium ## Run every test (API module, unit, fuzz seeds, in-process cluster, a real Prometheus).
	cd api && $(GO) test -count=1 ./...
	rm -rf $(REQUEST_LOG) && mkdir -p $(REQUEST_LOG)
	RAMP_REQUEST_LOG=$(REQUEST_LOG) $(GO) test -count=1 -timeout $(TEST_TIMEOUT) -skip TestRolesMatchTheRequests $(TEST_FLAGS) ./...
	RAMP_REQUEST_LOG=$(REQUEST_LOG) $(GO) test -count=1 -run TestRolesMatchTheRequests ./config
	$(MAKE) test-race

# The tests that run several reconcile workers at once, and the provider
# calls off the workers, with the race detector.
RACE_TESTS := TestFleetReleasedAtOnceWithSeveralWorkers|TestSlowProviderDoesNotDelayOtherRuns|TestBlueGreenAbortedByARealPrometheusQuery

.PHONY: test-race
test-race: prometheus ## Run the concurrency tests (several workers, provider calls in the background) with the race detector.
	$(GO) test -count=1 -race -timeout $(TEST_TIMEOUT) -run '$(RACE_TESTS)' ./internal/controller/...

# The long chaos run: ramp-controller killed with SIGKILL at random for
# CHAOS_DURATION while a fleet of CHAOS_ROLLOUTS rollouts of each kind is
# updated; CHAOS_SEED replays a run (0: a new seed from the clock). `make test`
# runs a short one with a fixed seed.
CHAOS_DURATION ?= 10m
CHAOS_ROLLOUTS ?= 25
CHAOS_SEED ?= 0

.PHONY: chaos
chaos: prometheus ## Replay the seeds that broke before a fix, then kill ramp-controller (SIGKILL, seeded) at random for 10 minutes while rollouts update; fail on a broken invariant.
	@for seed in $$(grep -v '^#' internal/chaos/testdata/seeds.txt | awk 'NF {print $$1}'); do \
		echo "chaos: replaying seed $$seed"; \
		$(GO) test -count=1 -timeout 10m -run TestControllerKilledAtRandom ./internal/chaos -args -chaos.seed=$$seed || exit 1; \
	done
	$(GO) test -count=1 -v -timeout 30m -run TestControllerKilledAtRandom ./internal/chaos -args -chaos.duration=$(CHAOS_DURATION) -chaos.rollouts=$(CHAOS_ROLLOUTS) -chaos.seed=$(CHAOS_SEED)

.PHONY: prometheus
prometheus: ## Install Debian's prometheus package when the binary is missing.
	@hack/install-deb.sh prometheus

.PHONY: chromium
chromium: ## Install Debian's chromium package when the binary is missing (the dashboard's browser tests drive it headless).
	@hack/install-deb.sh chromium

.PHONY: screenshots
screenshots: prometheus chromium ## Rewrite docs/images/dashboard-*.png from the dashboard's browser tests.
	RAMP_SCREENSHOTS=$(CURDIR)/docs/images $(GO) test -count=1 -run 'TestListAndTimeline|TestAnalysisPage' ./internal/dashboard

.PHONY: build
build: ## Build ramp, kubectl-ramp, ramp-controller and ramp-sandbox into bin/.
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...
	cp $(BIN)/ramp $(BIN)/kubectl-ramp

# Where `make install` puts ramp and kubectl-ramp: GOBIN, else GOPATH/bin.
INSTALL_DIR ?= $(shell d=$$($(GO) env GOBIN); [ -n "$$d" ] && echo $$d || echo $$($(GO) env GOPATH)/bin)

.PHONY: install
install: ## Install ramp and the kubectl plugin kubectl-ramp into INSTALL_DIR (default: go env GOBIN, else GOPATH/bin).
	mkdir -p $(INSTALL_DIR)
	$(GO) build -ldflags "$(LDFLAGS)" -o $(INSTALL_DIR)/ramp ./cmd/ramp
	cp $(INSTALL_DIR)/ramp $(INSTALL_DIR)/kubectl-ramp
	@case ":$$PATH:" in *":$(INSTALL_DIR):"*) ;; *) echo "add $(INSTALL_DIR) to PATH to run ramp and kubectl ramp";; esac

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Regenerate deepcopy code and CRDs from the API types (and their copies in charts/ramp).
	cd api && $(CONTROLLER_GEN) object:headerFile=../hack/boilerplate.go.txt paths=./...
	cd api && $(CONTROLLER_GEN) crd:generateEmbeddedObjectMeta=true paths=./... output:crd:dir=../config/crd/bases
	$(CONTROLLER_GEN) rbac:roleName=ramp-controller paths="./internal/controller/...;./internal/notify/..." output:rbac:dir=config/rbac
	$(GO) run ./hack/crdtrim config/crd/bases
	$(GO) run ./hack/apidocs config/crd/bases docs/reference/api.md
	$(GO) run ./hack/argocdcm config/argocd/argocd-cm.yaml
	rm -f charts/ramp/crds/*.yaml && cp config/crd/bases/*.yaml charts/ramp/crds/
	cp config/rbac/role.yaml charts/ramp/files/clusterrole.yaml
	cp config/namespaced/role.yaml charts/ramp/files/role.yaml
	cp config/rbac/leader_election_role.yaml charts/ramp/files/leader_election_role.yaml
	cp config/grafana/ramp-rollouts.json charts/ramp/files/ramp-rollouts.json
	cp config/notifications/ramp-notification-configmap.yaml charts/ramp/files/ramp-notification-configmap.yaml

.PHONY: verify
verify: generate ## Fail when generated files are stale, code is unformatted or vet complains.
	@git add -N . >/dev/null 2>&1 || true
	@if ! git diff --quiet -- api config charts docs/reference; then \
		echo "generated files are stale; run 'make generate' and commit:"; git --no-pager diff --stat -- api config charts docs/reference; exit 1; fi
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then \
		echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	cd api && $(GO) vet ./...

.PHONY: lint
lint: $(STATICCHECK) ## Run staticcheck (configured in staticcheck.conf) and go vet.
	$(GO) vet ./...
	$(STATICCHECK) ./...
	cd api && $(STATICCHECK) ./...

.PHONY: fuzz
fuzz: ## Fuzz the validators, conditions, argument substitution, JSON paths and secret redaction for a minute each.
	$(GO) test ./internal/validation -run '^$$' -fuzz FuzzValidateRollout -fuzztime 60s
	$(GO) test ./internal/validation -run '^$$' -fuzz FuzzValidateAnalysisTemplate -fuzztime 60s
	$(GO) test ./internal/analysis -run '^$$' -fuzz FuzzConditionNeverPanics -fuzztime 60s
	$(GO) test ./internal/analysis -run '^$$' -fuzz FuzzSubstituteNeverPanics -fuzztime 60s
	$(GO) test ./internal/analysis/web -run '^$$' -fuzz FuzzSelectNeverPanics -fuzztime 60s
	$(GO) test ./internal/analysis -run '^$$' -fuzz FuzzRedactThenTruncate -fuzztime 60s

.PHONY: bench
bench: ## Print the cluster start-up time, API writes per canary step and per measurement, the cost of finished runs at rest, and other figures.
	$(GO) test -run '^$$' -bench . -benchtime 3x ./internal/cluster ./internal/controller/rollout ./internal/controller/analysisrun
	$(GO) test -run '^$$' -bench . ./internal/analysis
	$(GO) test -run '^$$' -bench GetRollout -benchtime 10x ./internal/cli

BENCH_ROLLOUTS ?= 1000
BENCH_FLAGS ?=

.PHONY: bench-scale
bench-scale: build ## Measure ramp-controller (a separate process, default flags) on a fleet of BENCH_ROLLOUTS rollouts: create, rest, release all at once.
	$(BIN)/ramp-bench --rollouts $(BENCH_ROLLOUTS) --controller $(BIN)/ramp-controller $(BENCH_FLAGS)

$(CONTROLLER_GEN): hack/tools/go.mod
	cd hack/tools && GOBIN=$(BIN) $(GO) install sigs.k8s.io/controller-tools/cmd/controller-gen

$(STATICCHECK): hack/tools/go.mod
	cd hack/tools && GOBIN=$(BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck

.PHONY: clean
clean: ## Remove build output and the sandbox's state.
	rm -rf $(BIN) $(SANDBOX_DIR)
