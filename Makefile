# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
ARGS   ?=

.PHONY: demo test bench lint fmt clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,postgres]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/hub demo $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench $(if $(QUICK),--quick,) $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check hub plugins tests bench
	$(BIN)/ruff format --check hub plugins tests bench
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff check --fix hub plugins tests bench
	$(BIN)/ruff format hub plugins tests bench

clean:
	rm -rf $(VENV) hub-data .pytest_cache .ruff_cache
