"""Benchmarks. Run ``./dev bench`` (all) or ``./dev bench NAME``; each prints its figures."""
