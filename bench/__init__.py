"""Benchmarks, run by hand (``make bench`` or ``python -m bench.<name>``); results go to BENCHMARKS.md."""
