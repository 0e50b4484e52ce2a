"""Formulations: F1 (assignment MILP), F2 (layered-graph flow), F3 (multi-job capacitated flow,
arc and path forms). Each module writes its maths in its docstring and registers its
(formulation, backend) pairs; ``dnnsplit.catalogue`` imports them all."""
