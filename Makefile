# The two commands a new user needs:
#   make run    the whole stack locally (frontend + API on one origin, local DynamoDB): no AWS, no Docker
#   make test   every offline check: unit, real-server, browser, Dockerfile, templates
# Both create what they need first (a venv from pinned requirements; Debian's chromium for the browser test).

# One Python version for CI, this Makefile and the image: .python-version (major.minor). GitHub's
# setup-python reads it (python-version-file), tests/docker/test_python_version.py holds app/Dockerfile's FROM
# to it, pyenv reads it too, and the venvs below are made with python<that version> when it is on PATH;
# else with python3, after saying which version that is. PYTHON=... overrides the choice.
PYTHON_VERSION := $(shell cat .python-version 2>/dev/null)
ifndef PYTHON
PYTHON := $(or $(if $(PYTHON_VERSION),$(shell command -v python$(PYTHON_VERSION) 2>/dev/null)),python3)
endif
VENV   := .venv
PY     := $(VENV)/bin/python
PORT   ?= 8080
PYTEST_ARGS ?=
# No bytecode written: `sam deploy` uploads app/, services/*, frontend/ and functions/ as they are, named by a
# hash of every file in them, so a __pycache__ left by `make run` or `make test` would make the next deploy
# build the image again for nothing (docs/deploy.md, "What the stack builds"). Python still reads what pip
# compiled into the venvs. Not PYTHONPYCACHEPREFIX: under a prefix Python ignores the venvs' bytecode, and
# where writing is off as well (PYTHONDONTWRITEBYTECODE set by the machine, as on CI runners) every run of
# cfn-lint, checkov or SAM compiled its whole package again (cfn-lint 1.8 s -> 7 s).
export PYTHONDONTWRITEBYTECODE := 1

.DEFAULT_GOAL := help
.PHONY: help python venv run system-deps test test-unit test-templates lint-templates lock clean \
	deploy preflight plan publish image smoke status alert-test logs exec stop start cost bench destroy service

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}' \
	| sed 's/$$(PORT)/$(PORT)/g'

# Stops below 3.11; says so when the interpreter is not the version CI and the image use.
define check_python
	@$(PYTHON) -c 'import sys; want, have = "$(PYTHON_VERSION)", "%d.%d" % sys.version_info[:2]; \
	sys.version_info < (3, 11) and sys.exit(f"$(PYTHON) is Python {have}: 3.11+ is needed, install python{want or 3.11}"); \
	print(f"$(PYTHON) is Python {have}" + (f", but .python-version says {want} (CI and the image run {want}): " \
	      f"install python{want}, or set PYTHON=" if want and have != want else ""), file=sys.stderr)'
endef

# (Re)makes venv $(1) with $(PYTHON): one made by another Python version (a new .python-version)
# is made anew, never patched over. rm, not `venv --clear`: .venv may be a symlink to a shared venv.
define fresh_venv
	@want=$$($(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])'); \
	have=$$($(1)/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null); \
	if [ "$$have" != "$$want" ]; then rm -rf $(1) && $(PYTHON) -m venv $(1); fi
endef

python: ## Which Python the venvs are made with (.python-version, or PYTHON=)
	$(check_python)

# The app's venv: runtime requirements (the image's) plus the test tools, all pinned.
$(VENV)/.installed: app/requirements.txt requirements/dev.txt $(wildcard .python-version)
	$(check_python)
	$(call fresh_venv,$(VENV))
	$(PY) -m pip install --quiet --disable-pip-version-check -r app/requirements.txt -r requirements/dev.txt
	@touch $@

# The template checkers pin heavy dependency sets of their own: one venv each.
.venv-sam/.installed: requirements/sam.txt $(wildcard .python-version)
	$(call fresh_venv,.venv-sam)
	.venv-sam/bin/python -m pip install --quiet --disable-pip-version-check -r requirements/sam.txt
	@touch $@

.venv-checkov/.installed: requirements/checkov.txt $(wildcard .python-version)
	$(call fresh_venv,.venv-checkov)
	.venv-checkov/bin/python -m pip install --quiet --disable-pip-version-check -r requirements/checkov.txt
	@touch $@

CHECKERS := .venv-sam/.installed .venv-checkov/.installed

venv: $(VENV)/.installed $(CHECKERS) ## Create or update all venvs

run: $(VENV)/.installed ## Run the stack locally on http://127.0.0.1:$(PORT)/ (PORT= another; notes last until it stops)
	$(PY) -m local.stack --port "$(PORT)"

system-deps:
	@$(PY) tests/system_deps.py

test: $(VENV)/.installed $(CHECKERS) system-deps ## Run every offline test
	$(PY) -m pytest $(PYTEST_ARGS)

test-templates: $(VENV)/.installed $(CHECKERS) ## Only the template checks
	$(PY) -m pytest tests/templates $(PYTEST_ARGS)

lint-templates: $(VENV)/.installed $(CHECKERS) ## cfn-lint, sam validate, checkov and cfn-guard, human-readable
	$(VENV)/bin/cfn-lint
	SAM_CLI_TELEMETRY=0 .venv-sam/bin/sam validate --lint --template parent.yml --region us-east-1
	$(PY) -m checks.render > /dev/null
	$(VENV)/bin/cfn-lint build/two-services/parent-two-services.yml
	SAM_CLI_TELEMETRY=0 .venv-sam/bin/sam validate --lint --template build/two-services/parent-two-services.yml --region us-east-1
	.venv-checkov/bin/checkov --directory build/rendered --framework cloudformation --skip-download --external-checks-dir checks/checkov --compact --quiet
	$(PY) -m checks.guard build/rendered

test-unit: $(VENV)/.installed ## Flask test client + moto only (about a minute)
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

lock: ## Re-pin requirements after editing a *.in file (deploy.txt with hashes, after sam.txt)
	@test -x .venv-tools/bin/pip-compile || ($(PYTHON) -m venv .venv-tools && .venv-tools/bin/pip install --quiet pip-tools)
	.venv-tools/bin/pip-compile -q --strip-extras --no-header --allow-unsafe --no-emit-index-url --no-emit-find-links -o app/requirements.txt app/requirements.in
	cd requirements && for f in dev sam checkov; do ../.venv-tools/bin/pip-compile -q --strip-extras --no-header --allow-unsafe --no-emit-index-url --no-emit-find-links -o $$f.txt $$f.in; done
	cd requirements && ../.venv-tools/bin/pip-compile -q --strip-extras --no-header --allow-unsafe --no-emit-index-url --no-emit-find-links --generate-hashes -o deploy.txt deploy.in

# ---- deploy and operate (AWS credentials; no Docker: the stack builds its images in CodeBuild) ----
# ENV=dev|prod picks the samconfig.toml environment; STACK= another stack; PARAMS="Key=Value ...".
OPS := $(PY) -m scripts
ENV ?= dev
# SERVICE=notes: one service of the stack (status, logs, exec, stop, start, smoke); default every service.
# `python -m scripts --help` lists the commands by group, `python -m scripts COMMAND --help` their flags.
export ENV STACK PARAMS YES DELETE_TABLE FOLLOW MINUTES URL REGION REQUESTS TASKS SERVICE CONTEXT ALARM

deploy: $(VENV)/.installed $(CHECKERS) ## sam deploy (the stack builds its images, publishes the site), wait, smoke test
	$(OPS) deploy
preflight: $(VENV)/.installed ## Check credentials, AZs, certificates, build contexts, templates; create only the ECS service-linked roles
	$(OPS) preflight
plan: $(VENV)/.installed ## What PARAMS= would add/remove/update/replace, offline (STACK= reads a deployed stack)
	$(OPS) plan
# Gone: the stack publishes frontend/ on every deploy (its site custom resource). One line, not "No rule".
publish:
	@echo "make publish is gone: the stack publishes frontend/ on every deploy; run make deploy" >&2; exit 2
image: $(VENV)/.installed ## Optional, needs Docker: docker build one build context locally (CONTEXT=app)
	$(OPS) image
smoke: $(VENV)/.installed ## Smoke tests against the stack (STACK=, SERVICE=) or any URL (URL=)
	$(OPS) smoke
status: $(VENV)/.installed ## URLs, services, deployments, recent events, alerts and alarms (SERVICE= for one)
	$(OPS) status
alert-test: $(VENV)/.installed ## Put one alarm in ALARM to prove alerts reach you (ALARM=name; default the first service's)
	$(OPS) alert-test
logs: $(VENV)/.installed ## The services' recent logs (SERVICE= for one, FOLLOW=1 to keep tailing)
	$(OPS) logs
exec: $(VENV)/.installed ## A shell in a running task of SERVICE= (EnableExecuteCommand "true" in its block)
	$(OPS) exec
stop: $(VENV)/.installed ## Scale every service (or SERVICE=) to zero, remembering the previous scale (Lambda: reserved concurrency 0)
	$(OPS) stop
start: $(VENV)/.installed ## Scale back to what `make stop` recorded (Lambda: the block's reservation again)
	$(OPS) start
bench: $(VENV)/.installed ## Notes API and health check vs boto3/bare baselines, whole core and 0.25 vCPU (installs wrk)
	@$(PY) tests/system_deps.py wrk
	$(PY) -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	$(PY) -m bench $(ARGS)
cost: $(VENV)/.installed ## Monthly estimate and what a deploy's build costs (ENV=, PARAMS=, REQUESTS=, TASKS=; ARGS=--json|--refresh)
	$(OPS) cost $(ARGS)
destroy: $(VENV)/.installed ## Delete the stack (its site, images and logs go with it; the table is kept) (YES=1 skips the question)
	$(OPS) destroy

service: $(VENV)/.installed ## A new service: NAME=reports [PREFIX=/api/reports] (its block in parent.yml, services/NAME/)
	@test -n "$(NAME)" || (echo "NAME= is needed, e.g. make service NAME=reports" >&2; exit 1)
	$(PY) -m scripts new-service "$(NAME)" --prefix "$(or $(PREFIX),/api/$(NAME))"

clean: ## Remove venvs and caches
	rm -rf $(VENV) .venv-* .cache .pytest_cache build reports
