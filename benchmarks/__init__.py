"""Benchmarks: the pytest-benchmark suite (``test_solvers.py``) and the campaign runner (``campaign.py``)."""
