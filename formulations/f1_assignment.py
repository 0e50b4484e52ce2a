r"""F1: the single-job assignment MILP (DESIGN.md section 3, F1), weak and aggregated.

Data for job j (model with layers 1..L, source s, sink t): C = compute nodes (c_n > 0);
tau_{l,n} = compute time of layer l on n; D^l_{ik} = shortest transfer time of o_l from i to k
(arc weight o_l / b_a + delta_a; one all-pairs table per distinct tensor size, because with
delta > 0 the best path depends on o_l; ``_layered.TransferTables``). D^l_{ii} = 0.

Variables: x_{l,n} in {0,1} for l = 1..L and n in C (layer l runs on n); fixed
x_{0,s} = 1 and x_{L+1,t} = 1 (constants, substituted in the array models; fixed variables in
the Pyomo model). Pair variables y_{l,i,k} >= 0 for l = 0..L over the "stage" pairs
(i, k) in {s} x C (l = 0), C x C (1 <= l < L), C x {t} (l = L) with D^l_{ik} < inf; they stand
for x_{l,i} x_{l+1,k}.

    min  sum_{l=1..L} sum_{n in C} tau_{l,n} x_{l,n} + sum_{l=0..L} sum_{(i,k)} D^l_{ik} y_{l,i,k}
    (A1)  sum_{n in C} x_{l,n} = 1                               l = 1..L (each layer placed once)

Weak linearisation ("F1-weak", McCormick lower bound, the literature's form):
    (A2)  y_{l,i,k} >= x_{l,i} + x_{l+1,k} - 1                   every stage pair with D < inf
    (A2') x_{l,i} + x_{l+1,k} <= 1                               every stage pair with D = inf
          (with a fixed end this reads x_{1,k} = 0 or x_{L,i} = 0: a variable bound)

Aggregated linearisation ("F1-aggregated"):
    (A3)  sum_k y_{l,i,k} = x_{l,i}                              l = 0..L, every tail i of stage l
    (A4)  sum_i y_{l,i,k} = x_{l+1,k}                            l = 0..L, every head k of stage l
(missing pairs with D = inf simply do not appear). (A3)-(A4) make (x, y) a unit flow on the
(layer, node) DAG, so the LP relaxation is integral; with (A2) only it is not (its LP optimum
lets y vanish whenever x_{l,i} + x_{l+1,k} <= 1).

Size: O(L |C|^2) pair variables and, for the weak form, as many (A2) rows.

Decisions: the placement is read off x; path l is a shortest o_l path from node(l) to node(l+1)
(the D^l table's predecessors). The reported objective is recomputed in floating point from
that route (the solver's own value is kept in ``extra["solver_objective"]``); an incumbent
with y above the product of its x values therefore reports its true, lower, latency.

Backends:
- ``pyomo-highs``: the readable reference model (Pyomo, fixed x_{0,s}, x_{L+1,t}); HiGHS via
  ``pyomo.contrib.solver`` ('highs'); LP relaxation by ``core.relax_integer_vars``.
- ``highspy``: the same model from scipy sparse arrays (``Highs.passModel``).
- ``cpsat``: OR-Tools CP-SAT (x and y Boolean; y Boolean is exact because y = x x at every
  integral optimum). Objective coefficients are round(scale * cost) with scale the largest power
  of two keeping scale * (an upper bound on any solution's cost) <= 2^40. A solution uses at
  most 2L+1 cost terms, each off by <= 1/(2 scale), so the decision returned is within
  ``extra["scaling_error_bound"]`` = (2L+1)/scale of the true optimum; the reported bound is
  the CP-SAT bound / scale - (2L+1)/(2 scale). LP relaxation via highspy on the array model.

Exactness: unless ``mip_gap`` is given, HiGHS runs with mip_rel_gap = 1e-9 and mip_abs_gap = 0
(its defaults, 1e-4 and 1e-6, would stop above the optimum) and CP-SAT with
relative_gap_limit = 0. ``time_limit`` applies to the MIP solve; the LP relaxation is solved
afterwards under the same limit and reported in ``lp_relaxation`` (time in
``extra["lp_relaxation_time"]``). ``lp_algorithm`` is refused (UnsupportedOption). Early exits
are ignored (single-job latency, every rho = 1).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np
import scipy.sparse as sp

from dnnsplit.options import SolverOptions, UnsupportedOption
from dnnsplit.registry import SolverSpec, register
from dnnsplit.results import SolveResult, Status
from formulations._layered import (
    NoRoute,
    SparseModel,
    TransferTables,
    highs_status,
    highs_version,
    job_data,
    run_highs,
)
from instances.evaluate import Route
from instances.model import Instance

JOB = 0
CPSAT_TARGET = 2.0**40
PYOMO_MAX_ARCS = 20_000  # benchmarks skip larger layered graphs for the Pyomo model
CPSAT_MAX_ARCS = 10_000  # and for CP-SAT (its model is built row by row in Python)


# ----------------------------------------------------------------------------- data


@dataclass
class F1Data:
    """Everything the F1 models need, in array form.

    Stage pairs p (over all stages l = 0..L): ``stage[p]`` = l, ``tail_node``/``head_node``
    the network nodes, ``tail_col``/``head_col`` the x column (-1: the fixed end x_{0,s} or
    x_{L+1,t}), ``dist`` = D^l (inf: no path).
    """

    L: int
    source: int
    sink: int
    compute: np.ndarray  # C
    sizes: np.ndarray  # o_0..o_L
    tau: np.ndarray  # (L, |C|)
    stage: np.ndarray
    tail_node: np.ndarray
    head_node: np.ndarray
    tail_col: np.ndarray
    head_col: np.ndarray
    dist: np.ndarray
    tables: TransferTables

    @property
    def K(self) -> int:
        return len(self.compute)

    @property
    def num_x(self) -> int:
        return self.L * self.K

    def x_col(self, l: int, k: np.ndarray | int) -> np.ndarray | int:
        """Column of x_{l, C[k]} for l = 1..L."""
        return (l - 1) * self.K + k


def f1_data(instance: Instance, job_index: int = JOB) -> F1Data:
    """Compute times, transfer tables D^l (one per distinct size) and the stage pairs."""
    s, t, L, sizes, tau_all = job_data(instance, job_index)
    net = instance.network
    C = net.compute_nodes.astype(np.int64)
    K = len(C)
    tables = TransferTables(net, origins=np.concatenate(([s], C)))
    parts: list[tuple[np.ndarray, ...]] = []
    k_idx = np.arange(K)
    for l in range(L + 1):
        tails = np.array([s]) if l == 0 else C
        heads = np.array([t]) if l == L else C
        tail_cols = np.array([-1]) if l == 0 else (l - 1) * K + k_idx
        head_cols = np.array([-1]) if l == L else l * K + k_idx
        D = tables.dist(sizes[l], tails, heads)  # (len(tails), len(heads))
        ti, hi = np.meshgrid(np.arange(len(tails)), np.arange(len(heads)), indexing="ij")
        ti, hi = ti.ravel(), hi.ravel()
        parts.append((np.full(len(ti), l), tails[ti], heads[hi], tail_cols[ti], head_cols[hi], D.ravel()))
    cols = [np.concatenate([p[i] for p in parts]) for i in range(6)]
    return F1Data(L, s, t, C, sizes, tau_all[:, C], *cols, tables=tables)


# ----------------------------------------------------------------------------- array model builder


class ArrayBuilder:
    """Accumulates columns and rows (COO triplets) of an LP/MIP, block by block."""

    def __init__(self) -> None:
        self.c: list[np.ndarray] = []
        self.col_lower: list[np.ndarray] = []
        self.col_upper: list[np.ndarray] = []
        self.integer: list[np.ndarray] = []
        self.rows: list[np.ndarray] = []
        self.cols: list[np.ndarray] = []
        self.vals: list[np.ndarray] = []
        self.row_lower: list[np.ndarray] = []
        self.row_upper: list[np.ndarray] = []
        self.num_cols = 0
        self.num_rows = 0
        self.blocks: dict[str, tuple[int, int]] = {}  # name -> row range (labels as in the docstring)

    def add_cols(self, cost: np.ndarray, lower: float, upper: float, integer: bool) -> int:
        n = len(cost)
        self.c.append(np.asarray(cost, dtype=np.float64))
        self.col_lower.append(np.full(n, lower))
        self.col_upper.append(np.full(n, upper))
        self.integer.append(np.full(n, integer))
        first = self.num_cols
        self.num_cols += n
        return first

    def add_rows(self, name: str, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray,
                 lower: np.ndarray, upper: np.ndarray) -> None:
        """Rows numbered 0..len(lower)-1 locally; triplets (rows, cols, vals)."""
        first = self.num_rows
        self.rows.append(np.asarray(rows, dtype=np.int64) + first)
        self.cols.append(np.asarray(cols, dtype=np.int64))
        self.vals.append(np.asarray(vals, dtype=np.float64))
        self.row_lower.append(np.asarray(lower, dtype=np.float64))
        self.row_upper.append(np.asarray(upper, dtype=np.float64))
        self.num_rows += len(lower)
        self.blocks[name] = (first, self.num_rows)

    def set_col_upper(self, cols: np.ndarray, value: float) -> None:
        upper = np.concatenate(self.col_upper)
        upper[cols] = value
        self.col_upper = [upper]

    def model(self) -> SparseModel:
        cat = lambda xs, dt=np.float64: np.concatenate(xs) if xs else np.zeros(0, dt)  # noqa: E731
        A = sp.csc_array(
            (cat(self.vals), (cat(self.rows, np.int64), cat(self.cols, np.int64))), shape=(self.num_rows, self.num_cols)
        )
        return SparseModel(c=cat(self.c), A=A, row_lower=cat(self.row_lower), row_upper=cat(self.row_upper),
                           col_lower=cat(self.col_lower), col_upper=cat(self.col_upper),
                           integer=cat(self.integer, bool).astype(bool))


@dataclass
class F1Columns:
    num_x: int
    y_first: int
    pairs: np.ndarray  # indices into F1Data pair arrays that have a y column (D < inf)


def define_placement(b: ArrayBuilder, d: F1Data) -> None:
    """x_{l,n} binary with cost tau (columns 0..L|C|-1) and (A1) sum_n x_{l,n} = 1."""
    b.add_cols(d.tau.ravel(), 0.0, 1.0, True)
    rows = np.repeat(np.arange(d.L), d.K)
    b.add_rows("A1", rows, np.arange(d.num_x), np.ones(d.num_x), np.ones(d.L), np.ones(d.L))


def define_pairs(b: ArrayBuilder, d: F1Data) -> F1Columns:
    """y_{l,i,k} >= 0 with cost D^l_{ik}, one per stage pair with a finite D."""
    finite = np.flatnonzero(np.isfinite(d.dist))
    first = b.add_cols(d.dist[finite], 0.0, math.inf, False)
    return F1Columns(d.num_x, first, finite)


def define_weak_linearisation(b: ArrayBuilder, d: F1Data, y: F1Columns) -> None:
    """(A2) y >= x_tail + x_head - 1 and (A2') x_tail + x_head <= 1 where D = inf."""
    p = y.pairs
    n = len(p)
    rows, cols, vals = [np.arange(n)], [y.y_first + np.arange(n)], [np.ones(n)]
    for end in (d.tail_col[p], d.head_col[p]):
        var = end >= 0
        rows.append(np.flatnonzero(var))
        cols.append(end[var])
        vals.append(-np.ones(int(var.sum())))
    fixed = (d.tail_col[p] < 0).astype(float) + (d.head_col[p] < 0)
    b.add_rows("A2", np.concatenate(rows), np.concatenate(cols), np.concatenate(vals), -1.0 + fixed,
               np.full(n, math.inf))
    q = np.flatnonzero(~np.isfinite(d.dist))
    if len(q):
        tail, head = d.tail_col[q], d.head_col[q]
        one_end = (tail < 0) | (head < 0)
        # with a fixed end the row is a bound: x = 0
        b.set_col_upper(np.concatenate((head[tail < 0], tail[head < 0])), 0.0)
        both = np.flatnonzero(~one_end)
        m = len(both)
        b.add_rows("A2'", np.repeat(np.arange(m), 2), np.column_stack((tail[both], head[both])).ravel(),
                   np.ones(2 * m), np.full(m, -math.inf), np.ones(m))


def define_aggregated_linearisation(b: ArrayBuilder, d: F1Data, y: F1Columns) -> None:
    """(A3) sum_k y_{l,i,k} = x_{l,i}; (A4) sum_i y_{l,i,k} = x_{l+1,k} (fixed ends: = 1)."""
    p = y.pairs
    ycols = y.y_first + np.arange(len(p))
    for label, end in (("A3", d.tail_col), ("A4", d.head_col)):
        # one row per x column (L|C| of them) plus one for the fixed end (row index num_x)
        key = np.where(end[p] >= 0, end[p], d.num_x)
        rows = np.concatenate((key, np.arange(d.num_x)))
        cols = np.concatenate((ycols, np.arange(d.num_x)))
        vals = np.concatenate((np.ones(len(p)), -np.ones(d.num_x)))
        # every x_{l,n} is the tail of exactly one stage (l) and the head of one (l-1)
        rhs = np.zeros(d.num_x + 1)
        rhs[d.num_x] = 1.0
        b.add_rows(label, rows, cols, vals, rhs, rhs)


Variant = Callable[[ArrayBuilder, F1Data, F1Columns], None]
VARIANTS: dict[str, Variant] = {
    "F1-weak": define_weak_linearisation,
    "F1-aggregated": define_aggregated_linearisation,
}


def build_arrays(d: F1Data, variant: str) -> tuple[SparseModel, F1Columns]:
    """Base model (placement, pairs, objective) plus the chosen linearisation add-on."""
    b = ArrayBuilder()
    define_placement(b, d)
    y = define_pairs(b, d)
    VARIANTS[variant](b, d, y)
    return b.model(), y


# ----------------------------------------------------------------------------- decisions


def route_from_x(d: F1Data, x: np.ndarray) -> Route:
    """Placement from x (largest value per layer), paths from the D^l tables."""
    X = np.asarray(x[: d.num_x]).reshape(d.L, d.K)
    placement = tuple(int(n) for n in d.compute[np.argmax(X, axis=1)])
    nodes = (d.source, *placement, d.sink)
    paths = tuple(d.tables.path(d.sizes[l], nodes[l], nodes[l + 1]) for l in range(d.L + 1))
    return Route(placement, paths)


def _result(formulation: str, backend: str, status: Status, **kwargs: Any) -> SolveResult:
    route = kwargs.pop("route", None)
    if route is not None:
        kwargs["decision"] = {JOB: (route,)}
    return SolveResult(formulation, backend, status, **kwargs)


def _sizes(d: F1Data, model: SparseModel | None = None) -> dict[str, int]:
    out = {"x_vars": d.num_x, "y_vars": int(np.isfinite(d.dist).sum()), "distinct_sizes": len(set(d.sizes.tolist()))}
    if model is not None:
        out.update(columns=model.num_cols, rows=model.num_rows, nonzeros=int(model.A.nnz))
    return out


# ----------------------------------------------------------------------------- highspy


def _solve_highspy(variant: str) -> Callable[[Instance, SolverOptions], SolveResult]:
    def solve(instance: Instance, options: SolverOptions) -> SolveResult:
        t0 = time.perf_counter()
        d = f1_data(instance)
        model, _ = build_arrays(d, variant)
        build = time.perf_counter() - t0
        out = run_highs(model, options)
        status = highs_status(out.model_status)
        lp = run_highs(model, replace(options, raw={}), relax=True)
        common: dict[str, Any] = dict(
            solver="HiGHS", solver_version=highs_version(), build_time=build, solve_time=out.solve_time,
            iterations=out.iterations, nodes=out.nodes,
            lp_relaxation=lp.objective if lp.model_status == "Optimal" else None,
            extra={"model_status": out.model_status, "solver_objective": out.objective, "lp_relaxation_time": lp.solve_time,
                   "lp_iterations": lp.iterations, **_sizes(d, model)},
        )
        return _finish(variant, "highspy", d, status, out.x, out.bound, out.model_status, common)

    return solve


def _finish(variant: str, backend: str, d: F1Data, status: Status, x: np.ndarray | None, bound: float | None,
            message: str, common: dict[str, Any]) -> SolveResult:
    if status == Status.INFEASIBLE:
        return _result(variant, backend, status, message="no placement reaches the sink", **common)
    if x is None:
        if status in (Status.OPTIMAL, Status.FEASIBLE):
            status = Status.ERROR
        return _result(variant, backend, status, bound=bound, message=message, **common)
    try:
        route = route_from_x(d, x)
    except NoRoute as err:
        return _result(variant, backend, Status.ERROR, message=f"solution has no route: {err}", **common)
    value = _route_value(d, route)
    if bound is not None and status == Status.OPTIMAL:
        bound = min(bound, value)
    return _result(variant, backend, status, objective=value, bound=bound, route=route, **common)


def _route_value(d: F1Data, route: Route) -> float:
    """tau + D^l of the route, in floating point (= route_cost along the D^l paths)."""
    nodes = (d.source, *route.placement, d.sink)
    total = float(sum(d.tau[l, int(np.searchsorted(d.compute, n))] for l, n in enumerate(route.placement)))
    for l in range(d.L + 1):
        total += float(d.tables.dist(d.sizes[l], [nodes[l]], [nodes[l + 1]])[0, 0])
    return total


# ----------------------------------------------------------------------------- pyomo


def build_pyomo(d: F1Data, variant: str) -> Any:
    """The readable reference model: x over (l, n) with x_{0,s}, x_{L+1,t} fixed to 1."""
    import pyomo.environ as pyo

    m = pyo.ConcreteModel(name=variant)
    C = [int(n) for n in d.compute]
    L = d.L
    slots = [(0, d.source)] + [(l, n) for l in range(1, L + 1) for n in C] + [(L + 1, d.sink)]
    m.X = pyo.Set(initialize=slots, dimen=2)
    m.x = pyo.Var(m.X, domain=pyo.Binary)
    m.x[0, d.source].fix(1)
    m.x[L + 1, d.sink].fix(1)
    finite = np.isfinite(d.dist)
    pairs = [(int(l), int(i), int(k)) for l, i, k in zip(d.stage[finite], d.tail_node[finite], d.head_node[finite])]
    D = dict(zip(pairs, d.dist[finite].tolist()))
    m.P = pyo.Set(initialize=pairs, dimen=3)
    m.y = pyo.Var(m.P, domain=pyo.NonNegativeReals)
    tau = {(l, n): float(d.tau[l - 1, k]) for l in range(1, L + 1) for k, n in enumerate(C)}
    m.latency = pyo.Objective(
        expr=pyo.quicksum(tau[l, n] * m.x[l, n] for (l, n) in tau) + pyo.quicksum(D[p] * m.y[p] for p in m.P),
        sense=pyo.minimize,
    )
    m.assign = pyo.Constraint(range(1, L + 1), rule=lambda m, l: pyo.quicksum(m.x[l, n] for n in C) == 1)  # (A1)
    if variant == "F1-weak":
        define_pyomo_weak(m, d)
    else:
        define_pyomo_aggregated(m, d)
    return m


def define_pyomo_weak(m: Any, d: F1Data) -> None:
    import pyomo.environ as pyo

    m.mccormick = pyo.Constraint(m.P, rule=lambda m, l, i, k: m.y[l, i, k] >= m.x[l, i] + m.x[l + 1, k] - 1)  # (A2)
    bad = ~np.isfinite(d.dist)
    forbidden = [(int(l), int(i), int(k)) for l, i, k in zip(d.stage[bad], d.tail_node[bad], d.head_node[bad])]
    m.F = pyo.Set(initialize=forbidden, dimen=3)
    m.forbidden = pyo.Constraint(m.F, rule=lambda m, l, i, k: m.x[l, i] + m.x[l + 1, k] <= 1)  # (A2')


def define_pyomo_aggregated(m: Any, d: F1Data) -> None:
    import pyomo.environ as pyo

    out_pairs: dict[tuple[int, int], list] = {}
    in_pairs: dict[tuple[int, int], list] = {}
    for l, i, k in m.P:
        out_pairs.setdefault((l, i), []).append((l, i, k))
        in_pairs.setdefault((l + 1, k), []).append((l, i, k))
    tails = [(l, n) for (l, n) in m.X if l <= d.L]
    heads = [(l, n) for (l, n) in m.X if l >= 1]
    m.out_flow = pyo.Constraint(  # (A3)
        tails, rule=lambda m, l, i: pyo.quicksum(m.y[p] for p in out_pairs.get((l, i), [])) == m.x[l, i]
    )
    m.in_flow = pyo.Constraint(  # (A4)
        heads, rule=lambda m, l, k: pyo.quicksum(m.y[p] for p in in_pairs.get((l, k), [])) == m.x[l, k]
    )


def _solve_pyomo(variant: str) -> Callable[[Instance, SolverOptions], SolveResult]:
    def solve(instance: Instance, options: SolverOptions) -> SolveResult:
        import pyomo
        import pyomo.environ as pyo
        from pyomo.contrib.solver.common.results import TerminationCondition

        from formulations.f2_layered import _pyomo_highs, _pyomo_solver_options, pyomo_iterations, pyomo_nodes

        t0 = time.perf_counter()
        d = f1_data(instance)
        if _empty_end_stage(d):  # Pyomo refuses the trivially infeasible row 0 == x_{0,s} = 1
            return _result(variant, "pyomo-highs", Status.INFEASIBLE, build_time=time.perf_counter() - t0,
                           solver="HiGHS via Pyomo", message="no placement reaches the sink")
        m = build_pyomo(d, variant)
        build = time.perf_counter() - t0
        opt = _pyomo_highs()
        kwargs: dict[str, Any] = dict(
            load_solutions=False, raise_exception_on_nonoptimal_result=False, time_limit=options.time_limit,
            threads=options.threads, solver_options=_pyomo_solver_options(options, mip=True),
        )
        t1 = time.perf_counter()
        res = opt.solve(m, **kwargs)
        solve_time = time.perf_counter() - t1
        tc = res.termination_condition
        x = None
        if res.incumbent_objective is not None:
            vals = res.solution_loader.get_vars()
            x = np.array([vals[m.x[l, int(n)]] for l in range(1, d.L + 1) for n in d.compute])
        status = {TerminationCondition.convergenceCriteriaSatisfied: Status.OPTIMAL,
                  TerminationCondition.maxTimeLimit: Status.TIME_LIMIT,
                  TerminationCondition.provenInfeasible: Status.INFEASIBLE,
                  TerminationCondition.infeasibleOrUnbounded: Status.INFEASIBLE}.get(tc, Status.ERROR)
        bound = res.objective_bound if res.objective_bound is not None and math.isfinite(res.objective_bound) else None
        lp_value, lp_time = None, None
        if status != Status.INFEASIBLE:
            pyo.TransformationFactory("core.relax_integer_vars").apply_to(m)
            t2 = time.perf_counter()
            lp = opt.solve(m, load_solutions=False, raise_exception_on_nonoptimal_result=False,
                           time_limit=options.time_limit, threads=options.threads)
            lp_time = time.perf_counter() - t2
            if lp.termination_condition == TerminationCondition.convergenceCriteriaSatisfied:
                lp_value = float(lp.incumbent_objective)
        common: dict[str, Any] = dict(
            solver="HiGHS via Pyomo", solver_version=f"pyomo {pyomo.__version__}, HiGHS {highs_version()}",
            build_time=build, solve_time=solve_time, lp_relaxation=lp_value,
            iterations=pyomo_iterations(res), nodes=pyomo_nodes(res),
            extra={"termination": tc.name, "solver_objective": res.incumbent_objective, "lp_relaxation_time": lp_time,
                   **_sizes(d)},
        )
        return _finish(variant, "pyomo-highs", d, status, x, bound, tc.name, common)

    return solve


def _empty_end_stage(d: F1Data) -> bool:
    """Whether stage 0 or stage L has no finite pair (no compute node reachable / reaching t)."""
    finite = np.isfinite(d.dist)
    return not finite[d.stage == 0].any() or not finite[d.stage == d.L].any()


# ----------------------------------------------------------------------------- CP-SAT


def cpsat_scale(d: F1Data) -> float:
    """Largest power of two with scale * (upper bound on any solution's cost) <= 2^40."""
    D = np.where(np.isfinite(d.dist), d.dist, 0.0)
    ub = float(d.tau.max(axis=1).sum()) + float(np.sum([D[d.stage == l].max(initial=0.0) for l in range(d.L + 1)]))
    return 2.0 ** np.floor(np.log2(CPSAT_TARGET / max(ub, 1e-300)))


def _solve_cpsat(variant: str) -> Callable[[Instance, SolverOptions], SolveResult]:
    def solve(instance: Instance, options: SolverOptions) -> SolveResult:
        import ortools
        from ortools.sat.python import cp_model

        t0 = time.perf_counter()
        d = f1_data(instance)
        model, cols = build_arrays(d, variant)
        scale = cpsat_scale(d)
        cp = cp_model.CpModel()
        n = model.num_cols
        upper = model.col_upper
        # every column is 0/1: x binary; y = x x at integral points (weak: y = max(0, x+x-1) at the optimum)
        xs = [cp.new_bool_var(f"v{j}") for j in range(n)]
        for j in np.flatnonzero(upper < 0.5):
            cp.add(xs[j] == 0)
        A = sp.csr_array(model.A)
        for r in range(model.num_rows):
            lo, hi = model.row_lower[r], model.row_upper[r]
            idx = A.indices[A.indptr[r] : A.indptr[r + 1]]
            coef = A.data[A.indptr[r] : A.indptr[r + 1]].astype(np.int64)  # all +-1 (integral)
            expr = cp_model.LinearExpr.weighted_sum([xs[j] for j in idx], coef.tolist())
            lo_i = int(math.ceil(lo - 1e-9)) if math.isfinite(lo) else None
            hi_i = int(math.floor(hi + 1e-9)) if math.isfinite(hi) else None
            if lo_i is not None and hi_i is not None and lo_i == hi_i:
                cp.add(expr == lo_i)
            else:
                if lo_i is not None:
                    cp.add(expr >= lo_i)
                if hi_i is not None:
                    cp.add(expr <= hi_i)
        icost = np.rint(model.c * scale).astype(np.int64)
        cp.minimize(cp_model.LinearExpr.weighted_sum(xs, icost.tolist()))
        build = time.perf_counter() - t0
        solver = cp_model.CpSolver()
        prm = solver.parameters
        prm.num_workers = int(options.threads)
        prm.random_seed = int(options.seed)
        if options.time_limit is not None:
            prm.max_time_in_seconds = float(options.time_limit)
        prm.relative_gap_limit = 0.0 if options.mip_gap is None else float(options.mip_gap)
        for name, value in options.raw.items():
            try:
                setattr(prm, name, value)
            except (AttributeError, TypeError, ValueError) as err:
                raise UnsupportedOption(f"CP-SAT refused parameter {name}={value!r}: {err}") from None
        t1 = time.perf_counter()
        code = solver.solve(cp)
        solve_time = time.perf_counter() - t1
        half = (2 * d.L + 1) / (2.0 * scale)
        lp = run_highs(model, replace(options, raw={}, mip_gap=None), relax=True)
        common: dict[str, Any] = dict(
            solver="OR-Tools CP-SAT", solver_version=ortools.__version__, build_time=build, solve_time=solve_time,
            nodes=int(solver.num_branches), iterations=int(solver.num_conflicts),
            lp_relaxation=lp.objective if lp.model_status == "Optimal" else None,
            extra={"cpsat_status": solver.status_name(code), "cost_scale": scale, "scaling_error_bound": 2 * half,
                   "lp_relaxation_time": lp.solve_time, "lp_relaxation_backend": "highspy", **_sizes(d, model)},
        )
        if code == cp_model.INFEASIBLE:
            return _finish(variant, "cpsat", d, Status.INFEASIBLE, None, None, "infeasible", common)
        has = code in (cp_model.OPTIMAL, cp_model.FEASIBLE)
        x = np.array([solver.value(xs[j]) for j in range(d.num_x)], dtype=float) if has else None
        if has:
            common["extra"]["solver_objective"] = solver.objective_value / scale
        bound = solver.best_objective_bound / scale - half if has or code == cp_model.UNKNOWN else None
        if code == cp_model.OPTIMAL:
            status = Status.OPTIMAL
        elif options.time_limit is not None and (
            # CP-SAT answers UNKNOWN when a limit stopped it before any solution or proof; its
            # own wall_time can fall short of a tiny limit, so either clock counts for FEASIBLE
            code == cp_model.UNKNOWN
            or (code == cp_model.FEASIBLE and max(solver.wall_time, solve_time) >= 0.95 * options.time_limit)
        ):
            status = Status.TIME_LIMIT
        elif code == cp_model.FEASIBLE:
            status = Status.FEASIBLE
        else:
            status = Status.ERROR
        if bound is not None and not math.isfinite(bound):
            bound = None
        message = solver.status_name(code)
        if status == Status.TIME_LIMIT and x is None:
            message = f"time limit {options.time_limit} s reached before any solution (CP-SAT {message})"
        return _finish(variant, "cpsat", d, status, x, bound, message, common)

    return solve


# ----------------------------------------------------------------------------- registry

_MIP = frozenset({"time_limit", "mip_gap", "threads", "seed", "raw"})

for _variant in VARIANTS:
    register(SolverSpec(_variant, "pyomo-highs", _solve_pyomo(_variant), "single", "latency", accepts=_MIP,
                        description="assignment MILP, Pyomo reference model solved by HiGHS",
                        max_layered_arcs=PYOMO_MAX_ARCS))
    register(SolverSpec(_variant, "highspy", _solve_highspy(_variant), "single", "latency", accepts=_MIP,
                        description="assignment MILP from sparse arrays, HiGHS via highspy"))
    register(SolverSpec(_variant, "cpsat", _solve_cpsat(_variant), "single", "latency", accepts=_MIP,
                        description="assignment model, OR-Tools CP-SAT (integer-scaled costs)",
                        max_layered_arcs=CPSAT_MAX_ARCS))
