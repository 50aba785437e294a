# The README's two commands: `make demo` and `make test`. Both set up .venv first (tools/install.sh).
PY := .venv/bin/python
SHELL := /bin/bash

.PHONY: install test demo demo-int8 demo-netadapt clean-venv

install:
	@bash tools/install.sh

test: install
	@echo "[make test] running the test suite"
	$(PY) -m pytest tests

demo: install
	@bash tools/demo.sh

demo-int8: install
	@bash tools/demo_int8.sh

demo-netadapt: install
	@bash tools/demo_netadapt.sh

clean-venv:
	rm -rf .venv
