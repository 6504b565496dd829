# `make test` and `make demo` each create (or reuse) .venv and install what
# they need into it; nothing else has to be on the machine but python3.
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
# The exact versions the tests pass with (see `make lock`).
CONSTRAINTS := constraints.txt

.PHONY: test demo lint install lock

install: $(INSTALLED)

$(INSTALLED): setup.cfg pyproject.toml $(CONSTRAINTS)
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -c $(CONSTRAINTS) -e '.[test]'
	touch $@

# Resolve setup.cfg's ranges afresh in a scratch venv and write the result
# to constraints.txt; run `make test` after it before committing.
lock:
	rm -rf .venv-lock
	python3 -m venv .venv-lock
	.venv-lock/bin/python -m pip install -q --upgrade pip
	.venv-lock/bin/python -m pip install -q -e '.[test]'
	{ sed -n '1,3p' $(CONSTRAINTS); .venv-lock/bin/python -m pip freeze \
	    --exclude-editable; } > $(CONSTRAINTS).new
	mv $(CONSTRAINTS).new $(CONSTRAINTS)
	rm -rf .venv-lock

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: lint
	$(PY) -m pytest -q

demo: $(INSTALLED)
	$(PY) -m speechbrain_peft.demo
