# sitescreen — the targets a new user can guess.
#   make demo         create .venv, screen the built-in (synthetic) demo region, write demo-out/
#   make test         create .venv, install headless Chromium if missing, run the whole suite
#   make bench        national-scale benchmark (1,000,000 sites), ratios against the alternatives
#   make bench-quick  the same at 100,000 sites
#   make bench-maps   map size and time-to-interactive in headless Chromium (demo, 10k, 100k sites)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all venv demo test browser bench bench-quick bench-maps clean

all: test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dask,bench]'
	touch $(STAMP)

venv: $(STAMP)

# Debian's chromium for the browser tests (Playwright drives it; no browser download).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium >/dev/null; }

demo: $(STAMP)
	$(BIN)/sitescreen demo --out demo-out --overwrite

test: $(STAMP) browser
	$(BIN)/python -m pytest

bench: $(STAMP) browser
	$(BIN)/python bench/run.py --sites 1000000
	$(BIN)/python bench/maps.py

bench-maps: $(STAMP) browser
	$(BIN)/python bench/maps.py

bench-quick: $(STAMP)
	$(BIN)/python bench/run.py --sites 100000 --quick

clean:
	rm -rf $(VENV) demo-out test-artifacts bench/results .pytest_cache
