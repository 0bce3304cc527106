"""Benchmarks: `make bench` (or `python -m bench`), `make bench QUICK=1` for a CI-sized run."""
