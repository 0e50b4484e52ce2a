"""OR-Tools CP-SAT on a 0/1 :class:`SparseModel` with integral coefficients (integer-scaled costs).

CP-SAT takes integer objective coefficients. :func:`solve` rounds ``scale * c`` with ``scale``
the largest power of two keeping ``scale * cost_bound <= 2^48`` and the sum of every scaled
coefficient below 2^62 (no int64 overflow); ``cost_bound`` is an upper bound on any solution's
cost given by the formulation. When the formulation also knows a feasible solution's cost
``upper`` (``prune_above``), every column whose own cost exceeds it is fixed at 0 (costs are
>= 0: no solution as good as that one uses it) and the bound becomes ``max_cost_terms x
upper``, so the scale follows the optimum's magnitude rather than the data's extremes (links of
1 B/s and 1 GB/s in one network). A solution with at most ``max_cost_terms`` nonzero cost terms
is then off by at most ``h`` = max_cost_terms x (the largest rounding error of a live cost, at
most 1 / (2 scale)) from its true cost, so the decision returned is within
``scaling_error_bound`` = 2 h of the true optimum, and the reported bound is CP-SAT's bound /
scale - h. Status optimal only when
that error bound is within the exactness tolerance (``mip_gap``, else EXACT_REL_GAP) of the
objective: otherwise CP-SAT's "optimal" is reported as feasible with the bound it proves.

Option mapping (the one place): threads -> num_workers, seed -> random_seed, the clock's budget
-> max_time_in_seconds, mip_gap (exact 0 when not given) -> relative_gap_limit, raw -> CP-SAT
parameters by name (an unknown name raises UnsupportedOption). Status map: OPTIMAL -> optimal,
INFEASIBLE -> infeasible, FEASIBLE and UNKNOWN -> time limit when the call's time budget is
used up (CP-SAT stopped by the limit: with an incumbent, or before any solution or proof),
else FEASIBLE -> feasible (a raw stop rule) and UNKNOWN -> error; MODEL_INVALID -> error.
"""

from __future__ import annotations

import functools
import math
import time

import numpy as np
import scipy.sparse as sp

from dnnsplit.options import Clock, SolverOptions, UnsupportedOption
from dnnsplit.results import Status
from dnnsplit.solvers.model import SolverRun, SparseModel, out_of_time

SOLVER = "OR-Tools CP-SAT"
TARGET = 2.0**48
SUM_LIMIT = 2.0**62  # the scaled coefficients of all columns together stay below this (int64)
OPTIONS = frozenset({"time_limit", "mip_gap", "threads", "seed", "raw"})


@functools.lru_cache(maxsize=1)
def version() -> str:
    import ortools

    return ortools.__version__


def cost_scale(cost_bound: float, coefficient_sum: float = 0.0) -> float:
    """Largest power of two with scale * cost_bound <= 2^48 and scale * coefficient_sum < 2^62."""
    scale = TARGET / max(cost_bound, 1e-300)
    if coefficient_sum > 0:
        scale = min(scale, SUM_LIMIT / coefficient_sum)
    return float(2.0 ** np.floor(np.log2(scale)))


def apply_options(solver: object, options: SolverOptions, time_limit: float | None) -> None:
    prm = solver.parameters  # type: ignore[attr-defined]
    prm.num_workers = int(options.threads)
    prm.random_seed = int(options.seed)
    if time_limit is not None:
        prm.max_time_in_seconds = float(max(time_limit, 1e-3))
    prm.relative_gap_limit = 0.0 if options.mip_gap is None else float(options.mip_gap)
    for name, value in options.raw.items():
        try:
            setattr(prm, name, value)
        except (AttributeError, TypeError, ValueError) as err:
            raise UnsupportedOption(f"CP-SAT refused parameter {name}={value!r}: {err}") from None


def status_of(code: int, limited: bool) -> Status:
    from ortools.sat.python import cp_model

    if code == cp_model.OPTIMAL:
        return Status.OPTIMAL
    if code == cp_model.INFEASIBLE:
        return Status.INFEASIBLE
    if code in (cp_model.FEASIBLE, cp_model.UNKNOWN) and limited:
        return Status.TIME_LIMIT
    if code == cp_model.FEASIBLE:
        return Status.FEASIBLE
    return Status.ERROR


def solve(model: SparseModel, options: SolverOptions, clock: Clock, *, cost_bound: float,
          max_cost_terms: int, prune_above: float | None = None) -> SolverRun:
    """Solve a 0/1 model (every column in [0, 1], coefficients integral, costs >= 0) with CP-SAT."""
    from ortools.sat.python import cp_model

    from dnnsplit.options import EXACT_REL_GAP

    if clock.expired():
        return out_of_time(SOLVER, version())
    t0 = time.perf_counter()
    upper = np.asarray(model.col_upper, dtype=float).copy()
    if prune_above is not None and np.isfinite(prune_above) and prune_above >= 0:
        upper[model.c > prune_above * (1 + 1e-12)] = 0.0  # too dear for any solution as good as the known one
        cost_bound = min(cost_bound, max_cost_terms * prune_above)
    live = upper >= 0.5
    scale = cost_scale(cost_bound, float(np.abs(model.c[live]).sum())) if cost_bound > 0 else 1.0
    cp = cp_model.CpModel()
    n = model.num_cols
    xs = [cp.new_bool_var(f"v{j}") for j in range(n)]
    for j in np.flatnonzero(~live):
        cp.add(xs[j] == 0)
    A = sp.csr_array(model.A)
    for r in range(model.num_rows):
        lo, hi = model.row_lower[r], model.row_upper[r]
        idx = A.indices[A.indptr[r] : A.indptr[r + 1]]
        coef = A.data[A.indptr[r] : A.indptr[r + 1]]
        if np.any(coef != np.rint(coef)):
            raise ValueError(f"CP-SAT needs integral coefficients; row {r} has {coef[coef != np.rint(coef)][0]}")
        expr = cp_model.LinearExpr.weighted_sum([xs[j] for j in idx], coef.astype(np.int64).tolist())
        lo_i = int(math.ceil(lo - 1e-9)) if math.isfinite(lo) else None
        hi_i = int(math.floor(hi + 1e-9)) if math.isfinite(hi) else None
        if lo_i is not None and hi_i is not None and lo_i == hi_i:
            cp.add(expr == lo_i)
        else:
            if lo_i is not None:
                cp.add(expr >= lo_i)
            if hi_i is not None:
                cp.add(expr <= hi_i)
    icost = np.where(live, np.rint(model.c * scale), 0.0).astype(np.int64)
    # the largest rounding error of a live cost: a solution's rounded cost is within
    # max_cost_terms times it of its true cost (at most max_cost_terms / (2 scale))
    rounding = float(np.max(np.abs(icost / scale - model.c)[live], initial=0.0))
    cp.minimize(cp_model.LinearExpr.weighted_sum(xs, icost.tolist()))
    build = time.perf_counter() - t0
    solver = cp_model.CpSolver()
    budget = clock.budget(1e-3)
    apply_options(solver, options, budget)
    t1 = time.perf_counter()
    code = solver.solve(cp)
    elapsed = time.perf_counter() - t1
    half = max_cost_terms * rounding
    has = code in (cp_model.OPTIMAL, cp_model.FEASIBLE)
    x = np.array([solver.value(v) for v in xs], dtype=float) if has else None
    objective = solver.objective_value / scale if has else None
    bound = solver.best_objective_bound / scale - half if has or code == cp_model.UNKNOWN else None
    if bound is not None and not math.isfinite(bound):
        bound = None
    # stopped by the time limit: the budget is used up (by CP-SAT's clock or the backend's)
    limited = budget is not None and (clock.expired() or max(solver.wall_time, elapsed) >= 0.99 * budget)
    status = status_of(code, limited=limited)
    info = {"cpsat_status": solver.status_name(code), "cost_scale": scale, "scaling_error_bound": 2 * half,
            "model_build_time": build, "pruned_columns": int((~live).sum() - (model.col_upper < 0.5).sum())}
    tolerance = max(options.mip_rel_gap, EXACT_REL_GAP)
    if status == Status.OPTIMAL and objective is not None and 2 * half > tolerance * max(abs(objective), 1e-300):
        status = Status.FEASIBLE  # CP-SAT's optimum of the rounded costs: not certified for the true ones
        info["not_certified"] = (f"integer scaling error bound {2 * half:.3g} exceeds the tolerance "
                                 f"{tolerance:g} x objective")
    return SolverRun(status, solver.status_name(code), objective, bound, x, SOLVER, version(),
                     int(solver.num_conflicts), int(solver.num_branches), elapsed, info)
