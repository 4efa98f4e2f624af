"""Stopping a long burn: the nogil C loop polls a flag that another thread sets."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import fastfib
from fastfib import registry
from helpers import needs_gil, needs_no_gil, oracle

pytestmark = pytest.mark.skipif("cython-nogil" not in registry.KERNELS, reason="extension not built")
F = oracle(100)
FOREVER = 70  # burn(70) would take hours: only a cancellation ends it


def test_token_starts_clear_and_defaults_to_keyboard_interrupt():
    token = fastfib.CancelToken()
    assert token.is_set is False and token.reason is None
    token.set()
    assert token.is_set is True and isinstance(token.reason, KeyboardInterrupt)


@pytest.mark.parametrize("c_kernel", ["cython-gil", "cython-nogil"])
def test_a_set_token_stops_a_burn_before_it_starts(c_kernel):
    token = fastfib.CancelToken()
    token.set(RuntimeError("stop"))
    with pytest.raises(RuntimeError, match="stop"):
        fastfib.burn(FOREVER, kernel=c_kernel, cancel=token)


@pytest.mark.parametrize("c_kernel", ["cython-gil", "cython-nogil"])
def test_small_burns_and_unset_tokens_are_exact(c_kernel):
    token = fastfib.CancelToken()
    assert [fastfib.burn(n, kernel=c_kernel, cancel=token) for n in range(31)] == F[:31]


@pytest.mark.timeout(60)
def test_another_thread_stops_a_nogil_burn():
    token = fastfib.CancelToken()
    setter = threading.Timer(0.05, token.set, args=(InterruptedError("from the timer"),))
    setter.start()
    with pytest.raises(InterruptedError, match="from the timer"):
        fastfib.burn(FOREVER, kernel="cython-nogil", cancel=token)
    setter.join()


@pytest.mark.timeout(60)
def test_timeout_stops_a_nogil_burn():
    start = time.perf_counter()
    with pytest.raises(TimeoutError, match=r"burn\(70\) on cython-nogil did not finish within 0.2 s"):
        fastfib.burn(FOREVER, kernel="cython-nogil", timeout=0.2)
    print(f"\nTimeoutError {time.perf_counter() - start:.3f} s after a 0.2 s timeout")


@pytest.mark.timeout(120)
@needs_gil
def test_timeout_on_a_gil_holding_burn_can_only_be_noticed_late():
    # burn(38) takes 40-70 ms here: a 10 ms deadline has surely passed when it ends. With the
    # switch interval far past it, this thread keeps the GIL from the timer's start to the C call:
    # the timer cannot set the flag before the burn starts, even when this thread is slow to get there.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(100)
    try:
        with pytest.raises(TimeoutError, match="could not be stopped.*held the GIL"):
            fastfib.burn(38, kernel="cython-gil", timeout=0.01)
    finally:
        sys.setswitchinterval(interval)


@pytest.mark.timeout(60)
@needs_no_gil
def test_without_a_gil_the_timer_stops_even_the_gil_holding_burn():
    # The same C loop polls the flag; with no GIL to hold, the timer thread runs and sets it.
    with pytest.raises(TimeoutError, match=r"burn\(70\) on cython-gil did not finish within 0.2 s"):
        fastfib.burn(FOREVER, kernel="cython-gil", timeout=0.2)


def test_deadline_context_manager_passes_when_in_time():
    with fastfib.deadline(30) as token:
        assert fastfib.burn(25, kernel="cython-nogil", cancel=token) == F[25]
    assert not token.is_set


@pytest.mark.parametrize("other", ["python", "numpy"])
def test_kernels_without_a_polled_flag_refuse_timeout(other):
    with pytest.raises(ValueError, match="cannot be stopped from outside.*cython-gil, cython-nogil"):
        fastfib.burn(10, kernel=other, timeout=1)


@pytest.mark.parametrize(("timeout", "error"), [(0, ValueError), (-1, ValueError), (float("nan"), ValueError),
                                                (float("inf"), ValueError), ("1", TypeError), (True, TypeError)])
def test_bad_timeouts(timeout, error):
    with pytest.raises(error, match="timeout"):
        fastfib.burn(10, kernel="cython-nogil", timeout=timeout)


def test_bad_n_with_timeout_is_the_usual_error():
    with pytest.raises(OverflowError, match="n <= 93"):
        fastfib.burn(94, kernel="cython-nogil", timeout=1)
    with pytest.raises(TypeError):
        fastfib.burn(2.5, kernel="cython-nogil", timeout=1)


@pytest.mark.timeout(60)
def test_with_timeout_and_cancel_the_deadline_sets_that_token():
    token = fastfib.CancelToken()
    with pytest.raises(TimeoutError, match="did not finish within 0.2 s"):
        fastfib.burn(FOREVER, kernel="cython-nogil", timeout=0.2, cancel=token)
    assert token.is_set and isinstance(token.reason, TimeoutError)


@pytest.mark.timeout(60)
def test_with_timeout_and_cancel_the_token_set_first_wins():
    token = fastfib.CancelToken()
    setter = threading.Timer(0.05, token.set, args=(InterruptedError("before the deadline"),))
    setter.start()
    with pytest.raises(InterruptedError, match="before the deadline"):
        fastfib.burn(FOREVER, kernel="cython-nogil", timeout=30, cancel=token)
    setter.join()


def test_a_set_token_keeps_its_first_reason():
    token = fastfib.CancelToken()
    first = RuntimeError("first")
    token.set(first)
    token.set(TimeoutError("second"))
    assert token.reason is first


def test_without_the_extension_a_token_says_how_to_build_it():
    # A fresh interpreter in which the compiled module cannot be imported, as in an unbuilt checkout.
    code = ("import sys; sys.modules['fastfib._kernels'] = None\n"
            "import fastfib\n"
            "try:\n"
            "    fastfib.CancelToken()\n"
            "except ImportError as exc:\n"
            "    print(exc)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.startswith("fastfib.CancelToken needs the compiled extension, which is missing")
    assert "`make`" in done.stdout


def _fastfib() -> list[str]:
    script = Path(sys.executable).with_name("fastfib")
    return [str(script)] if script.exists() else [sys.executable, "-m", "fastfib"]


@pytest.mark.timeout(120)
def test_ctrl_c_stops_the_burn_command_on_the_nogil_kernel():
    child = subprocess.Popen([*_fastfib(), "burn", str(FOREVER), "--kernel", "cython-nogil"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert "started" in child.stderr.readline()  # it is burning now
    sent = time.perf_counter()
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)
    took_ms = 1000 * (time.perf_counter() - sent)
    print(f"\nexit {child.returncode} {took_ms:.0f} ms after SIGINT (process exit included)")
    assert child.returncode == 130 and out == "" and "interrupted" in err, err


@pytest.mark.timeout(120)
def test_burn_command_timeout_exits_124():
    done = subprocess.run([*_fastfib(), "burn", str(FOREVER), "--kernel", "cython-nogil", "--timeout", "0.2"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 124 and done.stdout == ""
    assert "did not finish within 0.2 s" in done.stderr
