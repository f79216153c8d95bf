# One entry point for set-up, code generation, running, testing and measuring.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
GEN_STAMP := gen/.generated
COMMANDS_STAMP := $(VENV)/.commands
PROTOS := $(shell find protos -name '*.proto')
LOCK := requirements/dev.lock
# gRPC's socket path with fewer thread hops a call, as every process runs it (kit/grpc_io.py): the
# tests' in-process servers and the benchmarks run it too.
export GRPC_EXPERIMENTS ?= -event_engine_client,-event_engine_listener
# What `make buf-breaking` compares the protos with: the image of the published protos (made by
# `make buf-publish`), or a git revision.
BUF_AGAINST ?= protos/published/v1.binpb
# The running gateway whose /openapi.json `make rest-client` generates a REST client from.
OPENAPI_URL ?= http://localhost:8080/openapi.json

.PHONY: setup gen run test test-fast test-unit test-contract test-integration test-e2e lint buf-lint buf-breaking \
  buf-publish client rest-client \
  browser lock secrets bench bench-bus bench-expiry demo load clean

setup: $(STAMP) $(GEN_STAMP) $(COMMANDS_STAMP)

# Installs exactly what the lock file pins, hashes checked; the project itself runs from the
# checkout (a .pth file puts it and gen/ on the path), so nothing is built or installed from it.
$(STAMP): $(LOCK)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --require-hashes --no-deps -r $(LOCK)
	$(PY) -c 'import site, pathlib; pathlib.Path(site.getsitepackages()[0], "travel_paths.pth").write_text("$(CURDIR)\n$(CURDIR)/gen\n")'
	touch $@

# The project's commands ([project.scripts], e.g. travel-ops) as small scripts in .venv/bin: the
# project itself is not installed, so pip does not write them.
$(COMMANDS_STAMP): $(STAMP) pyproject.toml tools/venv_commands.py
	$(PY) tools/venv_commands.py $(VENV)
	touch $@

# Refresh the lock files from pyproject.toml (uv, hashes included): runtime only for the image's
# final stage, runtime + code generation for its build stage, everything for development.
UV_COMPILE = $(VENV)/bin/uv pip compile pyproject.toml -q --generate-hashes --universal --python-version 3.11 $(ARGS)
lock: $(STAMP)
	$(UV_COMPILE) -o requirements/runtime.lock
	$(UV_COMPILE) --extra codegen -o requirements/codegen.lock
	$(UV_COMPILE) --extra dev -o requirements/dev.lock

# Generated code lives in gen/ only, is never edited and is never committed.
gen: $(GEN_STAMP)

$(GEN_STAMP): $(STAMP) $(PROTOS)
	$(PY) protos/generate.py
	touch $@

# Every file docker-compose.yml mounts, under ./secrets (never overwritten; ARGS=--force renews).
secrets: $(STAMP)
	$(PY) -m kit.secrets secrets $(ARGS)

# The web page's browser tests drive the machine's Chromium (Playwright never downloads one).
browser:
	@./tools/ensure_chromium.sh

run: setup
	$(PY) -m launcher

# Every tier in turn, each announced, with its five slowest tests listed at the end and a hung
# test stopped by its tier's timeout (seconds per test, its fixtures' set-up included).
test: setup lint buf-breaking browser
	@$(MAKE) --no-print-directory test-unit test-contract test-integration test-e2e

# The edit-test loop: lint, unit, contract and integration, no processes started.
test-fast: setup lint
	@$(MAKE) --no-print-directory test-unit test-contract test-integration

TIER := $(PY) -m pytest -q --durations=5 --durations-min=0.5

test-unit: setup
	@printf '\n== unit tests: pure logic, no I/O ==\n'
	$(TIER) --timeout=60 tests/unit

test-contract: setup
	@printf '\n== contract tests: each port on its fake and on every real adapter ==\n'
	$(TIER) --timeout=120 tests/contract

test-integration: setup
	@printf '\n== integration tests: one real adapter at a time ==\n'
	$(TIER) --timeout=300 tests/integration

test-e2e: setup browser
	@printf '\n== end-to-end tests: every process, through the gateway ==\n'
	$(TIER) --timeout=900 tests/e2e

lint: setup buf-lint
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

buf-lint: $(GEN_STAMP)
	$(VENV)/bin/buf lint

# Wire compatibility of the protos with what published clients were built from (additions pass).
buf-breaking: $(GEN_STAMP)
	BUF=$(VENV)/bin/buf protos/breaking.sh $(BUF_AGAINST)

# Record the committed protos as published, when a client version is released; commit the image.
buf-publish: $(GEN_STAMP)
	BUF=$(VENV)/bin/buf protos/publish.sh

# The Python client wheel (travel-agency-client) from the generated code of every proto, into dist/.
client: $(GEN_STAMP)
	$(VENV)/bin/uv build -q --wheel clients/python -o dist
	@ls dist/travel_agency_client-*.whl

# A REST client generated from a running gateway's /openapi.json, into dist/rest-client (never committed).
rest-client: $(STAMP)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/uv tool run --from 'openapi-python-client>=0.29,<0.30' \
	  openapi-python-client generate --url $(OPENAPI_URL) --meta uv --output-path dist/rest-client --overwrite

# Every benchmark in one run; rewrites the performance table in docs/performance.md.
bench: setup
	$(PY) -m tools.bench $(ARGS)

bench-bus: setup
	$(PY) -m tools.bus_bench

bench-expiry: setup
	$(PY) -m tools.expiry_bench

clean:
	rm -rf $(VENV) gen .data .pytest_cache .mypy_cache .ruff_cache

# The demo and the load/chaos driver (docs/operations.md). Load options as make variables,
# e.g. `make load CUSTOMERS=16 DURATION=60 FAILURE_RATE=0.3 KILL_EVERY=10`, or any flag in ARGS.
demo: setup
	$(PY) -m tools.demo $(ARGS)

LOAD_FLAGS = $(if $(CUSTOMERS),--customers $(CUSTOMERS)) $(if $(DURATION),--duration $(DURATION)) \
  $(if $(BOOKINGS),--bookings $(BOOKINGS)) $(if $(REPLICAS),--replicas $(REPLICAS)) \
  $(if $(DATABASE_URL),--database-url $(DATABASE_URL)) $(if $(REDIS_URL),--redis-url $(REDIS_URL)) \
  $(if $(FAILURE_RATE),--failure-rate $(FAILURE_RATE)) $(if $(AMBIGUOUS_RATE),--ambiguous-rate $(AMBIGUOUS_RATE)) \
  $(if $(LATENCY_MS),--latency-ms $(LATENCY_MS)) \
  $(if $(WEBHOOK_DUPLICATE_RATE),--webhook-duplicate-rate $(WEBHOOK_DUPLICATE_RATE)) \
  $(if $(WEBHOOK_DELAY_MS),--webhook-delay-ms $(WEBHOOK_DELAY_MS)) \
  $(if $(KILL_EVERY),--kill-every $(KILL_EVERY)) $(if $(KILL_PAUSE),--kill-pause $(KILL_PAUSE)) \
  $(if $(KILL_TARGETS),--kill-targets $(KILL_TARGETS)) $(if $(SEED),--seed $(SEED))

load: setup
	$(PY) -m tools.load $(LOAD_FLAGS) $(ARGS)
