# The two set-up commands of README.md. VENV may point anywhere (CI puts it outside the clone).
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --progress-bar off

.PHONY: demo test
demo:  ## install and run the whole pipeline on the built-in demo data
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) -e .
	$(VENV)/bin/datacentric demo

test:  ## install with test extras and run the test suite
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) -e ".[test,ray]" ./plugins/datacentric-procedural
	$(PY) -m ruff format --check .
	$(PY) -m ruff check .
	$(PY) -m pytest -m "not ray"
	scripts/loopback_only $(PY) -m pytest -m ray  # Ray clusters: loopback-only network
