r"""F1: the single-job assignment MILP (DESIGN.md section 3, F1), weak and aggregated.

Data for job j (model with layers 1..L, source s, sink t): C = compute nodes (c_n > 0);
tau_{l,n} = compute time of layer l on n; D^l_{ik} = shortest transfer time of o_l from i to k
(arc weight o_l / b_a + delta_a; one all-pairs table per distinct tensor size, because with
delta > 0 the best path depends on o_l; ``dnnsplit.graph.shortest.TransferTables``). D^l_{ii} = 0.

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
- one per array backend of ``dnnsplit.solvers`` (``highspy``, ``scip``): the model from scipy
  sparse arrays (``ArrayBuilder``), LP relaxation by the same backend with integrality dropped.
- ``pyomo-highs``: the readable reference model (Pyomo, fixed x_{0,s}, x_{L+1,t}); HiGHS via
  ``dnnsplit.solvers.pyomo_highs``; LP relaxation by ``core.relax_integer_vars``.
- ``cpsat``: OR-Tools CP-SAT (``dnnsplit.solvers.cpsat``; x and y Boolean: y Boolean is exact
  because y = x x at every integral optimum). Integer-scaled costs with cost bound = the sum over
  layers of the largest tau plus the sum over stages of the largest finite D; a solution uses at
  most 2L+1 cost terms, so the decision returned is within ``extra["scaling_error_bound"]`` =
  (2L+1)/scale of the true optimum. LP relaxation via the HiGHS array backend.

Units: the HiGHS, SCIP and Pyomo models state the objective in units of a power of two near
the optimal latency (``dnnsplit.graph.shortest.latency_unit``, recorded in
``extra["objective_unit"]``), so solver tolerances act relative to the data (a latency of
microseconds would otherwise sit inside HiGHS's absolute tolerances); values are multiplied
back exactly. CP-SAT fixes the columns dearer than the best single-node placement
(``single_node_latency``, a feasible solution) at 0 and scales the rest to that magnitude; its
"optimal" is reported only when the scaling error bound is within the tolerance.

Exactness: unless ``mip_gap`` is given, the MILP backends run to a relative gap of 1e-9 with
the absolute gap off (HiGHS's defaults, 1e-4 and 1e-6, would stop above the optimum) and CP-SAT
with relative_gap_limit = 0. ``time_limit`` is the wall clock of the whole call (DESIGN.md
section 6): the model build, the MILP, then the LP relaxation in the time left (reported in
``lp_relaxation``, its seconds in ``extra["lp_relaxation_time"]``; none when no time is left).
``lp_algorithm`` is refused (UnsupportedOption). Early exits are ignored (single-job latency,
every rho = 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np

from dnnsplit.graph.layered import job_data
from dnnsplit.graph.shortest import NoRoute, TransferTables, latency_unit
from dnnsplit.options import Clock, SolverOptions
from dnnsplit.registry import SolverSpec, register
from dnnsplit.results import SolveResult, Status
from dnnsplit.solvers import array_backends, cpsat, highs, pyomo_highs
from dnnsplit.solvers.model import ArrayBackend, ArrayBuilder, SolverRun, SparseModel, result_of, without_incumbent
from instances.evaluate import Route
from instances.model import Instance

JOB = 0
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


# ----------------------------------------------------------------------------- model (arrays)


@dataclass
class F1Columns:
    num_x: int
    y_first: int
    pairs: np.ndarray  # indices into F1Data pair arrays that have a y column (D < inf)


def define_placement(b: ArrayBuilder, d: F1Data) -> None:
    """x_{l,n} binary with cost tau (columns 0..L|C|-1) and (A1) sum_n x_{l,n} = 1."""
    b.add_cols(d.num_x, 0.0, 1.0, True, cost=d.tau.ravel(), name="x")
    r0 = b.add_rows(1.0, 1.0, d.L, name="A1")
    b.add_entries(r0 + np.repeat(np.arange(d.L), d.K), np.arange(d.num_x), np.ones(d.num_x))


def define_pairs(b: ArrayBuilder, d: F1Data) -> F1Columns:
    """y_{l,i,k} >= 0 with cost D^l_{ik}, one per stage pair with a finite D."""
    finite = np.flatnonzero(np.isfinite(d.dist))
    first = b.add_cols(len(finite), 0.0, math.inf, False, cost=d.dist[finite], name="y")
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
    r0 = b.add_rows(-1.0 + fixed, math.inf, n, name="A2")
    b.add_entries(r0 + np.concatenate(rows), np.concatenate(cols), np.concatenate(vals))
    q = np.flatnonzero(~np.isfinite(d.dist))
    if len(q):
        tail, head = d.tail_col[q], d.head_col[q]
        one_end = (tail < 0) | (head < 0)
        # with a fixed end the row is a bound: x = 0
        b.set_col_upper(np.concatenate((head[tail < 0], tail[head < 0])), 0.0)
        both = np.flatnonzero(~one_end)
        m = len(both)
        r1 = b.add_rows(-math.inf, 1.0, m, name="A2'")
        b.add_entries(r1 + np.repeat(np.arange(m), 2), np.column_stack((tail[both], head[both])).ravel(),
                      np.ones(2 * m))


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
        r0 = b.add_rows(rhs, rhs, d.num_x + 1, name=label)
        b.add_entries(r0 + rows, cols, vals)


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
    return b.build(), y


# ----------------------------------------------------------------------------- decisions


def route_from_x(d: F1Data, x: np.ndarray) -> Route:
    """Placement from x (largest value per layer), paths from the D^l tables."""
    X = np.asarray(x[: d.num_x]).reshape(d.L, d.K)
    placement = tuple(int(n) for n in d.compute[np.argmax(X, axis=1)])
    nodes = (d.source, *placement, d.sink)
    paths = tuple(d.tables.path(d.sizes[l], nodes[l], nodes[l + 1]) for l in range(d.L + 1))
    return Route(placement, paths)


def _sizes(d: F1Data, model: SparseModel | None = None) -> dict[str, int]:
    out = {"x_vars": d.num_x, "y_vars": int(np.isfinite(d.dist).sum()), "distinct_sizes": len(set(d.sizes.tolist()))}
    if model is not None:
        out.update(columns=model.num_cols, rows=model.num_rows, nonzeros=int(model.A.nnz))
    return out


def _finish(d: F1Data, run: SolverRun, x: np.ndarray | None, result: SolveResult) -> SolveResult:
    """The decision of a MILP run: the placement read off x, the value recomputed from D."""
    result.extra["solver_objective"] = run.objective
    if run.status == Status.INFEASIBLE:
        result.message = "no placement reaches the sink"
        return result
    result.bound = run.bound
    if x is None:
        return without_incumbent(run, result)
    try:
        route = route_from_x(d, x)
    except NoRoute as err:
        result.status, result.message = Status.ERROR, f"solution has no route: {err}"
        return result
    value = _route_value(d, route)
    if result.bound is not None and result.status == Status.OPTIMAL:
        result.bound = min(result.bound, value)
    result.objective, result.decision = value, {JOB: (route,)}
    return result


def _route_value(d: F1Data, route: Route) -> float:
    """tau + D^l of the route, in floating point (= route_cost along the D^l paths)."""
    nodes = (d.source, *route.placement, d.sink)
    total = float(sum(d.tau[l, int(np.searchsorted(d.compute, n))] for l, n in enumerate(route.placement)))
    for l in range(d.L + 1):
        total += float(d.tables.dist(d.sizes[l], [nodes[l]], [nodes[l + 1]])[0, 0])
    return total


def _relaxation(adapter: ArrayBackend, model: SparseModel, unit: float, options: SolverOptions, clock: Clock,
                result: SolveResult) -> None:
    """The LP relaxation in the time left (same backend, integrality dropped, raw options off);
    ``model`` states its objective in ``unit``."""
    lp = adapter.run(model, replace(options, raw={}, mip_gap=None), clock, relax=True).in_units_of(unit)
    result.lp_relaxation = lp.objective if lp.status == Status.OPTIMAL else None
    result.extra.update(lp_relaxation_time=lp.solve_time, lp_iterations=lp.iterations,
                        lp_relaxation_backend=adapter.backend, lp_relaxation_status=lp.solver_status)


# ----------------------------------------------------------------------------- array backends


def _solve_arrays(variant: str, adapter: ArrayBackend) -> Callable[[Instance, SolverOptions], SolveResult]:
    def solve(instance: Instance, options: SolverOptions) -> SolveResult:
        clock = options.clock()
        d = f1_data(instance)
        model, _ = build_arrays(d, variant)
        unit = latency_unit(instance)
        scaled = model.in_units(unit)  # tolerances relative to the data (module docstring)
        build = clock.elapsed()
        run = adapter.run(scaled, options, clock).in_units_of(unit)
        result = result_of(run, build_time=build, extra={**_sizes(d, model), "objective_unit": unit})
        _relaxation(adapter, scaled, unit, options, clock, result)
        return _finish(d, run, run.x, result)

    return solve


# ----------------------------------------------------------------------------- pyomo


def build_pyomo(d: F1Data, variant: str, unit: float = 1.0) -> Any:
    """The readable reference model: x over (l, n) with x_{0,s}, x_{L+1,t} fixed to 1; the
    objective in ``unit`` seconds."""
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
    D = dict(zip(pairs, (d.dist[finite] / unit).tolist()))
    m.P = pyo.Set(initialize=pairs, dimen=3)
    m.y = pyo.Var(m.P, domain=pyo.NonNegativeReals)
    tau = {(l, n): float(d.tau[l - 1, k] / unit) for l in range(1, L + 1) for k, n in enumerate(C)}
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
        clock = options.clock()
        d = f1_data(instance)
        if _empty_end_stage(d):  # Pyomo refuses the trivially infeasible row 0 == x_{0,s} = 1
            return SolveResult(status=Status.INFEASIBLE, build_time=clock.elapsed(), solver=pyomo_highs.SOLVER,
                               message="no placement reaches the sink")
        unit = latency_unit(instance)
        m = build_pyomo(d, variant, unit)
        build = clock.elapsed()
        run = pyomo_highs.solve(m, options, clock, mip=True)
        x = None
        if run.values is not None:
            x = np.array([run.value(m.x[l, int(n)]) for l in range(1, d.L + 1) for n in d.compute])
        run = run.in_units_of(unit)
        result = result_of(run, build_time=build, extra={**_sizes(d), "objective_unit": unit})
        if run.status != Status.INFEASIBLE:
            pyomo_highs.relax_integers(m)
            lp = pyomo_highs.solve(m, options, clock, mip=False, highs_options=False).in_units_of(unit)
            result.lp_relaxation = lp.objective if lp.status == Status.OPTIMAL else None
            result.extra["lp_relaxation_time"] = lp.solve_time
        return _finish(d, run, x, result)

    return solve


def _empty_end_stage(d: F1Data) -> bool:
    """Whether stage 0 or stage L has no finite pair (no compute node reachable / reaching t)."""
    finite = np.isfinite(d.dist)
    return not finite[d.stage == 0].any() or not finite[d.stage == d.L].any()


# ----------------------------------------------------------------------------- CP-SAT


def cost_bound(d: F1Data) -> float:
    """An upper bound on any solution's cost: the largest tau per layer and D per stage."""
    D = np.where(np.isfinite(d.dist), d.dist, 0.0)
    return float(d.tau.max(axis=1).sum()) + float(np.sum([D[d.stage == l].max(initial=0.0) for l in range(d.L + 1)]))


def single_node_latency(d: F1Data) -> float:
    """The latency of the best placement with every layer on one compute node (a feasible
    solution's cost, so an upper bound on the optimum; inf when none reaches the sink)."""
    D0 = d.dist[d.stage == 0]  # s -> C[k], k in order
    DL = d.dist[d.stage == d.L]  # C[k] -> t
    return float(np.min(D0 + d.tau.sum(axis=0) + DL)) if d.K else float("inf")


def _solve_cpsat(variant: str) -> Callable[[Instance, SolverOptions], SolveResult]:
    def solve(instance: Instance, options: SolverOptions) -> SolveResult:
        clock = options.clock()
        d = f1_data(instance)
        model, _ = build_arrays(d, variant)
        build = clock.elapsed()
        run = cpsat.solve(model, options, clock, cost_bound=cost_bound(d), max_cost_terms=2 * d.L + 1,
                          prune_above=single_node_latency(d))
        result = result_of(run, build_time=build + run.info.get("model_build_time", 0.0), extra=_sizes(d, model))
        unit = latency_unit(instance)
        _relaxation(highs.BACKEND, model.in_units(unit), unit, replace(options, mip_gap=None), clock, result)
        x = None if run.x is None else run.x[: d.num_x]
        return _finish(d, run, x, result)

    return solve


# ----------------------------------------------------------------------------- registry

_COMMON = dict(problem="single", objective="latency")
NO_LP_ALGORITHM = frozenset({"lp_algorithm"})  # refused: it would apply to the MILP's node LPs only

for _variant in VARIANTS:
    for _adapter in array_backends():
        register(SolverSpec(_variant, _adapter.backend, _solve_arrays(_variant, _adapter),
                            accepts=_adapter.accepts_mip - NO_LP_ALGORITHM, max_layered_arcs=_adapter.max_layered_arcs,
                            description=f"assignment MILP from sparse arrays, {_adapter.solver}", **_COMMON))
    register(SolverSpec(_variant, "pyomo-highs", _solve_pyomo(_variant), accepts=pyomo_highs.MIP_OPTIONS - NO_LP_ALGORITHM,
                        description="assignment MILP, Pyomo reference model solved by HiGHS",
                        max_layered_arcs=PYOMO_MAX_ARCS, **_COMMON))
    register(SolverSpec(_variant, "cpsat", _solve_cpsat(_variant), accepts=cpsat.OPTIONS,
                        description="assignment model, OR-Tools CP-SAT (integer-scaled costs)",
                        max_layered_arcs=CPSAT_MAX_ARCS, **_COMMON))
