r"""F3 arc form: the multi-job capacitated flow on one layered graph per job (DESIGN.md 3, F3).

Data (per job j; per-request arc coefficients from ``model``, rho-weighted by the job's
active exits, see that module's docstring): layered graph H^{j,c} = (V^{j,c}, E^{j,c}) for each
exit configuration c open to j (one configuration unless exits are selected), source
s' = (s_j, 0), sink t' = (t_j, L); latency lat_e, energy en_e, node busy time u_{n,e} (C1) and
link utilisation u_{a,e} = bytes / b_a (C2) per request; rate lambda_j, deadline T_j, accuracy
target A_j, expected accuracy alpha_c of configuration c; utilisation cap kappa.

Variables: f^{j,c}_e in [0, 1] (share of job j's requests on arc e of configuration c; binary
when unsplittable); y^{j,c} in [0, 1] (share of job j's requests using configuration c: the
first branch of the graph; binary when unsplittable).

Base model (every variant):

    (F3.1) sum_{e in out(v)} f^{j,c}_e - sum_{e in in(v)} f^{j,c}_e
               = y^{j,c} [v = s'] - y^{j,c} [v = t']            all j, c, v   (flow conservation)
    (F3.2) sum_c y^{j,c} = 1                                     all j         (one stream per job)
    (C1)   sum_{j,c,e} lambda_j u_{n,e} f^{j,c}_e <= kappa          compute nodes n  (busy time)
    (C2)   sum_{j,c,e} lambda_j u_{a,e} f^{j,c}_e <= kappa          links a  (bytes/s over b_a)
    (F3.3) sum_c (alpha_c / A_j) y^{j,c} >= 1                     jobs with an accuracy target

Add-ons (each a ``define_*`` step, chosen by the variant's ``addons``):

    deadlines  (F3.4) sum_{c,e} (lat_e / T_j) f^{j,c}_e <= 1          jobs with a deadline
    memory     (C3)   z_{m,l,n} >= sum_c f^{j,c}_{(n,l-1)->(n,l)}       jobs j of model m, l, n
                      sum_{m,l} (m_l / M_n) z_{m,l,n} <= 1             compute nodes n
                      z in {0,1} (unsplittable) or [0,1] (LP relaxation: a bound)
    latency    min sum_{j,c,e} lambda_j lat_e f^{j,c}_e              (rate-weighted mean latency)
    energy     min sum_{j,c,e} lambda_j en_e f^{j,c}_e               (rate-weighted energy)
    minmax     min t  s.t. (F3.5) sum_{c,e} lat_e f^{j,c}_e - t <= 0  all j

F3.3 is redundant when every configuration meets the target (unsplittable variants keep only
those, see ``model.configurations``). The expected latency in F3.4/F3.5 is the
share-weighted latency, exactly what ``instances.evaluate`` checks; with binary flows it is the
latency of the job's only route.

Splittable (``-lp``) variants are exact for the splittable problem, except ``F3-minmax-lp``
(the evaluator's max latency is the worst route, not the mean) and ``F3-latency-mem-lp``
(memory is a fixed charge), which are LP relaxations registered with kind "bound" and return
no decision. Unsplittable (``-milp``) variants are exact MILPs.

Decisions: each job's flow is decomposed into source-sink paths (largest-flow walk, cycles
cancelled, shares normalised), each path becoming a ``Route`` with its configuration's exits.

Scaling: the objective is divided by S (``F3Data.scale``, a power of two near the
uncapacitated optimum) so that HiGHS's absolute tolerances act relative to the optimum; values
are multiplied back. Exactness: MILPs run to ``mip_gap``, or to EXACT_REL_GAP = 1e-9 when it
is not given, with HiGHS's absolute gap off (``mip_abs_gap`` = 0 unless set in ``raw``); HiGHS's
defaults (1e-4, 1e-6) would let a heuristic beat the "optimum" it is compared with.

Infeasibility: when HiGHS reports the model infeasible, an elastic copy adds a slack to every
capacity, deadline, accuracy and memory row (all rows are scaled to read "<= 1" or "<= kappa",
so slacks are relative), minimises their sum, and names the row with the largest slack in the
message (the LP relaxation first; the MILP only if the relaxation is feasible).

Backends: one per array backend of ``dnnsplit.solvers`` (``highspy``, ``scip``: the model from
sparse arrays, vectorised over jobs) and ``pyomo-highs`` (the same model written algebraically
in Pyomo: the readable reference). ``time_limit`` is the wall clock of the whole call; the
elastic explanation of an infeasible model runs in the time left, less a margin (``EXPLAIN_MARGIN``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import scipy.sparse as sp

from dnnsplit.options import Clock, SolverOptions
from dnnsplit.registry import SolverSpec, register
from dnnsplit.results import SolveResult, Status
from dnnsplit.solvers import array_backends, pyomo_highs
from dnnsplit.solvers.model import ArrayBackend, ArrayBuilder, SparseModel, result_of
from formulations.f3.model import VARIANTS, F3Data, Template, Variant, mark_infeasible, route_from_arcs
from instances.evaluate import Route
from instances.model import Instance

FLOW_TOL = 1e-9
SLACK_TOL = 1e-7
EXPLAIN_MARGIN = (2.0, 0.05)  # the elastic explanation ends this long (s, share of the time left) before the limit


# ----------------------------------------------------------------------------- array builder


class ArcBuilder(ArrayBuilder):
    """The shared array builder plus the F3 rows that the elastic model may relax."""

    def __init__(self, integral: bool) -> None:
        super().__init__(integral)
        self.elastic: list[tuple[int, int, str]] = []  # (row, sense +1 "<=" / -1 ">=", name)


@dataclass
class FlowIndex:
    """Where each (job, configuration) block lives: f columns start, y column, template."""

    blocks: list[list[tuple[Template, int, int]]]  # per job: (template, first f column, y column)
    t_col: int | None = None  # min-max variable


# ----------------------------------------------------------------------------- define_* (arrays)


def define_flow_conservation(b: ArcBuilder, d: F3Data) -> FlowIndex:
    """(F3.1) conservation per job and configuration, (F3.2) one configuration mix per job."""
    J = len(d.instance.jobs)
    blocks: list[list[tuple[Template, int, int]]] = [[] for _ in range(J)]
    by_tpl: dict[int, tuple[Template, list[int]]] = {}
    for j, opts in enumerate(d.options):
        for tpl in opts:
            by_tpl.setdefault(id(tpl), (tpl, []))[1].append(j)
    integral = d.variant.integral
    for tpl, jobs in by_tpl.values():
        jobs_a = np.asarray(jobs, dtype=np.int64)
        nj, m, V = len(jobs), tpl.num_arcs, tpl.num_vertices
        f0 = b.add_cols(nj * m, 0.0, np.tile(tpl.usable.astype(float), nj), integral)
        y0 = b.add_cols(nj, 0.0, 1.0, integral)
        r0 = b.add_rows(0.0, 0.0, nj * V)
        i = np.arange(nj, dtype=np.int64)[:, None]
        cols = f0 + i * m + np.arange(m)
        b.add_entries(r0 + i * V + tpl.graph.tail, cols, np.ones((nj, m)))
        b.add_entries(r0 + i * V + tpl.graph.head, cols, -np.ones((nj, m)))
        src = np.array([d.instance.jobs[j].source for j in jobs], dtype=np.int64)
        snk = tpl.sink_vertex(np.array([d.instance.jobs[j].sink for j in jobs], dtype=np.int64))
        ycols = y0 + np.arange(nj)
        b.add_entries(r0 + np.arange(nj) * V + src, ycols, -np.ones(nj))
        b.add_entries(r0 + np.arange(nj) * V + snk, ycols, np.ones(nj))
        for k, j in enumerate(jobs_a.tolist()):
            blocks[j].append((tpl, f0 + k * m, y0 + k))
    # keep each job's blocks in its option order
    for j, opts in enumerate(d.options):
        order = {id(t): p for p, t in enumerate(opts)}
        blocks[j].sort(key=lambda blk: order[id(blk[0])])
    rc = b.add_rows(1.0, 1.0, J)  # (F3.2)
    ycols = np.array([blk[2] for j in range(J) for blk in blocks[j]], dtype=np.int64)
    yrows = np.array([rc + j for j in range(J) for _ in blocks[j]], dtype=np.int64)
    b.add_entries(yrows, ycols, np.ones(len(ycols)))
    return FlowIndex(blocks)


def _load_rows(b: ArcBuilder, d: F3Data, idx: FlowIndex, resources: np.ndarray, names: list[str]) -> None:
    """Rows sum_{j,c,e} lambda_j u_{r,e} f <= kappa for the given resource indices."""
    row_of = np.full(d.num_resources, -1, dtype=np.int64)
    r0 = b.add_rows(-np.inf, d.kappa, len(resources))
    row_of[resources] = r0 + np.arange(len(resources))
    for k, name in enumerate(names):
        b.elastic.append((r0 + k, 1, name))
    for j, blocks in enumerate(idx.blocks):
        lam = d.rates[j]
        for tpl, f0, _ in blocks:
            R = tpl.R.tocoo()
            keep = row_of[R.row] >= 0
            b.add_entries(row_of[R.row[keep]], f0 + R.col[keep], lam * R.data[keep])


def define_node_capacity(b: ArcBuilder, d: F3Data, idx: FlowIndex) -> None:
    """(C1) busy time of every compute node <= kappa."""
    nodes = d.instance.network.compute_nodes
    _load_rows(b, d, idx, nodes, [d.resource_name(int(n)) for n in nodes])


def define_link_capacity(b: ArcBuilder, d: F3Data, idx: FlowIndex) -> None:
    """(C2) bytes per second over b_a of every link <= kappa."""
    net = d.instance.network
    links = net.num_nodes + np.arange(net.num_links)
    _load_rows(b, d, idx, links, [d.resource_name(int(r)) for r in links])


def define_accuracy(b: ArcBuilder, d: F3Data, idx: FlowIndex) -> None:
    """(F3.3) expected accuracy of the configuration mix >= A_j (row divided by A_j)."""
    for j in d.accuracy_jobs():
        r = b.add_rows(1.0, np.inf, 1)
        b.elastic.append((r, -1, f"{d.job_name(j)} accuracy target"))
        cols = np.array([y for _, _, y in idx.blocks[j]], dtype=np.int64)
        acc = np.array([tpl.accuracy for tpl, _, _ in idx.blocks[j]], dtype=float)
        b.add_entries(np.full(len(cols), r), cols, acc / d.instance.jobs[j].accuracy_target)


def _latency_entries(b: ArcBuilder, idx: FlowIndex, j: int, row: int, scale: float) -> None:
    for tpl, f0, _ in idx.blocks[j]:
        lat = np.where(tpl.usable, tpl.latency, 0.0)
        b.add_entries(np.full(tpl.num_arcs, row), f0 + np.arange(tpl.num_arcs), lat * scale)


def define_deadlines(b: ArcBuilder, d: F3Data, idx: FlowIndex) -> None:
    """(F3.4) expected latency of job j <= T_j (row divided by T_j)."""
    for j in d.deadline_jobs():
        r = b.add_rows(-np.inf, 1.0, 1)
        b.elastic.append((r, 1, f"{d.job_name(j)} deadline"))
        _latency_entries(b, idx, j, r, 1.0 / d.instance.jobs[j].deadline)


def define_memory(b: ArcBuilder, d: F3Data, idx: FlowIndex) -> None:
    """(C3) z_{m,l,n} >= sum_c f on the computation arc (n, l); sum m_l z / M_n <= 1."""
    net = d.instance.network
    C = net.compute_nodes
    models = sorted({job.model for job in d.instance.jobs})
    zcol: dict[int, int] = {}
    for m in models:
        L = d.instance.models[m].num_layers
        zcol[m] = b.add_cols(L * len(C), 0.0, 1.0, d.variant.integral)  # z[m, l, k] at zcol + (l-1)|C| + k
    for j, blocks in enumerate(idx.blocks):
        m = d.instance.jobs[j].model
        L = d.instance.models[m].num_layers
        r0 = b.add_rows(0.0, np.inf, L * len(C))
        rows = r0 + np.arange(L * len(C))
        b.add_entries(rows, zcol[m] + np.arange(L * len(C)), np.ones(L * len(C)))
        for tpl, f0, _ in blocks:
            first = (L + 1) * tpl.graph.num_links  # computation arcs follow in (l, k) order
            b.add_entries(rows, f0 + first + np.arange(L * len(C)), -np.ones(L * len(C)))
    for k, n in enumerate(C.tolist()):
        cap = float(net.memory[n])
        r = b.add_rows(-np.inf, 1.0 if cap > 0 else 0.0, 1)
        b.elastic.append((r, 1, d.memory_name(n)))
        for m in models:
            mod = d.instance.models[m]
            scale = 1.0 / cap if cap > 0 else 1.0 / max(float(mod.param_bytes.max()), 1.0)
            L = mod.num_layers
            b.add_entries(np.full(L, r), zcol[m] + np.arange(L) * len(C) + k, mod.param_bytes * scale)


def _rate_weighted(b: ArcBuilder, d: F3Data, idx: FlowIndex, what: str) -> None:
    for j, blocks in enumerate(idx.blocks):
        for tpl, f0, _ in blocks:
            coef = np.where(tpl.usable, tpl.objective(what), 0.0)
            b.set_cost(f0 + np.arange(tpl.num_arcs), d.rates[j] * coef / d.scale)


def define_latency_objective(b: ArcBuilder, d: F3Data, idx: FlowIndex) -> None:
    """min sum_j lambda_j E[latency_j]."""
    _rate_weighted(b, d, idx, "latency")


def define_energy_objective(b: ArcBuilder, d: F3Data, idx: FlowIndex) -> None:
    """min sum_j lambda_j E[energy_j]."""
    _rate_weighted(b, d, idx, "energy")


def define_minmax_objective(b: ArcBuilder, d: F3Data, idx: FlowIndex) -> None:
    """min t with (F3.5) latency of every job <= t."""
    t = b.add_cols(1, 0.0, np.inf, False)
    b.set_cost(np.array([t]), np.array([1.0 / d.scale]))
    idx.t_col = t
    J = len(d.instance.jobs)
    r0 = b.add_rows(-np.inf, 0.0, J)
    for j in range(J):
        _latency_entries(b, idx, j, r0 + j, 1.0)
    b.add_entries(r0 + np.arange(J), np.full(J, t), -np.ones(J))


DEFINE: dict[str, Callable[..., Any]] = {
    "node_capacity": define_node_capacity,
    "link_capacity": define_link_capacity,
    "accuracy": define_accuracy,
    "deadlines": define_deadlines,
    "memory": define_memory,
    "latency_objective": define_latency_objective,
    "energy_objective": define_energy_objective,
    "minmax_objective": define_minmax_objective,
}


def build_arrays(d: F3Data) -> tuple[ArcBuilder, FlowIndex]:
    """Base model plus the variant's add-ons, in array form."""
    b = ArcBuilder(integral=d.variant.integral)
    idx = define_flow_conservation(b, d)
    for step in d.variant.addons[1:]:
        DEFINE[step](b, d, idx)
    return b, idx


def elastic_model(model: SparseModel, elastic: list[tuple[int, int, str]]) -> SparseModel:
    """The same rows with one slack per elastic row (cost 1), every other cost 0."""
    k = len(elastic)
    rows = np.array([r for r, _, _ in elastic], dtype=np.int64)
    sense = np.array([s for _, s, _ in elastic], dtype=float)
    S = sp.csc_array((-sense, (rows, np.arange(k))), shape=(model.num_rows, k))
    return SparseModel(
        c=np.concatenate([np.zeros(model.num_cols), np.ones(k)]),
        A=sp.hstack([model.A, S], format="csc"),
        row_lower=model.row_lower, row_upper=model.row_upper,
        col_lower=np.concatenate([model.col_lower, np.zeros(k)]),
        col_upper=np.concatenate([model.col_upper, np.full(k, np.inf)]),
        integer=None if model.integer is None else np.concatenate([model.integer, np.zeros(k, bool)]),
    )


# ----------------------------------------------------------------------------- decisions


def decompose(tpl: Template, flow: np.ndarray, source: int, sink: int) -> list[tuple[list[int], float]]:
    """Split one configuration's flow into source-sink arc paths with their flow (cycles dropped)."""
    f = np.where(flow > FLOW_TOL, flow, 0.0).astype(float)
    pos = np.flatnonzero(f)
    tail, head = tpl.graph.tail, tpl.graph.head
    out: dict[int, list[int]] = {}
    for a in pos[np.argsort(tail[pos], kind="stable")].tolist():
        out.setdefault(int(tail[a]), []).append(a)
    paths: list[tuple[list[int], float]] = []
    while True:
        arcs: list[int] = []
        seen = {source: 0}
        v = source
        while v != sink:
            cand = [a for a in out.get(v, ()) if f[a] > FLOW_TOL]
            if not cand:
                break
            a = max(cand, key=lambda e: f[e])
            arcs.append(a)
            v = int(head[a])
            if v in seen:  # cancel the cycle and walk on from v
                k = seen[v]
                cyc = arcs[k:]
                delta = min(f[e] for e in cyc)
                for e in cyc:
                    f[e] -= delta
                del arcs[k:]
                seen = {source: 0}
                w = source
                for i, e in enumerate(arcs):
                    w = int(head[e])
                    seen[w] = i + 1
                v = w
            else:
                seen[v] = len(arcs)
        if v != sink or not arcs:
            break
        delta = min(f[e] for e in arcs)
        if delta <= FLOW_TOL:
            break
        for e in arcs:
            f[e] -= delta
        paths.append((arcs, float(delta)))
    return paths


def decision_from_flows(d: F3Data, idx: FlowIndex, x: np.ndarray) -> dict[int, tuple[Route, ...]]:
    """Flow decomposition of every job into routes with shares (normalised to sum 1)."""
    decision: dict[int, tuple[Route, ...]] = {}
    for j, blocks in enumerate(idx.blocks):
        job = d.instance.jobs[j]
        parts: list[tuple[Template, list[int], float]] = []
        for tpl, f0, _ in blocks:
            flow = x[f0 : f0 + tpl.num_arcs]
            for arcs, share in decompose(tpl, flow, tpl.source_vertex(job.source), int(tpl.sink_vertex(job.sink))):
                parts.append((tpl, arcs, share))
        parts = [p for p in parts if p[2] > FLOW_TOL]
        total = sum(p[2] for p in parts)
        if not parts or total <= 0:
            raise RuntimeError(f"job {j}: the solution carries no flow from source to sink")
        decision[j] = tuple(route_from_arcs(tpl, arcs, share / total) for tpl, arcs, share in parts)
    return decision


def _integral(x: np.ndarray) -> bool:
    return bool(np.all(np.minimum(np.abs(x), np.abs(x - 1.0)) <= 1e-6))


def _sizes(d: F3Data, model: SparseModel | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "form": "arc",
        "integral": d.variant.integral,
        "n_jobs": len(d.instance.jobs),
        "configurations": int(sum(len(o) for o in d.options)),
        "templates": len(d.templates),
        "objective_kind": d.variant.objective,
    }
    if model is not None:
        out.update(n_cols=model.num_cols, n_rows=model.num_rows, nnz=int(model.A.nnz))
    return out


def _most_violated(slack: np.ndarray, elastic: list[tuple[int, int, str]]) -> tuple[str, float]:
    k = int(np.argmax(slack))
    return elastic[k][2], float(slack[k])


# ----------------------------------------------------------------------------- array backends


def _solve_arrays(variant: Variant, adapter: ArrayBackend) -> Callable[[Instance, SolverOptions], SolveResult]:
    def solve(instance: Instance, options: SolverOptions) -> SolveResult:
        clock = options.clock()
        d = F3Data(instance, variant)
        b, idx = build_arrays(d)
        model = b.build()
        build = clock.elapsed()
        run = adapter.run(model, options, clock)
        result = result_of(run, build_time=build, extra=_sizes(d, model))
        if run.status == Status.INFEASIBLE:
            return _explain_infeasible(adapter, model, b.elastic, options, clock, result)
        return _finish(variant, d, idx, run.x, run.objective, run.bound, run.solver_status, result)

    return solve


def _explain_infeasible(adapter: ArrayBackend, model: SparseModel, elastic: list[tuple[int, int, str]],
                        options: SolverOptions, clock: Clock, result: SolveResult) -> SolveResult:
    """Name the most violated resource with an elastic LP (then MILP) over the side rows, in the
    time left less a margin (EXPLAIN_MARGIN): the infeasibility is already proven, and the
    explanation must not make the call overrun its limit (which would turn the proof into a
    time-limit result; SCIP's LP on a large elastic model stops a second or so late)."""
    if not elastic:
        result.message = "infeasible (no side constraint)"
        return result
    left = clock.remaining()
    if left is not None:
        clock = Clock(left - max(EXPLAIN_MARGIN[0], EXPLAIN_MARGIN[1] * left))
    el = elastic_model(model, elastic)
    n = model.num_cols
    for relax, how in ((True, "the elastic LP relaxation"), (False, "the elastic MILP")):
        if not relax and el.integer is None:
            break
        res = adapter.run(el, options, clock, relax=relax)
        if res.x is not None and res.objective is not None and res.objective > SLACK_TOL:
            name, s = _most_violated(res.x[n:], elastic)
            return mark_infeasible(result, name, s, how)
    result.message = (f"infeasible: {adapter.solver} proved it, but the elastic model found no violated resource"
                      " (or ran out of time)")
    return result


def _finish(variant: Variant, d: F3Data, idx: FlowIndex, x: np.ndarray | None, objective: float | None,
            bound: float | None, solver_status: str, result: SolveResult) -> SolveResult:
    objective = None if objective is None else objective * d.scale  # the model minimises objective / S
    bound = None if bound is None else bound * d.scale
    result.extra["objective_scale"] = d.scale
    if x is None or objective is None:
        if result.status == Status.OPTIMAL:
            result.status = Status.ERROR
        result.bound, result.message = bound, solver_status
        return result
    if not variant.integral and result.status != Status.OPTIMAL:  # an unfinished LP point: no decision
        result.message = solver_status
        return result
    flows = np.concatenate([x[f0 : f0 + t.num_arcs] for blocks in idx.blocks for t, f0, _ in blocks])
    result.lp_integral = _integral(flows)
    result.objective = objective
    if variant.kind == "bound":
        result.bound = result.lp_relaxation = objective
        result.message = "LP relaxation: a lower bound, no decision"
        return result
    result.decision = decision_from_flows(d, idx, x)
    if variant.integral:
        result.bound = bound
    else:
        result.bound = result.lp_relaxation = objective
    return result


# ----------------------------------------------------------------------------- pyomo backend


def build_pyomo(d: F3Data) -> Any:
    """The same model written algebraically in Pyomo (readable reference)."""
    import pyomo.environ as pyo

    v = d.variant
    m = pyo.ConcreteModel(name=v.name)
    m.side_names = []  # elastic rows, in the order they are created
    m.side_sense = []
    m.JO = pyo.Set(initialize=[(j, o) for j in range(len(d.options)) for o in range(len(d.options[j]))], dimen=2)
    m.ARC = pyo.Set(initialize=[(j, o, int(a)) for j, o in m.JO for a in np.flatnonzero(d.options[j][o].usable)],
                    dimen=3)
    domain = pyo.Binary if v.integral else pyo.UnitInterval
    m.f = pyo.Var(m.ARC, domain=domain)
    m.y = pyo.Var(m.JO, domain=domain)
    m.SIDE = pyo.Set(initialize=[], ordered=True)
    m.slack = pyo.Var(pyo.Any, dense=False, domain=pyo.NonNegativeReals)
    for step in v.addons:
        PYOMO_DEFINE[step](m, d)
    return m


def _side(m: Any, name: str, sense: int) -> Any:
    """A new elastic slack (fixed at 0 unless the model is made elastic)."""
    k = len(m.side_names)
    m.side_names.append(name)
    m.side_sense.append(sense)
    s = m.slack[k]
    s.fix(0.0)
    return s


def pyo_define_flow_conservation(m: Any, d: F3Data) -> None:
    """(F3.1) and (F3.2)."""
    import pyomo.environ as pyo

    adj: dict[int, tuple[sp.csr_array, sp.csr_array]] = {}
    for j, o in m.JO:
        tpl = d.options[j][o]
        if id(tpl) not in adj:
            g, e = tpl.graph, np.flatnonzero(tpl.usable)
            out = sp.csr_array((np.ones(len(e)), (g.tail[e], e)), shape=(g.num_vertices, g.num_arcs))
            inn = sp.csr_array((np.ones(len(e)), (g.head[e], e)), shape=(g.num_vertices, g.num_arcs))
            adj[id(tpl)] = (out, inn)
    m.VERT = pyo.Set(initialize=[(j, o, vv) for j, o in m.JO for vv in range(d.options[j][o].num_vertices)], dimen=3)

    def conservation(m: Any, j: int, o: int, vv: int) -> Any:
        tpl = d.options[j][o]
        out, inn = adj[id(tpl)]
        job = d.instance.jobs[j]
        supply: Any = 0.0
        if vv == tpl.source_vertex(job.source):
            supply = m.y[j, o]
        elif vv == tpl.sink_vertex(job.sink):
            supply = -m.y[j, o]
        outs = out.indices[out.indptr[vv] : out.indptr[vv + 1]]
        ins = inn.indices[inn.indptr[vv] : inn.indptr[vv + 1]]
        if not len(outs) and not len(ins) and isinstance(supply, float):
            return pyo.Constraint.Skip
        return (pyo.quicksum(m.f[j, o, int(a)] for a in outs) - pyo.quicksum(m.f[j, o, int(a)] for a in ins)
                == supply)

    m.flow_conservation = pyo.Constraint(m.VERT, rule=conservation)
    m.one_configuration = pyo.Constraint(
        range(len(d.options)), rule=lambda m, j: pyo.quicksum(m.y[j, o] for o in range(len(d.options[j]))) == 1
    )


def _pyo_load(m: Any, d: F3Data, resources: np.ndarray, name: str) -> None:
    import pyomo.environ as pyo

    terms: dict[int, list[tuple[float, Any]]] = {int(r): [] for r in resources}
    for j, o in m.JO:
        tpl = d.options[j][o]
        R = tpl.R.tocoo()
        for r, a, val in zip(R.row.tolist(), R.col.tolist(), R.data.tolist()):
            if r in terms:
                terms[r].append((d.rates[j] * val, m.f[j, o, a]))

    def rule(m: Any, r: int) -> Any:
        if not terms[r]:
            return pyo.Constraint.Skip
        return pyo.quicksum(c * f for c, f in terms[r]) - _side(m, d.resource_name(r), 1) <= d.kappa

    setattr(m, name, pyo.Constraint([int(r) for r in resources], rule=rule))


def pyo_define_node_capacity(m: Any, d: F3Data) -> None:
    """(C1)."""
    _pyo_load(m, d, d.instance.network.compute_nodes, "C1_node_capacity")


def pyo_define_link_capacity(m: Any, d: F3Data) -> None:
    """(C2)."""
    net = d.instance.network
    _pyo_load(m, d, net.num_nodes + np.arange(net.num_links), "C2_link_capacity")


def pyo_define_accuracy(m: Any, d: F3Data) -> None:
    """(F3.3)."""
    import pyomo.environ as pyo

    def rule(m: Any, j: int) -> Any:
        acc = pyo.quicksum(d.options[j][o].accuracy * m.y[j, o] for o in range(len(d.options[j])))
        return acc / d.instance.jobs[j].accuracy_target + _side(m, f"{d.job_name(j)} accuracy target", -1) >= 1.0

    m.accuracy = pyo.Constraint(d.accuracy_jobs(), rule=rule)


def _pyo_latency(m: Any, d: F3Data, j: int) -> Any:
    import pyomo.environ as pyo

    return pyo.quicksum(
        float(d.options[j][o].latency[a]) * m.f[j, o, a]
        for o in range(len(d.options[j]))
        for a in np.flatnonzero(d.options[j][o].usable).tolist()
    )


def pyo_define_deadlines(m: Any, d: F3Data) -> None:
    """(F3.4)."""
    import pyomo.environ as pyo

    def rule(m: Any, j: int) -> Any:
        T = d.instance.jobs[j].deadline
        return _pyo_latency(m, d, j) / T - _side(m, f"{d.job_name(j)} deadline", 1) <= 1.0

    m.deadline = pyo.Constraint(d.deadline_jobs(), rule=rule)


def pyo_define_memory(m: Any, d: F3Data) -> None:
    """(C3)."""
    import pyomo.environ as pyo

    net = d.instance.network
    C = net.compute_nodes.tolist()
    models = sorted({job.model for job in d.instance.jobs})
    m.Z = pyo.Set(initialize=[(mm, l, n) for mm in models for l in range(1, d.instance.models[mm].num_layers + 1)
                              for n in C], dimen=3)
    m.z = pyo.Var(m.Z, domain=pyo.Binary if d.variant.integral else pyo.UnitInterval)
    J = range(len(d.options))
    m.LOADED = pyo.Set(initialize=[(j, l, n) for j in J for l in range(1, d.instance.model_of(j).num_layers + 1)
                                   for n in C], dimen=3)

    def loaded(m: Any, j: int, l: int, n: int) -> Any:
        mm = d.instance.jobs[j].model
        uses = pyo.quicksum(m.f[j, o, d.options[j][o].compute_arc(l, n)] for o in range(len(d.options[j]))
                            if d.options[j][o].usable[d.options[j][o].compute_arc(l, n)])
        return m.z[mm, l, n] >= uses

    m.C3_loaded = pyo.Constraint(m.LOADED, rule=loaded)

    def capacity(m: Any, n: int) -> Any:
        cap = float(net.memory[n])
        total = pyo.quicksum(float(d.instance.models[mm].param_bytes[l - 1]) * m.z[mm, l, n]
                             for mm in models for l in range(1, d.instance.models[mm].num_layers + 1))
        scale = 1.0 / cap if cap > 0 else 1.0 / max(max(float(d.instance.models[mm].param_bytes.max()) for mm in models), 1.0)
        return total * scale - _side(m, d.memory_name(n), 1) <= (1.0 if cap > 0 else 0.0)

    m.C3_memory = pyo.Constraint(C, rule=capacity)


def _pyo_rate_weighted(m: Any, d: F3Data, what: str) -> Any:
    import pyomo.environ as pyo

    return pyo.quicksum(
        float(d.rates[j] * d.options[j][o].objective(what)[a] / d.scale) * m.f[j, o, a] for j, o, a in m.ARC
    )


def pyo_define_latency_objective(m: Any, d: F3Data) -> None:
    import pyomo.environ as pyo

    m.objective = pyo.Objective(expr=_pyo_rate_weighted(m, d, "latency"), sense=pyo.minimize)


def pyo_define_energy_objective(m: Any, d: F3Data) -> None:
    import pyomo.environ as pyo

    m.objective = pyo.Objective(expr=_pyo_rate_weighted(m, d, "energy"), sense=pyo.minimize)


def pyo_define_minmax_objective(m: Any, d: F3Data) -> None:
    """min t, (F3.5)."""
    import pyomo.environ as pyo

    m.t = pyo.Var(domain=pyo.NonNegativeReals)
    m.max_latency = pyo.Constraint(range(len(d.options)), rule=lambda m, j: _pyo_latency(m, d, j) <= m.t)
    m.objective = pyo.Objective(expr=m.t / d.scale, sense=pyo.minimize)


PYOMO_DEFINE: dict[str, Callable[[Any, F3Data], None]] = {
    "flow_conservation": pyo_define_flow_conservation,
    "node_capacity": pyo_define_node_capacity,
    "link_capacity": pyo_define_link_capacity,
    "accuracy": pyo_define_accuracy,
    "deadlines": pyo_define_deadlines,
    "memory": pyo_define_memory,
    "latency_objective": pyo_define_latency_objective,
    "energy_objective": pyo_define_energy_objective,
    "minmax_objective": pyo_define_minmax_objective,
}


def pyo_define_elastic(m: Any) -> None:
    """Free every side slack, drop the objective, minimise the sum of slacks."""
    import pyomo.environ as pyo

    for k in range(len(m.side_names)):
        m.slack[k].unfix()
    m.objective.deactivate()
    m.elastic = pyo.Objective(expr=pyo.quicksum(m.slack[k] for k in range(len(m.side_names))), sense=pyo.minimize)


def _solve_pyomo(variant: Variant) -> Callable[[Instance, SolverOptions], SolveResult]:
    def solve(instance: Instance, options: SolverOptions) -> SolveResult:
        clock = options.clock()
        d = F3Data(instance, variant)
        m = build_pyomo(d)
        build = clock.elapsed()
        run = pyomo_highs.solve(m, options, clock, mip=variant.integral)
        result = result_of(run, build_time=build,
                           extra={**_sizes(d), "n_cols": m.nvariables(), "n_rows": m.nconstraints()})
        if run.status == Status.INFEASIBLE:
            if not m.side_names:
                result.message = "infeasible"
                return result
            pyo_define_elastic(m)
            el = pyomo_highs.solve(m, options, clock, mip=variant.integral)
            if el.objective is not None and el.objective > SLACK_TOL:
                slack = np.array([el.value(m.slack[k]) if not m.slack[k].fixed else 0.0 for k in range(len(m.side_names))])
                k = int(np.argmax(slack))
                return mark_infeasible(result, m.side_names[k], float(slack[k]), "the elastic model (Pyomo)")
            result.message = "infeasible"
            return result
        if run.values is None:
            return _finish(variant, d, FlowIndex([]), None, None, run.bound, run.solver_status, result)
        blocks: list[list[tuple[Template, int, int]]] = []
        values: list[np.ndarray] = []
        col = 0
        for j, opts in enumerate(d.options):
            row = []
            for o, tpl in enumerate(opts):
                x = np.zeros(tpl.num_arcs)
                for a in np.flatnonzero(tpl.usable).tolist():
                    x[a] = run.value(m.f[j, o, a])
                values.append(x)
                row.append((tpl, col, -1))
                col += tpl.num_arcs
            blocks.append(row)
        bound = run.bound if variant.integral else run.objective
        return _finish(variant, d, FlowIndex(blocks), np.concatenate(values), run.objective, bound,
                       run.solver_status, result)

    return solve


# ----------------------------------------------------------------------------- registry

PYOMO_MAX_ARCS = 100_000
HIGHSPY_MAX_ARCS = 20_000_000


def _registration(v: Variant) -> dict[str, Any]:
    return dict(problem="multi", objective=v.eval_objective, kind=v.kind, capacitated=True, memory=v.memory,
                deadlines=v.deadlines, relaxation=v.relaxation,
                tags=frozenset({"F3", "arc", "milp" if v.integral else "lp"}))


for _v in VARIANTS.values():
    for _adapter in array_backends():
        register(SolverSpec(_v.name, _adapter.backend, _solve_arrays(_v, _adapter),
                            accepts=_adapter.accepts_mip if _v.integral else _adapter.accepts_lp,
                            description=f"{_v.description}; arc form, {_adapter.solver}",
                            max_layered_arcs=_adapter.max_layered_arcs or HIGHSPY_MAX_ARCS, **_registration(_v)))
    register(SolverSpec(_v.name, "pyomo-highs", _solve_pyomo(_v),
                        accepts=pyomo_highs.MIP_OPTIONS if _v.integral else pyomo_highs.LP_OPTIONS,
                        description=f"{_v.description}; arc form, Pyomo", max_layered_arcs=PYOMO_MAX_ARCS,
                        **_registration(_v)))
