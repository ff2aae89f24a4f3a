# Two commands on a fresh machine: `make demo` runs the service offline, `make test` tests it.
# Each installs what it needs (pipenv, then the locked packages into .venv/).
PYTHON ?= python3
PIPENV := PIPENV_VENV_IN_PROJECT=1 PIPENV_YES=1 PIPENV_NOSPIN=1 PIPENV_VERBOSITY=-1 $(PYTHON) -m pipenv

.PHONY: install demo serve test lint typecheck bench

install: .venv/.installed

.venv/.installed: Pipfile.lock
	$(PYTHON) -m pipenv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet pipenv
	$(PIPENV) sync --dev
	touch $@

demo: install
	$(PIPENV) run python application.py demo

serve: install
	$(PIPENV) run python application.py migrate
	$(PIPENV) run python application.py serve

test: install
	$(PIPENV) run pytest

lint: install
	$(PIPENV) run ruff check .
	$(PIPENV) run ruff format --check .

typecheck: install
	$(PIPENV) run mypy .

# bench api's load generator is Debian's wrk; installed here when missing (as .ci/run installs
# Chromium). Without root this fails, and the bench's own first line says what to install.
bench: install
	@command -v wrk >/dev/null || { echo "wrk is missing; installing Debian's"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; } || true
	$(PIPENV) run python -m bench
