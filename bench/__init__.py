"""Benchmarks: speed targets measured as ratios against a baseline in the same run.

`python -m bench` runs every benchmark, `python -m bench NAME` one; BENCHMARKS.md lists the
targets and the numbers seen. Tests check behaviour only; timings live here.
"""
