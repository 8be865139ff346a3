# The two commands a new engineer needs: `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# The demo data set: the real UCDP GED extract beside the checkout (see ../shared/data).
DATA_DIR ?= $(or $(CEASEFIRE_DATA_DIR),../shared/data)
DEMO_EVENTS ?= $(DATA_DIR)/events/ucdp_ged_syria_2016-01_2017-01.csv
# The source that vouches for the demo events: they are imported as verified by it, so the
# public map, tiles and digests (verified incidents only) show them.
DEMO_VERIFIED_BY ?= UCDP GED
# Digests for the demo events' days under the ceasefire (the extract ends on 2017-01-31), so
# monitors and the public have days to browse.
DEMO_DIGESTS_FROM ?= 2016-12-30
DEMO_DIGESTS_TO ?= 2017-01-31

.PHONY: provision run serve migrate seed demo-data test test-fast test-reliability bench rehearse-scale lint openapi clean

provision:
	@bash .ci/provision

migrate: provision
	$(VENV)/ceasefire migrate

seed: migrate
	$(VENV)/ceasefire seed

## Import the demo events through the API's own path, verified by their source (idempotent:
## a re-run adds nothing, and never overrides a verifier's verdict)
demo-data: seed
	$(VENV)/ceasefire import ucdp $(DEMO_EVENTS) --verified-by "$(DEMO_VERIFIED_BY)"
	$(VENV)/ceasefire digest backfill --from $(DEMO_DIGESTS_FROM) --to $(DEMO_DIGESTS_TO)

## Set up everything, load reference and demo data, and serve on http://$(HOST):$(PORT), with
## the scheduler (daily digests, webhook deliveries) as a background process beside the API;
## it stops when the API stops.
## Links name the address served, unless the environment configures a public one.
run: export CEASEFIRE_PUBLIC_BASE_URL ?= http://$(HOST):$(PORT)
run: demo-data
	@$(VENV)/ceasefire scheduler & scheduler=$$!; \
	trap 'kill -TERM $$scheduler 2>/dev/null; wait $$scheduler 2>/dev/null' EXIT; \
	$(VENV)/ceasefire serve --host $(HOST) --port $(PORT)

## pytest-xdist workers for `make test` and `make test-fast`; each worker has databases of its
## own (tests/conftest.py). 3 on this 2-core machine: a worker waits on PostgreSQL (or on its
## fuzzing server) for much of each test, so one more worker than cores keeps both busy; 2 and
## 4 are not yet compared on a quiet machine. WORKERS=0 runs everything in one process.
WORKERS ?= 3

## Set up everything, then lint and run the whole test suite against real PostGIS: every test
## on $(WORKERS) workers (fuzzing included), then the tests marked `serial` (fixed ports,
## timing) alone. 5 min 37 s for 1,638 tests on a nearly quiet machine (README, Two commands)
test: provision lint
	CEASEFIRE_REQUIRE_BROWSER=1 $(VENV)/pytest -n $(WORKERS) --dist loadgroup -m "not serial"
	CEASEFIRE_REQUIRE_BROWSER=1 $(VENV)/pytest -m serial

## The everyday loop: lint and every test not marked `live` (no fuzzing, no server process,
## no scheduler process, no browser), on $(WORKERS) workers; run `make test` before pushing.
## 2 min 26 s for 1,614 tests, 1.8 times faster than one process (README, Two commands)
test-fast: provision lint
	$(VENV)/pytest -q -n $(WORKERS) --dist loadgroup -m "not live"

## Fault injection: restarts PostgreSQL and kills the server mid-run (never beside other tests)
test-reliability: provision
	$(VENV)/pytest -o addopts="-ra --strict-markers --strict-config" -s tests/reliability

## Every benchmark (ingest, map beside pygeoapi and tipg, digest, mixed load) on the standard
## 1,000,000-incident data set (made once, then reused); one results file, bench/results/latest.md
bench: provision
	$(VENV)/python -m bench.run_all

## The multi-node rehearsal (docs/scaling.md): a primary, its streaming replica, PgBouncer,
## two API processes behind nginx, built on this machine from Debian's packages (ports
## 5440-5441, 6440, 8300-8310), loaded beside one process, then faulted (replica stopped,
## primary crashed, an API process killed); prints the table and `acknowledged writes lost`,
## appends it to bench/results/scale.md and takes everything down. About 8 minutes; as root.
rehearse-scale: provision
	$(VENV)/python -m bench.rehearse_scale

lint:
	$(VENV)/ruff check service tests migrations bench
	$(VENV)/ruff format --check service tests migrations bench

openapi: provision
	$(VENV)/ceasefire openapi > openapi/openapi.json

clean:
	rm -rf .venv .pytest_cache .ruff_cache
