# fastfib's two commands: `make run` (the main job) and `make test` (the suite).
# Each creates .venv and builds the extension first when needed, so a fresh
# clone needs only python3, gcc and make.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check
# Rebuild the extension whenever any of these changes.
BUILD_INPUTS := setup.py pyproject.toml csrc/fib.c csrc/fib.h csrc/build_info.h \
	src/fastfib/_kernels.pyx src/fastfib/_cfib.pxd src/fastfib/_gmp.pyx src/fastfib/_cgmp.pxd
BUILT := $(VENV)/.fastfib-built

.PHONY: all install run test clean gmp

all: install

install: $(BUILT)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip "setuptools>=68" "Cython>=3.1"

# GMP is optional (it adds the gmp kernel). Where we run as root with apt-get,
# as on CI, install Debian's libgmp-dev when its header is missing; elsewhere
# say how, and build without it. FASTFIB_GMP=0 skips GMP altogether.
gmp:
	@if [ "$${FASTFIB_GMP:-auto}" != 0 ] && ! echo '#include <gmp.h>' | $(CC) -E - >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing libgmp-dev for the gmp kernel"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libgmp-dev >/dev/null \
	      || echo "note: could not install libgmp-dev: building without the gmp kernel"; \
	  else \
	    echo "note: GMP not found: building without the gmp kernel (install libgmp-dev, then 'make')"; \
	  fi; \
	fi

# Editable install: Python edits show at once; C/Cython edits rebuild here.
$(BUILT): $(BIN)/python $(BUILD_INPUTS) | gmp
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
