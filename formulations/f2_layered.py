r"""F2: the single-job layered-graph min-cost flow (DESIGN.md section 3, F2).

Layered graph H = (V, E) of job j (``dnnsplit/graph/layered.py``): vertices (n, l) for
n in N, l = 0..L; communication arcs (i, l) -> (k, l) for every link a = (i, k) and
l = 0..L with cost c_e = o_l / b_a + delta_a; computation arcs (n, l-1) -> (n, l) for every
compute node n and l = 1..L with cost c_e = tau_{l,n}. Source s' = (s_j, 0), sink
t' = (t_j, L). Variables f_e = flow on arc e (one unit of flow = the whole request).

    min   sum_{e in E} c_e f_e
    (F2.1) sum_{e in out(v)} f_e - sum_{e in in(v)} f_e = b_v    for every v in V,
           b_{s'} = 1, b_{t'} = -1, b_v = 0 otherwise               (flow conservation)
    (F2.2) 0 <= f_e <= 1                                             (arc bounds)

The constraint matrix of (F2.1) is the node-arc incidence matrix of H, which is totally
unimodular, so every vertex solution of the LP is integral: an optimal basic solution is the
incidence vector of a shortest s'-t' path, i.e. a placement plus one route per tensor, and its
cost is the latency (equal to F1's optimum). Because every arc cost is >= 0 the LP is the
shortest-path problem, so Dijkstra solves it too.

Backends (each registered as formulation "F2"):

- one per array backend of ``dnnsplit.solvers`` (``highspy``, ``scip``): the LP from the sparse
  incidence matrix; ``lp_algorithm`` is mapped by the adapter (HiGHS: simplex / ipm with
  crossover, so the answer is a vertex / pdlp). ``lp_integral`` reports whether every flow lies
  within 1e-6 of 0 or 1; a non-vertex optimum whose path is off the LP value is "feasible".
- ``pyomo-highs``: the same LP written in Pyomo (readable reference), solved by HiGHS.
- ``ortools-mcf``: OR-Tools ``SimpleMinCostFlow`` on int64-scaled costs
  (``dnnsplit.solvers.ortools_mcf``); the objective is recomputed in floating point from the
  path and ``extra["rounding_error_bound"]`` = (k + |V| - 1) / (2 scale) bounds how far the
  returned path can be above the true optimum (k = arcs on the returned path).
- ``scipy-dijkstra``: ``scipy.sparse.csgraph.dijkstra`` on the materialised layered graph
  (parallel links collapsed to the cheapest per copy), walked back by the engine's walk.
- ``layered-dijkstra``: the engine's pass (``dnnsplit.graph.shortest``) that never
  materialises H: one multi-source Dijkstra per copy on G, compiled by numba (once per process,
  before the clock starts, as a solver library's import is; seconds in
  ``extra["jit_warmup_s"]``). Where numba does not import the same code runs interpreted and
  the record's ``solver`` says so. Build time: the base graph and compute-time table of the
  instance (cached per instance after the first solve). Memory O(|A| + L|N|).

Every backend takes ``time_limit`` (wall clock of the whole call, ``dnnsplit.options``); the
Dijkstra pass checks it between chunks of copies. The LP backends state the objective in units
of a power of two near the optimal latency (``latency_unit``, ``extra["objective_unit"]``) so
that solver tolerances act relative to the data. PDLP (first-order) results are feasible
without a bound: its LP value is within the method's tolerances, not proven. An unreachable
sink copy gives status INFEASIBLE on every backend. Early exits are ignored (single-job latency,
every rho = 1).
"""

from __future__ import annotations

import platform
import time
from typing import Any, Callable

import numpy as np
import scipy
import scipy.sparse as sp

from dnnsplit.graph.base import base_graph
from dnnsplit.graph.layered import LayeredGraph, build_layered_graph, route_cost, route_from_arc_path
from dnnsplit.graph.shortest import (
    OutOfTime,
    jit_available,
    jit_unavailable_reason,
    latency_costs,
    latency_unit,
    layered_shortest_path,
    parents_from_layered_predecessors,
    walk,
    warm_up_jit,
)
from dnnsplit.options import Clock, SolverOptions
from dnnsplit.registry import SolverSpec, register
from dnnsplit.results import SolveResult, Status
from dnnsplit.solvers import array_backends, ortools_mcf, pyomo_highs
from dnnsplit.solvers.model import ArrayBackend, ArrayBuilder, SolverRun, SparseModel, result_of
from instances.evaluate import Route
from instances.model import Instance

FORMULATION = "F2"
JOB = 0  # single-job formulations solve jobs[0]
INTEGRALITY_TOL = 1e-6
PYOMO_MAX_ARCS = 200_000
UNREACHABLE = "sink copy unreachable: no placement reaches the sink"


# ----------------------------------------------------------------------------- model (arrays)


def define_arc_flows(b: ArrayBuilder, graph: LayeredGraph) -> int:
    """f_e with cost c_e and (F2.2) 0 <= f_e <= 1."""
    return b.add_cols(graph.num_arcs, 0.0, 1.0, cost=graph.cost, name="f")


def define_flow_conservation(b: ArrayBuilder, graph: LayeredGraph, f0: int) -> None:
    """(F2.1): incidence rows (+1 tail, -1 head) = b_v."""
    rhs = np.zeros(graph.num_vertices)
    rhs[graph.source] += 1.0
    rhs[graph.sink] -= 1.0
    r0 = b.add_rows(rhs, rhs, graph.num_vertices, name="F2.1")
    arcs = f0 + np.arange(graph.num_arcs)
    b.add_entries(r0 + graph.tail, arcs, np.ones(graph.num_arcs))
    b.add_entries(r0 + graph.head, arcs, -np.ones(graph.num_arcs))


def build_lp(graph: LayeredGraph) -> SparseModel:
    """The F2 LP in array form."""
    b = ArrayBuilder(integral=False)
    f0 = define_arc_flows(b, graph)
    define_flow_conservation(b, graph, f0)
    return b.build()


def path_from_flow(graph: LayeredGraph, flow: np.ndarray) -> list[int]:
    """Arcs of an s'-t' path through the flow (largest outgoing flow first at each vertex)."""
    used = np.flatnonzero(flow > 1e-9)
    order = used[np.lexsort((-flow[used], graph.tail[used]))]
    tails = graph.tail[order]
    path: list[int] = []
    v, seen = graph.source, {graph.source}
    while v != graph.sink:
        k = np.searchsorted(tails, v)
        if k >= len(order) or tails[k] != v:
            raise ValueError(f"the flow leaves vertex {v} with no outgoing arc")
        arc = int(order[k])
        path.append(arc)
        v = int(graph.head[arc])
        if v in seen:
            raise ValueError("the flow contains a cycle")
        seen.add(v)
    return path


def _decision(route: Route) -> dict[int, tuple[Route, ...]]:
    return {JOB: (route,)}


def _from_flow(instance: Instance, graph: LayeredGraph, flow: np.ndarray, lp_value: float | None,
               result: SolveResult) -> SolveResult:
    """The path of an LP/flow solution, its latency recomputed in floating point."""
    integral = bool(np.all(np.minimum(np.abs(flow), np.abs(flow - 1.0)) <= INTEGRALITY_TOL))
    result.lp_relaxation, result.lp_integral = lp_value, integral
    try:
        route = route_from_arc_path(graph, path_from_flow(graph, flow))
    except ValueError as err:
        result.status, result.message = Status.ERROR, f"no path in the LP flow: {err}"
        return result
    value = route_cost(instance, JOB, route)
    if result.status == Status.OPTIMAL and not integral and lp_value is not None:
        # a non-vertex LP optimum (e.g. PDLP): the path is optimal only up to the LP's tolerance
        if abs(value - lp_value) > 1e-6 * max(1.0, abs(lp_value)):
            result.status = Status.FEASIBLE
    result.objective, result.decision = value, _decision(route)
    result.bound = lp_value if result.status == Status.OPTIMAL else None
    return result


def _lp_outcome(instance: Instance, graph: LayeredGraph, run: SolverRun, flow: np.ndarray | None,
                result: SolveResult, first_order: bool = False) -> SolveResult:
    """Status handling shared by every LP backend: infeasible, no point, or a flow to read.

    ``first_order`` (PDLP): the LP value is only within the method's tolerances, not a proven
    bound, so the path (its latency recomputed exactly) is reported feasible without a bound."""
    if run.status == Status.INFEASIBLE:
        result.message = UNREACHABLE
        return result
    if first_order and flow is not None and run.objective is not None:
        result = _from_flow(instance, graph, flow, run.objective, result)
        if result.status in (Status.OPTIMAL, Status.FEASIBLE, Status.ERROR) and result.decision is not None:
            result.status, result.bound = Status.FEASIBLE, None
            result.message = (f"first-order LP ({run.solver_status}): the path is exact, the LP value "
                              f"{run.objective:.9g} is no proven bound")
        return result
    if flow is None or run.objective is None:
        if result.status in (Status.OPTIMAL, Status.FEASIBLE):
            result.status = Status.ERROR
        result.message = result.message or run.solver_status
        return result
    return _from_flow(instance, graph, flow, run.objective, result)


# ----------------------------------------------------------------------------- array backends


def _solve_arrays(adapter: ArrayBackend) -> Callable[[Instance, SolverOptions], SolveResult]:
    def solve(instance: Instance, options: SolverOptions) -> SolveResult:
        """F2 LP from sparse arrays through one array backend."""
        clock = options.clock()
        graph = build_layered_graph(instance, JOB)
        unit = latency_unit(instance, JOB)  # the objective in units near the optimum (tolerances)
        model = build_lp(graph).in_units(unit)
        build = clock.elapsed()
        run = adapter.run(model, options, clock).in_units_of(unit)
        result = result_of(run, build_time=build,
                           extra={"lp_algorithm": options.lp_algorithm or "simplex", "layered_arcs": graph.num_arcs,
                                  "objective_unit": unit})
        return _lp_outcome(instance, graph, run, run.x, result, first_order=options.lp_algorithm == "pdlp")

    return solve


# ----------------------------------------------------------------------------- pyomo


def build_pyomo(graph: LayeredGraph, unit: float = 1.0) -> Any:
    """The F2 LP as a readable Pyomo model (objective in ``unit`` seconds)."""
    import pyomo.environ as pyo

    m = pyo.ConcreteModel(name="F2")
    m.V = pyo.RangeSet(0, graph.num_vertices - 1)
    m.E = pyo.RangeSet(0, graph.num_arcs - 1)
    cost = (graph.cost / unit).tolist()
    m.f = pyo.Var(m.E, bounds=(0.0, 1.0))  # (F2.2)
    m.latency = pyo.Objective(expr=pyo.quicksum(cost[e] * m.f[e] for e in m.E), sense=pyo.minimize)
    out_arcs = sp.csr_array((np.ones(graph.num_arcs), (graph.tail, np.arange(graph.num_arcs))),
                            shape=(graph.num_vertices, graph.num_arcs))
    in_arcs = sp.csr_array((np.ones(graph.num_arcs), (graph.head, np.arange(graph.num_arcs))),
                           shape=(graph.num_vertices, graph.num_arcs))
    supply = {graph.source: 1.0, graph.sink: -1.0}

    def conservation(m: Any, v: int) -> Any:  # (F2.1)
        outs = out_arcs.indices[out_arcs.indptr[v] : out_arcs.indptr[v + 1]]
        ins = in_arcs.indices[in_arcs.indptr[v] : in_arcs.indptr[v + 1]]
        if not len(outs) and not len(ins):
            return pyo.Constraint.Skip if v not in supply else pyo.Constraint.Infeasible
        return (
            pyo.quicksum(m.f[int(e)] for e in outs) - pyo.quicksum(m.f[int(e)] for e in ins)
            == supply.get(v, 0.0)
        )

    m.flow_conservation = pyo.Constraint(m.V, rule=conservation)
    return m


def solve_pyomo(instance: Instance, options: SolverOptions) -> SolveResult:
    """F2 LP through Pyomo and HiGHS (build and solve timed separately)."""
    clock = options.clock()
    graph = build_layered_graph(instance, JOB)
    unit = latency_unit(instance, JOB)
    model = build_pyomo(graph, unit)
    build = clock.elapsed()
    run = pyomo_highs.solve(model, options, clock, mip=False).in_units_of(unit)
    result = result_of(run, build_time=build, extra={"lp_algorithm": options.lp_algorithm or "simplex",
                                                     "objective_unit": unit})
    flow = None
    if run.values is not None:
        flow = np.array([run.value(model.f[e]) for e in range(graph.num_arcs)])
    return _lp_outcome(instance, graph, run, flow, result, first_order=options.lp_algorithm == "pdlp")


# ----------------------------------------------------------------------------- OR-Tools min-cost flow


def solve_ortools_mcf(instance: Instance, options: SolverOptions) -> SolveResult:
    """F2 with OR-Tools SimpleMinCostFlow on explicitly scaled int64 costs."""
    ortools_mcf.check_options(options)
    clock = options.clock()
    graph = build_layered_graph(instance, JOB)
    supplies = np.zeros(graph.num_vertices, dtype=np.int64)
    supplies[graph.source] = 1
    supplies[graph.sink] = -1
    build = clock.elapsed()
    run = ortools_mcf.solve(graph.tail, graph.head, graph.cost, np.ones(graph.num_arcs), supplies, options, clock)
    result = result_of(run, build_time=build)
    if run.status == Status.INFEASIBLE:
        result.message = UNREACHABLE
        return result
    if run.x is None:
        result.message = run.solver_status
        return result
    route = route_from_arc_path(graph, path_from_flow(graph, run.x))
    value = route_cost(instance, JOB, route)
    k = int(np.sum(run.x > 0.5))
    bound = (k + graph.num_vertices - 1) / (2.0 * run.info["cost_scale"])
    result.extra["rounding_error_bound"] = bound
    result.objective, result.bound, result.decision = value, value - bound, _decision(route)
    result.lp_relaxation, result.lp_integral = value, True
    return result


# ----------------------------------------------------------------------------- Dijkstra backends


def _path_result(value: float, route: Route | None, result: SolveResult) -> SolveResult:
    if route is None:
        result.status, result.message = Status.INFEASIBLE, UNREACHABLE
        return result
    result.status, result.objective, result.bound, result.decision = Status.OPTIMAL, value, value, _decision(route)
    result.lp_relaxation, result.lp_integral = value, True
    return result


def _out_of_time(result: SolveResult, clock: Clock, what: str) -> SolveResult:
    result.status = Status.TIME_LIMIT
    result.message = f"time limit {clock.limit:g} s reached {what}"
    return result


def solve_scipy_dijkstra(instance: Instance, options: SolverOptions) -> SolveResult:
    """Shortest path on the materialised layered graph (scipy.sparse.csgraph.dijkstra)."""
    from scipy.sparse.csgraph import dijkstra

    clock = options.clock()
    graph = build_layered_graph(instance, JOB)
    csr = graph.csr()
    build = clock.elapsed()
    result = SolveResult(solver="scipy.sparse.csgraph.dijkstra", solver_version=scipy.__version__, build_time=build,
                         extra={"layered_arcs": graph.num_arcs, "csr_entries": int(csr.nnz)})
    if clock.expired():  # one library call from here on: it cannot be interrupted
        return _out_of_time(result, clock, "while materialising the layered graph")
    t1 = time.perf_counter()
    dist, pred = dijkstra(csr, directed=True, indices=graph.source, return_predecessors=True)
    value = float(dist[graph.sink])
    route = None
    if np.isfinite(value):
        N, L = graph.num_nodes, graph.num_layers
        job = instance.jobs[JOB]
        parent = parents_from_layered_predecessors(pred, N, L, job.source)
        route = walk(instance.network, parent, latency_costs(instance, JOB), job.source, job.sink)
    result.solve_time = time.perf_counter() - t1
    return _path_result(value, route, result)


def prepare_layered_dijkstra() -> dict[str, Any]:
    """Per process, before any clock: compile (or load) the numba pass."""
    if jit_available():
        return {"jit_warmup_s": warm_up_jit()}
    return {"jit_unavailable": jit_unavailable_reason()}


def solve_layered_dijkstra(instance: Instance, options: SolverOptions) -> SolveResult:
    """The engine's per-copy Dijkstra that never materialises the layered graph."""
    extra = prepare_layered_dijkstra()  # once per process; no-op afterwards
    clock = options.clock()
    job = instance.jobs[JOB]
    base_graph(instance.network)  # the instance's derived arrays: built once, counted as build
    costs = latency_costs(instance, JOB)
    build = clock.elapsed()
    if jit_available():
        import numba

        solver, version = "layered Dijkstra (numba-compiled pass per copy)", f"numba {numba.__version__}"
    else:
        solver, version = "layered Dijkstra (interpreted pass per copy)", f"python {platform.python_version()}"
    result = SolveResult(solver=solver, solver_version=version, build_time=build, extra=extra)
    t1 = time.perf_counter()
    try:
        value, route = layered_shortest_path(instance.network, job.source, job.sink, costs, clock=clock)
    except OutOfTime as err:
        result.solve_time = time.perf_counter() - t1
        return _out_of_time(result, clock, f"in the pass ({err})")
    result.solve_time = time.perf_counter() - t1
    return _path_result(value, route, result)


# ----------------------------------------------------------------------------- registry

_COMMON = dict(problem="single", objective="latency")

for _adapter in array_backends():
    register(SolverSpec(FORMULATION, _adapter.backend, _solve_arrays(_adapter), accepts=_adapter.accepts_lp,
                        description=f"layered-graph flow LP, {_adapter.solver} from sparse arrays",
                        max_layered_arcs=_adapter.max_layered_arcs, **_COMMON))
register(SolverSpec(FORMULATION, "pyomo-highs", solve_pyomo, accepts=pyomo_highs.LP_OPTIONS,
                    description="layered-graph flow LP, Pyomo model solved by HiGHS",
                    max_layered_arcs=PYOMO_MAX_ARCS, **_COMMON))
register(SolverSpec(FORMULATION, "ortools-mcf", solve_ortools_mcf, accepts=ortools_mcf.OPTIONS,
                    description="layered-graph min-cost flow, OR-Tools SimpleMinCostFlow (scaled int64 costs)",
                    **_COMMON))
register(SolverSpec(FORMULATION, "scipy-dijkstra", solve_scipy_dijkstra,
                    description="shortest path on the materialised layered graph (scipy Dijkstra)", **_COMMON))
register(SolverSpec(FORMULATION, "layered-dijkstra", solve_layered_dijkstra, prepare=prepare_layered_dijkstra,
                    description="per-copy multi-source Dijkstra on G, layered graph never built (memory O(|A|+L|N|))",
                    **_COMMON))

__all__ = ["build_lp", "build_pyomo", "path_from_flow"]
