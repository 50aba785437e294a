# The README's two commands: `make demo` and `make test`. Both set up .venv first (tools/install.sh).
PY := .venv/bin/python
SHELL := /bin/bash

.PHONY: install test demo clean-venv

install:
	@bash tools/install.sh

test: install
	@echo "[make test] running the test suite"
	$(PY) -m pytest tests

demo: install
	@bash tools/demo.sh

clean-venv:
	rm -rf .venv
