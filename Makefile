# The README's commands. Each target creates .venv and installs what is
# missing; the second run finds everything in place and starts at once.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
INSTANCE ?= instance
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test lint format bench clean browser-deps catalogs

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

# Compiled catalogs (.mo) are built, not committed; cheap when up to date.
catalogs: $(STAMP)
	$(BIN)/intake translate compile --quiet

run: catalogs
	$(BIN)/intake demo --instance $(INSTANCE) --keys demo
	$(BIN)/intake serve --instance $(INSTANCE) --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Debian's Chromium and fonts for tests/browser/ (only asks dpkg when all is there).
browser-deps:
	bash scripts/install-browser-deps

# pytest exits 5 when it ran no test; that must never look like a pass.
test: lint browser-deps catalogs
	$(BIN)/python -m pytest; status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: no tests ran" >&2; exit 1; fi; \
	exit $$status

bench: $(STAMP)
	$(BIN)/python bench/crypto.py
	$(BIN)/python bench/pages.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .cache
