"""OR-Tools ``SimpleMinCostFlow`` (network simplex family) on int64-scaled costs.

OR-Tools takes int64 costs and silently truncates floats, so :func:`solve` scales and rounds
explicitly: the scale is the largest power of two with ``max_cost * scale * (|V| + 1) <= 2^60``
(OR-Tools multiplies costs by |V| + 1 internally), or ``raw={"cost_scale": x}``. Overflow (a
scale below 1, or OR-Tools' BAD_COST_RANGE) is status error with a message; the flows come
back as floats, and the caller recomputes its objective in floating point. Status map:
OPTIMAL -> optimal, INFEASIBLE -> infeasible, BAD_COST_RANGE and everything else -> error.
The network simplex cannot be interrupted; the backend's clock is checked before the call.
"""

from __future__ import annotations

import functools
import time

import numpy as np

from dnnsplit.options import Clock, SolverOptions, UnsupportedOption
from dnnsplit.results import Status
from dnnsplit.solvers.model import SolverRun, out_of_time

SOLVER = "OR-Tools SimpleMinCostFlow"
HEADROOM = 2.0**60
OPTIONS = frozenset({"time_limit", "raw"})
RAW = frozenset({"cost_scale"})


@functools.lru_cache(maxsize=1)
def version() -> str:
    import ortools

    return ortools.__version__


def scale_for(max_cost: float, num_vertices: int) -> float:
    """Largest power of two with max_cost * scale * (|V| + 1) <= 2^60 (inf-free input)."""
    if max_cost <= 0:
        return 2.0**40
    return float(2.0 ** np.floor(np.log2(HEADROOM / (max_cost * (num_vertices + 1)))))


def check_options(options: SolverOptions) -> None:
    unknown = set(options.raw) - RAW
    if unknown:
        raise UnsupportedOption(f"backend 'ortools-mcf' takes only raw option 'cost_scale', got {sorted(unknown)}")


def solve(tail: np.ndarray, head: np.ndarray, cost: np.ndarray, capacity: np.ndarray, supplies: np.ndarray,
          options: SolverOptions, clock: Clock) -> SolverRun:
    """Min-cost flow with explicitly scaled costs; ``x`` = the flows, ``info["cost_scale"]``."""
    from ortools.graph.python import min_cost_flow

    check_options(options)
    num_vertices = len(supplies)
    max_cost = float(cost.max()) if len(cost) else 0.0
    scale = float(options.raw.get("cost_scale", scale_for(max_cost, num_vertices)))
    info: dict = {"cost_scale": scale}
    scaled = cost * scale
    if not scale > 0 or scale < 1 and max_cost > 0 or not np.all(scaled < 2.0**62):
        return SolverRun(Status.ERROR, f"cost scale {scale:g} cannot represent arc costs up to {max_cost:g} in int64",
                         None, None, None, SOLVER, version(), info=info)
    if clock.expired():
        return out_of_time(SOLVER, version())
    icost = np.rint(scaled).astype(np.int64)
    smcf = min_cost_flow.SimpleMinCostFlow()
    smcf.add_arcs_with_capacity_and_unit_cost(tail.astype(np.int32), head.astype(np.int32),
                                              capacity.astype(np.int64), icost)
    smcf.set_nodes_supplies(np.arange(num_vertices, dtype=np.int32), supplies.astype(np.int64))
    start = time.perf_counter()
    code = smcf.solve()
    elapsed = time.perf_counter() - start
    S = min_cost_flow.SimpleMinCostFlow
    info["mcf_status"] = str(code)
    if code == S.INFEASIBLE:
        return SolverRun(Status.INFEASIBLE, str(code), None, None, None, SOLVER, version(), solve_time=elapsed, info=info)
    if code == S.BAD_COST_RANGE:
        return SolverRun(Status.ERROR, f"OR-Tools BAD_COST_RANGE: scaled costs (scale {scale:g}, max {icost.max()}) "
                         "overflow int64", None, None, None, SOLVER, version(), solve_time=elapsed, info=info)
    if code != S.OPTIMAL:
        return SolverRun(Status.ERROR, f"OR-Tools min-cost flow returned {code}", None, None, None, SOLVER, version(),
                         solve_time=elapsed, info=info)
    flow = np.asarray(smcf.flows(np.arange(len(tail), dtype=np.int32)), dtype=np.float64)
    info["scaled_optimal_cost"] = int(smcf.optimal_cost())
    return SolverRun(Status.OPTIMAL, str(code), float(flow @ cost), None, flow, SOLVER, version(),
                     solve_time=elapsed, info=info)
