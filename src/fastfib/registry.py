"""The kernel registry: each name mapped to its functions and its facts.

Everything above this layer (runners, measurements, reports, the CLI) finds a
kernel here by name and never imports a kernel module directly.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from typing import NamedTuple

from fastfib import gil, pure, technologies
from fastfib._args import U64_MAX_N

__all__ = ["Kernel", "KERNELS", "UNAVAILABLE", "burn_names", "burn_of", "burner", "cancellable_names", "get", "names"]


# A NamedTuple rather than a frozen dataclass: importing dataclasses imports inspect,
# ~10 ms of every `fastfib` command's start-up.
class Kernel(NamedTuple):
    """One way of computing F(n), and what a user needs to know about it.

    ``with_gil`` is what the code does where there is a GIL; ``gil`` and
    ``description`` say what is true on the running interpreter, read at each
    call: on a free-threaded build with the GIL disabled a kernel that holds
    the GIL "would hold the GIL; there is none here, so it runs in parallel".
    """

    name: str
    with_gil: str  # "held", "released" or "partly released": what the code does where a GIL exists
    max_n: int | None  # largest n it accepts; None when unbounded
    what: str  # what it computes and how, true on every build
    fib: Callable[..., int] = pure.fib  # exact F(n)
    burn: Callable[..., int] | None = pure.burn  # F(n) by naive recursion; None: no burn
    cancellable: bool = False  # burn takes cancel=CancelToken, polled by its C loop
    released_where: str = "in part"  # for "partly released": where
    # One call for a whole batch of n (one GIL release for all of them); None: a loop of single calls.
    burn_many: Callable[..., list[int]] | None = None
    fib_many: Callable[..., list[int]] | None = None

    @property
    def releases_gil(self) -> bool:
        """True when the code releases the GIL for the whole computation (a fact of the
        code: on a build without a GIL every kernel runs in parallel, see ``parallel``)."""
        return self.with_gil == "released"

    @property
    def parallel(self) -> bool:
        """True when other Python threads run at the same time as this computation, here."""
        return self.releases_gil or not gil.gil_enabled()

    @property
    def gil(self) -> str:
        """The GIL while it computes, here: ``with_gil`` where the GIL is enabled, else
        "none (would be held)" and the like."""
        return self.with_gil if gil.gil_enabled() else f"none (would be {self.with_gil})"

    @property
    def description(self) -> str:
        return f"{self.what}; {gil.gil_phrase(self.with_gil, self.released_where)}"


KERNELS: dict[str, Kernel] = {}
UNAVAILABLE: dict[str, str] = {}  # kernel name -> why it is missing here


def _register(kernel: Kernel) -> None:
    KERNELS[kernel.name] = kernel


_register(
    Kernel(
        "python",
        "held",
        None,
        "pure Python: naive recursion; exact F(n) by fast doubling on Python ints",
    )
)

# Kernels built on a heavy library are registered when it is installed but imported
# on their first call, so `import fastfib` and `fastfib fib` stay fast: numpy costs
# ~60 ms to import; numba ~0.6 s, and it compiles its four functions (or loads
# them from numba's cache).
LAZY: dict[str, str] = {}  # kernel name -> module imported on its first call


def _lazy(module: str, attribute: str) -> Callable[..., int]:
    def call(*args: object, **kwargs: object) -> int:
        return getattr(importlib.import_module(module), attribute)(*args, **kwargs)

    call.__name__ = call.__qualname__ = attribute
    call.__doc__ = f"{module}.{attribute}, imported on first call"
    return call


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a blocked or broken entry in sys.modules
        return False


def probe(name: str) -> str | None:
    """Load a lazily imported kernel's code now: why it cannot load here, or None."""
    if name not in LAZY:
        return UNAVAILABLE.get(name)
    try:
        importlib.import_module(LAZY[name])
    except Exception as exc:  # noqa: BLE001 - ImportError, or numba failing to compile
        return f"{LAZY[name]} cannot be loaded ({type(exc).__name__}: {exc})"
    return None


if _installed("numpy"):
    LAZY["numpy"] = "fastfib.numpy_kernels"
    _register(
        Kernel(
            "numpy",
            "partly released",
            None,
            "numpy: recursion tree expanded level by level in int64 arrays; exact F(n) by "
            "object-dtype matrix power",
            _lazy(LAZY["numpy"], "fib"),
            _lazy(LAZY["numpy"], "burn"),
            released_where="inside numpy's array loops",
        )
    )
else:  # a dependency, but the other kernels run without it
    UNAVAILABLE["numpy"] = "numpy is not installed (pip install numpy)"

try:
    from fastfib import _kernels
except ImportError as exc:
    for _name in ("cython-gil", "cython-nogil"):
        UNAVAILABLE[_name] = (
            f"the compiled extension is missing ({exc}); rebuild with `make` or "
            f"`pip install -e .`"
        )
else:
    _register(
        Kernel(
            "cython-gil",
            "held",
            _kernels.MAX_N,
            "C via Cython, no `with nogil:`: naive recursion; exact F(n) in uint64",
            _kernels.fib_gil,
            _kernels.burn_gil,
            cancellable=True,
            burn_many=_kernels.burn_many_gil,
            fib_many=_kernels.fib_many_gil,
        )
    )
    _register(
        Kernel(
            "cython-nogil",
            "released",
            _kernels.MAX_N,
            "C via Cython inside `with nogil:`: naive recursion; exact F(n) in uint64",
            _kernels.fib_nogil,
            _kernels.burn_nogil,
            cancellable=True,
            burn_many=_kernels.burn_many_nogil,
            fib_many=_kernels.fib_many_nogil,
        )
    )

# The same C kernels through every other binding technology (bindings/, fastfib.technologies):
# each module is small and imported now, so a family that cannot load here (not built, or
# refusing a subinterpreter: nanobind, PyO3) is listed with the reason.
for _tech in technologies.BINDINGS:
    try:
        _module = importlib.import_module(_tech.module)
    except ImportError as exc:
        UNAVAILABLE[f"{_tech.family}-gil"] = UNAVAILABLE[f"{_tech.family}-nogil"] = technologies.why_missing(_tech, exc)
        continue
    for _suffix, _gil in (("gil", "held"), ("nogil", "released")):
        _how = "holding the GIL" if _gil == "held" else _tech.release
        _register(Kernel(f"{_tech.family}-{_suffix}", _gil, _module.MAX_N,
                         f"C via {_tech.title}, {_how}: naive recursion; exact F(n) in uint64",
                         getattr(_module, f"fib_{_suffix}"), getattr(_module, f"burn_{_suffix}")))

# cython-prange is imported on its first call too: loading it loads the OpenMP runtime (libgomp),
# ~4 ms, and a process that never calls it then holds no OpenMP pool (which `fastfib probe` reports).
if _installed("fastfib._prange"):
    LAZY["cython-prange"] = "fastfib._prange"
    _register(
        Kernel(
            "cython-prange",
            "released",
            U64_MAX_N,
            "C via Cython, a batch split across OpenMP threads by `prange` inside `nogil`: naive recursion; "
            "exact F(n) in uint64 (parallel within one call: burn_many/fib_many, num_threads=)",
            _lazy(LAZY["cython-prange"], "fib"),
            _lazy(LAZY["cython-prange"], "burn"),
            burn_many=_lazy(LAZY["cython-prange"], "burn_many"),  # type: ignore[arg-type]
            fib_many=_lazy(LAZY["cython-prange"], "fib_many"),  # type: ignore[arg-type]
        )
    )
else:
    UNAVAILABLE["cython-prange"] = (
        "fastfib was built without OpenMP (no module fastfib._prange); build with a compiler that has it "
        "(gcc -fopenmp) and without FASTFIB_OPENMP=0: `make` or `pip install -e .`"
    )

try:
    from fastfib import _gmp
except ImportError as exc:
    UNAVAILABLE["gmp"] = (
        f"fastfib was built without GMP ({exc}); install libgmp-dev (Debian) or gmp "
        f"and rebuild with `make` or `pip install -e .`"
    )
else:
    _register(
        Kernel(
            "gmp",
            "released",
            _gmp.MAX_N,
            "GMP's mpz_fib_ui inside `with nogil:`: exact F(n) for huge n (fib only, no burn)",
            _gmp.fib_nogil,
            None,
        )
    )

# numba (optional: pip install 'fastfib[numba]') declares no free-threading support:
# on a free-threaded build it would re-enable the GIL.
if gil.free_threaded_build():
    _numba_why = "numba would re-enable the GIL on this free-threaded build, so fastfib does not import it"
elif not _installed("numba"):
    _numba_why = "numba is not installed or cannot be imported; pip install 'fastfib[numba]'"
else:
    _numba_why = ""
    for _name, _suffix, _gil, _how in (("numba-gil", "gil", "held", "@njit"),
                                       ("numba-nogil", "nogil", "released", "@njit(nogil=True)")):
        LAZY[_name] = "fastfib.numba_kernels"
        _register(Kernel(_name, _gil, U64_MAX_N,
                         f"numba JIT, {_how}: naive recursion; exact F(n) in uint64",
                         _lazy(LAZY[_name], f"fib_{_suffix}"), _lazy(LAZY[_name], f"burn_{_suffix}")))
if _numba_why:
    UNAVAILABLE["numba-gil"] = UNAVAILABLE["numba-nogil"] = _numba_why


def names() -> list[str]:
    """Names of the kernels available in this installation, in registry order."""
    return list(KERNELS)


def burn_names() -> list[str]:
    """Names of the kernels that have the naive-recursion burn workload."""
    return [name for name, kernel in KERNELS.items() if kernel.burn is not None]


def cancellable_names() -> list[str]:
    """Names of the kernels whose burn can be stopped through a CancelToken."""
    return [name for name, kernel in KERNELS.items() if kernel.cancellable]


def burner(name: object) -> Kernel:
    """The kernel called ``name``, which must have a burn workload; ValueError otherwise."""
    burn_of(name)
    return get(name)


def burn_of(name: object) -> Callable[..., int]:
    """The burn function of the kernel called ``name``; ValueError if it has none."""
    burn = get(name).burn
    if burn is None:
        raise ValueError(f"kernel {name!r} has no burn workload; burn kernels: {', '.join(burn_names())}")
    return burn


def get(name: object) -> Kernel:
    """The kernel called ``name``; ValueError listing the valid names otherwise."""
    try:
        return KERNELS[name]  # type: ignore[index]
    except (KeyError, TypeError):
        pass
    why = f" ({UNAVAILABLE[name]})" if isinstance(name, str) and name in UNAVAILABLE else ""
    raise ValueError(
        f"unknown kernel {name!r}{why}; valid kernels: {', '.join(names())}"
    ) from None
