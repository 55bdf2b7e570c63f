# Two commands on a fresh machine: `make run` and `make test`. Each sets itself up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
export DATABASE_URL ?= sqlite:///medpuls.db
# The demo shows everything at once; a deployment keeps quiet hours (docs/delivery.md).
export MEDPULS_WORKING_HOURS ?= always

.PHONY: run test lint typecheck layers unit browser-deps document-deps clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "MEDpuls needs Python 3.11 or newer"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP) $@

# The local chat has no login: it runs only when asked for (docs/security.md).
run: export MEDPULS_LOCAL_CHAT := 1
run: $(STAMP)
	$(BIN)/medpuls db upgrade
	$(BIN)/medpuls demo
	$(BIN)/medpuls serve

# Debian's Chromium for the browser tests (Playwright cannot download browsers here).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get install -y -qq chromium >/dev/null 2>&1 || \
	     (apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null)) \
	    || echo "chromium could not be installed: browser tests will skip"; \
	  else echo "chromium missing and not root: browser tests will skip"; fi; }

# LibreOffice renders the exported documents to PDF pages in the tests; poppler's pdftoppm
# draws page 1 as the PNGs in docs/documents/. Without them those tests skip, saying why.
document-deps:
	@command -v soffice >/dev/null 2>&1 && command -v pdftoppm >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    pkgs="libreoffice-writer-nogui poppler-utils"; \
	    (apt-get install -y -qq $$pkgs >/dev/null 2>&1 || \
	     (apt-get update -qq >/dev/null && apt-get install -y -qq $$pkgs >/dev/null)) \
	    || echo "LibreOffice could not be installed: document rendering tests will skip"; \
	  else echo "LibreOffice missing and not root: document rendering tests will skip"; fi; }

lint: $(DEV_STAMP)
	$(BIN)/ruff check .

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

layers: $(DEV_STAMP)
	$(BIN)/lint-imports

unit: $(DEV_STAMP) browser-deps document-deps
	$(BIN)/pytest -q -p no:cacheprovider $(PYTEST_ARGS)

test: lint typecheck layers unit

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
