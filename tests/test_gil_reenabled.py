"""Who re-enabled the GIL: fastfib.measure.gil_reenabled and fastfib.testing.assert_gil_stays_disabled.

The tiny extensions (tests/tiny_extensions.py) are built with this interpreter and imported only
in fresh interpreters, never here: the session guard would fail the run if the GIL came on.
"""

from __future__ import annotations

import sys
import unittest

import pytest

from fastfib import gil
from fastfib.measure import gil_reenabled
from fastfib.testing import assert_gil_stays_disabled, gil_reenabling_modules
from tiny_extensions import build, missing_compiler

needs_compiler = pytest.mark.skipif(missing_compiler() is not None, reason=missing_compiler() or "")
needs_free_threading = pytest.mark.skipif(not gil.free_threaded_build(), reason=(
    "needs a free-threaded build (python3.13t / 3.14t): a GIL build has no GIL to re-enable "
    "(make test-ft runs this file there)"))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build(tmp_path_factory.mktemp("tiny-extensions"))


@needs_compiler
@needs_free_threading
def test_names_the_extension_that_reenabled_the_gil(tiny):
    check = gil_reenabled.find(["tiny_nogil", "tiny_gil"], path=[str(tiny)])
    assert check.error is None
    assert [r.name for r in check.reenablers] == ["tiny_gil"]
    assert check.reenablers[0].chain == ("tiny_gil",)
    assert check.gil_at_end
    assert "tiny_nogil" in check.extension_modules
    assert any("tiny_gil" in warning for warning in check.warnings)  # CPython's own warning agrees


@needs_compiler
@needs_free_threading
def test_the_chain_shows_the_third_party_module_that_imported_it(tiny):
    check = gil_reenabled.find(setup=["import json", "import thirdparty"], stmt="thirdparty.core.ANSWER",
                               path=[str(tiny)])
    assert [r.chain for r in check.reenablers] == [("<setup>", "thirdparty", "thirdparty.core", "tiny_gil")]
    assert "thirdparty.core -> tiny_gil" in check.lines()[0]


@needs_compiler
@needs_free_threading
def test_a_module_imported_by_the_statement_is_found_too(tiny):
    check = gil_reenabled.find(setup=["x = 1"], stmt="import thirdparty", path=[str(tiny)])
    assert [r.chain[0] for r in check.reenablers] == ["<stmt>"]


@needs_compiler
@needs_free_threading
def test_a_module_that_declares_support_leaves_the_gil_off(tiny):
    assert gil_reenabling_modules("tiny_nogil", "json", path=[str(tiny)]) == []
    assert_gil_stays_disabled("tiny_nogil", path=[str(tiny)])


@needs_compiler
@needs_free_threading
def test_assert_gil_stays_disabled_fails_naming_the_module_and_its_chain(tiny):
    with pytest.raises(AssertionError, match=r"tiny_gil \(import chain: thirdparty -> thirdparty.core -> tiny_gil"):
        assert_gil_stays_disabled("tiny_nogil", "thirdparty", path=[str(tiny)])


@needs_free_threading
def test_fastfib_itself_keeps_the_gil_off():
    assert_gil_stays_disabled("fastfib", "fastfib.testing", "fastfib.measure.contention")


@needs_free_threading
def test_an_import_that_fails_says_so():
    with pytest.raises(ImportError, match="no_such_module_here"):
        gil_reenabling_modules("no_such_module_here")


@pytest.mark.skipif(gil.free_threaded_build(), reason="checks the skip on a GIL build")
def test_on_a_gil_build_it_skips_with_the_reason():
    with pytest.raises(unittest.SkipTest, match="not a free-threaded build"):
        assert_gil_stays_disabled("json")
    with pytest.raises(unittest.SkipTest, match="not a free-threaded build"):
        gil_reenabling_modules("json")


@pytest.mark.skipif(gil.free_threaded_build(), reason="checks a GIL build's answer")
def test_on_a_gil_build_the_check_says_there_is_always_a_gil():
    check = gil_reenabled.find(["json"], python=sys.executable)
    assert not check.free_threaded and check.reenablers == []
    assert "always has a GIL" in check.lines()[0]
