"""fastfib's experiments, one module each, built on the runners and measurements."""
