"""Benchmarks: never part of the test run. ``make bench`` (``python -m bench``) runs them all."""
