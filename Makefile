# fastfib's two commands: `make run` (the main job) and `make test` (the suite).
# Each creates .venv and builds the extension first when needed, so a fresh
# clone needs only python3, gcc and make.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check
# Rebuild the extension whenever any of these changes.
BUILD_INPUTS := setup.py pyproject.toml csrc/fib.c csrc/fib.h csrc/build_info.h \
	src/fastfib/_kernels.pyx src/fastfib/_cfib.pxd
BUILT := $(VENV)/.fastfib-built

.PHONY: all install run test clean

all: install

install: $(BUILT)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip "setuptools>=68" "Cython>=3.1"

# Editable install: Python edits show at once; C/Cython edits rebuild here.
$(BUILT): $(BIN)/python $(BUILD_INPUTS)
	$(PIP) install --quiet --no-build-isolation --editable '.[test]'
	touch $@

# The main job: who scales on this machine (about a minute on 2 cores).
run: install
	$(BIN)/fastfib info
	@echo
	@mkdir -p results
	$(BIN)/fastfib scale --json results/scale.json --plot results/scale.png

test: install
	$(BIN)/python -m pytest

clean:
	rm -rf build dist src/*.egg-info src/fastfib/_kernels.c src/fastfib/*.so $(VENV)
