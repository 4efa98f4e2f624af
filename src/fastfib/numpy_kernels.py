"""The numpy path: the teaching material's matrix power, made exact, and a
vectorised version of the naive recursion for the scaling report.

``fib`` computes ``[[1, 1], [1, 0]] ** n`` whose top-right entry is F(n). The
textbook version uses an int64 matrix and is silently wrong from n = 93
(`naive_int64_fib` keeps it, to show that); here the matrix holds Python ints
(dtype=object), so every n is exact.

``burn`` does the same work as the naive recursion -- it visits every node of
the call tree of fib(n), about phi**n of them -- but a whole level of the tree
at a time, as int64 arrays: each node k >= 2 becomes its children k-1 and k-2,
and F(n) is the number of leaves equal to 1. Its time is spent inside numpy's
loops, which release the GIL while they run, so it scales partly on threads.
Levels are expanded in chunks of at most `CHUNK` nodes, so memory stays below
about n * CHUNK * 8 bytes whatever n is.
"""

from __future__ import annotations

import numpy as np

from fastfib._args import check_n

__all__ = ["CHUNK", "burn", "fib", "naive_int64_fib"]

KERNEL = "numpy"
CHUNK = 1 << 14
_Q = np.array([[1, 1], [1, 0]], dtype=object)


def fib(n: object) -> int:
    """F(n) exactly: the top-right entry of [[1, 1], [1, 0]] ** n, in Python ints."""
    n = check_n(n, KERNEL, None)
    return int(np.linalg.matrix_power(_Q, n)[0, 1])


def naive_int64_fib(n: int) -> int:
    """The textbook int64 matrix power: wrong, without a warning, from n = 93."""
    return int(np.linalg.matrix_power(np.array([[1, 1], [1, 0]], dtype=np.int64), n)[0, 1])


def burn(n: object) -> int:
    """F(n) by expanding the naive recursion's call tree level by level in numpy."""
    n = check_n(n, KERNEL, None)
    leaves = 0
    stack = [np.array([n], dtype=np.int64)]
    while stack:
        level = stack.pop()
        leaves += int(np.count_nonzero(level == 1))
        inner = level[level >= 2]
        if inner.size == 0:
            continue
        children = np.concatenate((inner - 1, inner - 2))
        # children has at most 2 * CHUNK nodes: split it so no array exceeds CHUNK.
        stack.extend(np.array_split(children, -(-children.size // CHUNK)))
    return leaves
