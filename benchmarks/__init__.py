"""Benchmarks: run as `python -m benchmarks.NAME`; each prints one JSON document."""
