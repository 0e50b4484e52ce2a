"""Solver adapters: one module per solver library, each owning its option mapping, its status
map and a typed outcome (:class:`dnnsplit.solvers.model.SolverRun`).

| module | library | solves |
|---|---|---|
| ``highs`` | highspy | any :class:`SparseModel` (LP, MILP); the incremental master LP of column generation |
| ``scip`` | PySCIPOpt | any :class:`SparseModel` (LP, MILP) |
| ``pyomo_highs`` | Pyomo + HiGHS | the readable Pyomo reference models |
| ``cpsat`` | OR-Tools CP-SAT | 0/1 models with integral coefficients (integer-scaled costs) |
| ``ortools_mcf`` | OR-Tools min-cost flow | network flows (int64-scaled costs) |

``ARRAY_BACKEND_MODULES`` lists the adapters that solve any :class:`SparseModel`: every exact
LP/MILP formulation registers one backend per entry (:func:`array_backends`), so adding such
a solver library is one adapter module and one name here.
"""

from __future__ import annotations

import importlib

from dnnsplit.solvers.model import ArrayBackend

ARRAY_BACKEND_MODULES = ("dnnsplit.solvers.highs", "dnnsplit.solvers.scip")


def array_backends() -> tuple[ArrayBackend, ...]:
    """The ``BACKEND`` of every module in ``ARRAY_BACKEND_MODULES``, in that order."""
    return tuple(importlib.import_module(name).BACKEND for name in ARRAY_BACKEND_MODULES)
