# sitescreen — the targets a new user can guess.
#   make demo         create .venv, screen the built-in (synthetic) demo region, write demo-out/
#   make test         create .venv, install headless Chromium if missing, run the whole suite
#   make bench        national-scale benchmark (1,000,000 sites), ratios against the alternatives
#   make bench-quick  the same at 100,000 sites
#   make bench-maps   map size and time-to-interactive in headless Chromium (demo, 10k, 100k sites)
#   make qgis-check   open demo-out/sites.gpkg and sites.csv in Debian's QGIS (installed if missing), headless:
#                     style, colours, labels, field types; renders test-artifacts/qgis-sites.png (not in make test)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all venv demo test browser bench-deps bench bench-quick bench-maps qgis qgis-check clean

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

# the bench extra (DuckDB + its spatial extension, SedonaDB) into a venv made before it was added
bench-deps: $(STAMP)
	@$(BIN)/python -c "import duckdb, duckdb_ext, sedonadb, geoarrow.pyarrow, rasterstats, psutil" 2>/dev/null || \
	  $(BIN)/python -m pip install --quiet -e '.[bench]'

bench: bench-deps browser
	$(BIN)/python bench/run.py --sites 1000000
	$(BIN)/python bench/maps.py

bench-maps: $(STAMP) browser
	$(BIN)/python bench/maps.py

bench-quick: bench-deps browser
	$(BIN)/python bench/run.py --sites 100000 --quick

# Debian's QGIS and its Python bindings (the system python3, not the venv's).
qgis:
	@/usr/bin/python3 -c "import qgis.core" >/dev/null 2>&1 || { \
	  echo "installing Debian's qgis and python3-qgis for the QGIS check"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    qgis python3-qgis >/dev/null; }

qgis-check: demo qgis
	mkdir -p test-artifacts
	QT_QPA_PLATFORM=offscreen XDG_RUNTIME_DIR=$${XDG_RUNTIME_DIR:-/tmp/runtime-$$(id -u)} \
	  /usr/bin/python3 tools/qgis_check.py demo-out test-artifacts/qgis-sites.png

clean:
	rm -rf $(VENV) demo-out test-artifacts bench/results .pytest_cache
