# The two commands a new user needs:
#   make run    the whole stack locally (frontend + API on one origin, local DynamoDB): no AWS, no Docker
#   make test   every offline check: unit, real-server, browser, Dockerfile, templates
# Both create what they need first (a venv from pinned requirements; Debian's chromium for the browser test).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PORT   ?= 8080
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help venv run system-deps test test-unit lock clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

# The app's venv: runtime requirements (the image's) plus the test tools, all pinned.
$(VENV)/.installed: app/requirements.txt requirements/dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed: set PYTHON=python3.11")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r app/requirements.txt -r requirements/dev.txt
	@touch $@

venv: $(VENV)/.installed ## Create or update the development venv

run: $(VENV)/.installed ## Run the stack locally on http://127.0.0.1:$(PORT)/
	$(PY) -m local.stack --port $(PORT)

system-deps:
	@$(PY) scripts/system_deps.py

test: $(VENV)/.installed system-deps ## Run every offline test
	$(PY) -m pytest $(PYTEST_ARGS)

test-unit: $(VENV)/.installed ## Flask test client + moto only (seconds)
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

lock: ## Re-pin requirements after editing a *.in file
	@test -x .venv-tools/bin/pip-compile || ($(PYTHON) -m venv .venv-tools && .venv-tools/bin/pip install --quiet pip-tools)
	.venv-tools/bin/pip-compile -q --strip-extras --no-header --allow-unsafe --no-emit-index-url --no-emit-find-links -o app/requirements.txt app/requirements.in
	cd requirements && ../.venv-tools/bin/pip-compile -q --strip-extras --no-header --allow-unsafe --no-emit-index-url --no-emit-find-links -o dev.txt dev.in

clean: ## Remove venvs and caches
	rm -rf $(VENV) .venv-* .cache .pytest_cache
