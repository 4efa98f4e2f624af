"""fastfib's experiments, one module each, built on the runners and measurements.

Each module declares itself in one ``EXPERIMENT`` (:mod:`fastfib.lab.experiment`):
its options with their defaults and --quick values, its run, its text and plot.
:data:`fastfib.lab_cli.EXPERIMENTS` lists them.
"""
