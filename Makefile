# Set-up is part of every target: a fresh machine needs only Node (any version) and npm.
# `npm ci` brings Node.js 24 (the `node` package) into node_modules/.bin, which then comes first
# on PATH for everything below.
SHELL := /bin/bash
SYSTEM_PATH := $(PATH)
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
INSTALLED := node_modules/.portcullis-installed

.PHONY: install run test typecheck
install: $(INSTALLED)

$(INSTALLED): package.json package-lock.json
	env PATH="$(SYSTEM_PATH)" npm ci --no-audit --no-fund
	@touch $@

## Runs Portcullis in standalone mode on the example manifests.
run: install
	bin/portcullis serve --manifests deploy/examples

typecheck: install
	tsc -p tsconfig.json

## Runs every test: typecheck, unit, golden, contract and integration suites. The first run
## builds kube-apiserver + etcd from Debian's sources (about 4 minutes) into ~/.cache/portcullis.
test: typecheck
	set -o pipefail && assets="$$(bash test/kube/build-binaries.sh | tail -1)" && PORTCULLIS_KUBE_ASSETS="$$assets" vitest run
