"""dnnsplit: formulations, solvers and benchmarks for splitting DNN inference over a network."""

__version__ = "0.1.0"
