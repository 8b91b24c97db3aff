# The README's commands. Each target creates .venv and installs what is
# missing; the second run finds everything in place and starts at once.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
INSTANCE ?= instance
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test lint format bench clean browser-deps catalogs js

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

# The browser's envelope sealer (intake/static/src/) bundled with the npm
# packages package-lock.json pins: built, not committed; cheap when up to date.
# `npm ci` installs exactly the lock's versions and runs no package's scripts.
NODE_STAMP := node_modules/.installed-stamp
JS_BUNDLE := intake/static/build/envelope.js

$(NODE_STAMP): package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
	touch $(NODE_STAMP)

$(JS_BUNDLE): $(NODE_STAMP) scripts/build-js $(wildcard intake/static/src/*.js)
	node scripts/build-js

# The questionnaires and the catalogue as one JSON definition, for the
# browser's evaluator (intake/static/src/questionnaire.js): Python only.
QUESTIONNAIRE_JSON := intake/static/build/questionnaires.json

$(QUESTIONNAIRE_JSON): $(STAMP) $(wildcard intake/questionnaire/*.py) $(wildcard intake/questionnaires/*.toml)
	$(BIN)/python -m intake.questionnaire.definition intake/static/build

# Without Node.js the pages still work, but not offline; CI must build it.
js: $(QUESTIONNAIRE_JSON)
	$(BIN)/intake translate compile --quiet && $(BIN)/python -m intake.i18n.browser intake/static/build
	@if command -v node >/dev/null && command -v npm >/dev/null; then \
		$(MAKE) --no-print-directory $(JS_BUNDLE); \
	elif [ "$${CI:-}" = "true" ]; then \
		echo "make js: Node.js and npm are needed (apt-get install nodejs npm)" >&2; exit 1; \
	else \
		echo "make js: no Node.js here: the browser sealer is not built, its tests skip" >&2; \
	fi

# Compiled catalogs (.mo) are built, not committed; cheap when up to date.
catalogs: $(STAMP) js
	$(BIN)/intake translate compile --quiet

run: catalogs js
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
test: lint browser-deps catalogs js
	$(BIN)/python -m pytest; status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: no tests ran" >&2; exit 1; fi; \
	exit $$status

bench: $(STAMP)
	$(BIN)/python bench/crypto.py
	$(BIN)/python bench/pages.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .cache

# Lighthouse (npm, pinned in package.json) on the sign-in page and a screening's
# first screen, mobile, with Debian's Chromium: writes docs/reports/*.json (commit
# them; tests/test_lighthouse_reports.py reads them). Not part of `make test`:
# a measurement, to take at a quiet moment.
.PHONY: lighthouse
lighthouse: browser-deps catalogs js
	$(BIN)/python scripts/lighthouse
