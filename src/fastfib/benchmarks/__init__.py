"""fastfib's benchmark suite (pytest-benchmark), shipped in the package so a wheel can run it.

    pytest --pyargs fastfib.benchmarks --benchmark-only     # or: fastfib bench

Who scales (``test_scaling``), the price of releasing the GIL and exact F(n)
by size (``test_micro``), and big exact F(n) with GMP (``test_big_n``). Every
speedup is paired with its sequential baseline in one measurement; the
summary, JSON and plot come from :mod:`fastfib.benchmarks.plugin`. Needs
``pip install 'fastfib[bench]'`` (pytest and pytest-benchmark).
"""
