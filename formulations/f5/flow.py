r"""F5-flow: LLM pipeline placement as a max-flow on the layered graph with design binaries
(DESIGN.md section 5, F5).

Data: layers 1..L; compute nodes n with K_n >= 1, theta_n(k) tokens/s holding k layers; links
a = (i, j) with c_a = b_a / beta tokens/s; U = the throughput bound of
``formulations/f5/common.py`` (an upper bound on the optimum from the data alone).

Layered graph. Vertex in(n, s) means "layers 1..s are done and the activations have arrived at
n", out(n, e) "n has computed layers up to e" (the vertex (n, l) of DESIGN.md split in two, so
that a node forwards only what it computed: no relaying, as in Helix's model). Arcs:

- segment arcs in(n, s) -> out(n, s + k) for every range n can hold (k = 1..K_n, s = 0..L-k),
  flow f_{n,s,k}, with a design binary y_{n,s,k} (n holds layers s+1..s+k);
- source arcs source -> in(n, 0) and sink arcs out(n, L) -> sink for the links from the source
  and to the sink;
- communication arcs out(i, l) -> in(j, l) for every link (i, j) between compute nodes and
  l = 1..L-1, flow g_{a,l} -- or, inside a hub group of non-binding links (common.py), the
  hub arcs out(i, l) -> hub(G, l) -> in(j, l) (an exact reduction: |G| (|G|-1) (L-1) arcs
  become 2 |G| (L-1)).

    max   F = sum_{a from the source} g_a
    (F5.1) flow conservation at every in(n, s), out(n, e) and hub(G, l)
    (F5.2) f_{n,s,k} <= M_{n,k} y_{n,s,k}                 segment capacity
    (F5.3) sum_{s,k} y_{n,s,k} <= 1                        one contiguous range per node, or none
    (F5.4) 0 <= g_{a,l} <= min(c_a, U), hub arcs <= U      link capacity
           y binary, f >= 0

with M_{n,k} = min(theta_n(k), U) (F5-flow, F5-flow-nodes) or M_{n,k} = theta_n(k) as DESIGN.md
writes it (F5-flow-plain, whose link arcs keep c_a). All have the same integer optimum (U bounds
every flow); the tightening moves the LP relaxation from the fluid bound
(sum_n max_k k theta_n(k)) / L to about U. Memory enters through K_n: the throughput table only
lists the ranges that fit (parameters and the KV cache of its batch, ``instances/llm``). An
integral solution is a placement (the y at 1) and a flow on it; every flow path is a pipeline
of distinct nodes covering layers 1..L in order.

(R2) Interchangeable nodes (F5-flow only). Nodes with the same throughput and latency tables,
in the same hub group, with no explicit link (every link to another compute node inside the
group) and the same source and sink link capacities are interchangeable: any solution stays a
solution when two of them swap ranges. They form a class C with integer y_{C,s,k} in
0..|C| (how many of them hold s+1..s+k; F5.3 becomes sum y_{C,s,k} <= |C|, F5.2 f <= M y),
one pair of vertices in(C, s), out(C, e), and source (sink) arcs of capacity min(|C| c_a, U),
with f_src <= min(c_a, U) sum_k y_{C,0,k} where c_a < U (each member brings its own link). This
is an exact aggregation of F5-flow-nodes (the binaries of a class summed), which removes the
symmetry among identical GPUs: on the published case 24 nodes become 3 classes. A class's
ranges go back to its members in order, each carrying an equal share of its range's flow.

Size (F5-flow-nodes): sum_n K_n (L + 1 - (K_n + 1)/2) binaries and as many segment flows, plus
2 |N_hub| (L - 1) hub arcs and (L - 1) per explicit link; F5-flow: the same with classes.

Backends: one per array backend of ``dnnsplit.solvers`` (``highspy``, ``scip``), the MILP from
sparse arrays, after its LP relaxation by the same backend (the MILP gets the time left)
(``lp_relaxation``). ``time_limit`` is the wall clock of the whole call. The decision: the
ranges with y = 1 and the flow on every link (communication arcs summed over l; a hub's flow
split between its senders and receivers in proportion, which is exact because its links do not
bind); the objective is the flow out of the source (checked by the evaluator,
``instances/llm/evaluate.py``). ``extra`` carries U, the hub groups and the model's size.
No CP-SAT backend: the flows are continuous and the capacities fractional tokens/s, while the
suite's CP-SAT adapter solves 0/1 models with integral coefficients (F1's); an integer-scaled
F5 would change the problem and need general-integer columns in that adapter.
On HiGHS 1.14.x the MILP runs with presolve and symmetry detection off (``HIGHS_1_14_SETTINGS``:
HiGHS 1.14 reports wrong optima on these MILPs under its defaults; ``extra["highs_settings"]``
says so); the LP relaxation keeps the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from dnnsplit.options import Clock, SolverOptions
from dnnsplit.registry import SolverSpec, register
from dnnsplit.results import SolveResult, Status
from dnnsplit.solvers import array_backends
from dnnsplit.solvers.model import ArrayBackend, ArrayBuilder, SolverRun, SparseModel, result_of, without_incumbent
from formulations.f5.common import F5Data, f5_data
from instances.llm import LLMInstance, Placement

VARIANTS = ("F5-flow", "F5-flow-nodes", "F5-flow-plain")
# HiGHS 1.14.x returns wrong "optimal" answers on these MILPs (a 1.14.0 regression, fixed by
# ERGO-Code/HiGHS#2961 in 1.15.0; reports #2957, #3043, #3094), in two ways, both found by the
# checks of tests/test_llm.py: with MIP presolve on, F5-flow on a 2-node brute-force instance;
# with presolve off, F5-helix on most generated 3- and 4-device edge clusters (e.g. 128 against
# 190 tokens/s, which F5-flow and SCIP reach and whose placement is feasible in F5-helix). Each
# formulation therefore runs HiGHS 1.14 with the settings under which the brute-force and
# agreement checks pass: F5-flow with presolve and symmetry detection off, F5-helix with the
# defaults (HIGHS_1_14_SETTINGS); the suite pins highspy < 1.15 (OR-Tools).
PRESOLVE_BROKEN = ("1.14.",)
HIGHS_1_14_SETTINGS = {"F5-flow": {"presolve": "off", "mip_detect_symmetry": False}, "F5-helix": {}}
INTEGRAL_TOL = 1e-6
LP_SHARE = 0.5  # of the time left, at most, for the LP relaxation before the MILP


@dataclass
class FlowModel:
    """The F5-flow model in array form and the maps from its columns back to the instance."""

    model: SparseModel
    classes: list[list[int]]  # interchangeable nodes (a singleton per node without aggregation)
    seg_class: np.ndarray  # per range: class, start, count
    seg_start: np.ndarray
    seg_count: np.ndarray
    y0: int
    f0: int
    link_cols: dict[int, np.ndarray]  # explicit link -> its columns (source/sink: one; comm: one per l)
    class_source: dict[int, int]  # class -> its source column (aggregated source links)
    class_sink: dict[int, int]
    hub_in: dict[tuple[int, int], int]  # (class, l) -> column out(C, l) -> hub
    hub_out: dict[tuple[int, int], int]  # (class, l) -> column hub -> in(C, l)

    def sizes(self) -> dict[str, int]:
        m = self.model
        return {"columns": m.num_cols, "rows": m.num_rows, "nonzeros": int(m.A.nnz), "integers": len(self.seg_class),
                "classes": len(self.classes)}


def node_classes(d: F5Data, aggregate: bool) -> list[list[int]]:
    """(R2) Interchangeable nodes: same throughput and latency tables, the same hub group, no
    explicit link (every compute-node link inside the group), the same source and sink links."""
    inst = d.instance
    if not aggregate:
        return [[int(n)] for n in d.compute]
    group_of = {n: g for g, members in enumerate(d.groups) for n in members}
    explicit = set()
    for i, j in zip(inst.link_source.tolist(), inst.link_target.tolist()):
        if i < inst.num_nodes and j < inst.num_nodes and (i not in group_of or group_of.get(j) != group_of[i]):
            explicit |= {i, j}
    classes: dict[tuple, list[int]] = {}
    out = []
    for n in d.compute.tolist():
        if n not in group_of or n in explicit:
            out.append([n])
            continue
        node = inst.nodes[n]
        src, snk = inst.link_between(inst.source, n), inst.link_between(n, inst.sink)
        key = (group_of[n], node.throughput.tobytes(), node.latency.tobytes(),
               None if src is None else float(d.capacity[src]), None if snk is None else float(d.capacity[snk]))
        classes.setdefault(key, []).append(n)
    return out + list(classes.values())


def define_ranges(d: F5Data, classes: list[list[int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every range (C, s, k) a class's nodes can hold: k = 1..K_C, s = 0..L-k."""
    cls, start, count = [], [], []
    for c, members in enumerate(classes):
        K = d.instance.nodes[members[0]].max_layers
        for k in range(1, K + 1):
            s = np.arange(0, d.L - k + 1)
            cls.append(np.full(len(s), c))
            start.append(s)
            count.append(np.full(len(s), k))
    return np.concatenate(cls), np.concatenate(start), np.concatenate(count)


def build(d: F5Data, variant: str) -> FlowModel:
    """F5-flow (tightened, classes), F5-flow-nodes (tightened, one y per node) or F5-flow-plain
    (theta capacities, one y per node)."""
    inst, L = d.instance, d.L
    tight = variant != "F5-flow-plain"
    U = d.upper
    classes = node_classes(d, aggregate=variant == "F5-flow")
    C = len(classes)
    class_of = {n: c for c, members in enumerate(classes) for n in members}
    b = ArrayBuilder()
    cls, start, count = define_ranges(d, classes)
    R = len(cls)
    # vertices: in(C, s), s = 0..L-1; out(C, e), e = 1..L; hub(G, l), l = 1..L-1
    in_row = b.add_rows(0.0, 0.0, C * L, name="F5.1 in")
    out_row = b.add_rows(0.0, 0.0, C * L, name="F5.1 out")
    hub_row = b.add_rows(0.0, 0.0, len(d.groups) * max(L - 1, 0), name="F5.1 hub")

    def v_in(c: int, s):
        return in_row + c * L + s

    def v_out(c: int, e):
        return out_row + c * L + (e - 1)

    # (F5.2)-(F5.3): y (integer up to |C|; binary for one node) and segment flows
    size = np.array([len(classes[c]) for c in cls], dtype=float)
    y0 = b.add_cols(R, 0.0, size, True, name="y")
    theta = np.array([d.theta(classes[c][0])[k - 1] for c, k in zip(cls.tolist(), count.tolist())])
    big_m = np.minimum(theta, U) if tight else theta
    f0 = b.add_cols(R, 0.0, big_m * size, name="f")
    seg = np.arange(R)
    b.add_entries(v_in(cls, start), f0 + seg, np.ones(R))  # conservation rows: outflow - inflow = 0
    b.add_entries(v_out(cls, start + count), f0 + seg, -np.ones(R))
    cap_row = b.add_rows(-np.inf, 0.0, R, name="F5.2")
    b.add_entries(cap_row + seg, f0 + seg, np.ones(R))
    b.add_entries(cap_row + seg, y0 + seg, -big_m)
    one_row = b.add_rows(-np.inf, np.array([float(len(m)) for m in classes]), C, name="F5.3")
    b.add_entries(one_row + cls, y0 + seg, np.ones(R))
    # (F5.4) links
    N = inst.num_nodes
    link_cols: dict[int, np.ndarray] = {}
    class_source: dict[int, int] = {}
    class_sink: dict[int, int] = {}
    group_of = {n: g for g, members in enumerate(d.groups) for n in members}
    for a, (i, j) in enumerate(zip(inst.link_source.tolist(), inst.link_target.tolist())):
        c_a = float(d.capacity[a])
        ub = min(c_a, U) if tight else c_a
        if i == N and j == N + 1:
            continue  # a direct source -> sink link carries no computed layer
        end = j if i == N else i
        if end not in class_of:
            continue
        c = class_of[end]
        members = len(classes[c])
        if i == N or j == N + 1:
            cols = class_source if i == N else class_sink
            if c in cols:  # a class's source (sink) links are aggregated: one arc, capacity per member
                continue
            arc_ub = min(ub * members, U) if tight else ub * members  # no arc carries more than F <= U
            col = b.add_cols(1, 0.0, arc_ub, cost=-1.0 if i == N else 0.0, name="g source" if i == N else "g sink")
            b.add_entries([v_in(c, 0) if i == N else v_out(c, L)], [col], [-1.0 if i == N else 1.0])
            cols[c] = col
            if members > 1 and ub < U:  # binding: at most c_a per member that starts at 0 (ends at L)
                r = b.add_rows(-np.inf, 0.0, 1, name="F5.4 source/sink")
                sel = np.flatnonzero((cls == c) & ((start == 0) if i == N else (start + count == L)))
                b.add_entries(np.full(len(sel) + 1, r), np.r_[col, y0 + sel], np.r_[1.0, -ub * np.ones(len(sel))])
            if members == 1:
                link_cols[a] = np.array([col])
        elif j in class_of and L > 1 and not (i in group_of and group_of.get(j) == group_of[i]):
            ls = np.arange(1, L)
            first = b.add_cols(L - 1, 0.0, ub, name="g link")
            idx = first + np.arange(L - 1)
            b.add_entries(v_out(class_of[i], ls), idx, np.ones(L - 1))
            b.add_entries(v_in(class_of[j], ls), idx, -np.ones(L - 1))
            link_cols[a] = idx
    hub_in: dict[tuple[int, int], int] = {}
    hub_out: dict[tuple[int, int], int] = {}
    for g, members in enumerate(d.groups):
        for c in sorted({class_of[n] for n in members}):
            ls = np.arange(1, L)
            ub = U if tight else np.inf
            cin = b.add_cols(L - 1, 0.0, ub, name="g hub")
            cout = b.add_cols(L - 1, 0.0, ub, name="g hub")
            hrows = hub_row + g * (L - 1) + (ls - 1)
            b.add_entries(v_out(c, ls), cin + ls - 1, np.ones(L - 1))
            b.add_entries(hrows, cin + ls - 1, -np.ones(L - 1))
            b.add_entries(hrows, cout + ls - 1, np.ones(L - 1))
            b.add_entries(v_in(c, ls), cout + ls - 1, -np.ones(L - 1))
            for l in ls.tolist():
                hub_in[c, l] = cin + l - 1
                hub_out[c, l] = cout + l - 1
    return FlowModel(b.build(), classes, cls, start, count, y0, f0, link_cols, class_source, class_sink, hub_in,
                     hub_out)


def decision(d: F5Data, fm: FlowModel, x: np.ndarray) -> Placement:
    """The placement and the flow on every link of a solution ``x``: a class's ranges go to its
    members in order, each member carrying an equal share of its range's flow; a hub's flow is
    split between its senders and receivers in proportion (exact: its links do not bind)."""
    inst, L = d.instance, d.L
    y = x[fm.y0: fm.y0 + len(fm.seg_class)]
    f = np.maximum(x[fm.f0: fm.f0 + len(fm.seg_class)], 0.0)
    ranges: dict[int, tuple[int, int]] = {}
    carried: dict[int, float] = {}
    free = [list(m) for m in fm.classes]
    for r in np.flatnonzero(y > 0.5):
        m = int(round(float(y[r])))
        c = int(fm.seg_class[r])
        if m > len(free[c]):  # cannot happen in a solution of (F5.3); refuse rather than guess
            raise ValueError(f"class {fm.classes[c]} holds more ranges than it has nodes")
        for _ in range(m):
            n = free[c].pop(0)
            ranges[n] = (int(fm.seg_start[r]), int(fm.seg_count[r]))
            carried[n] = float(f[r]) / m
    flow = np.zeros(inst.num_links)
    for a, cols in fm.link_cols.items():
        flow[a] = float(np.maximum(x[cols], 0.0).sum())
    for c, members in enumerate(fm.classes):  # aggregated source and sink arcs
        if len(members) == 1:
            continue
        for n in members:
            if n not in ranges:
                continue
            s, k = ranges[n]
            if s == 0 and c in fm.class_source:
                flow[inst.link_between(inst.source, n)] = carried[n]
            if s + k == L and c in fm.class_sink:
                flow[inst.link_between(n, inst.sink)] = carried[n]
    for g, members in enumerate(d.groups):
        in_group = sorted({c for c, m in enumerate(fm.classes) if m[0] in members})
        for l in range(1, L):
            send: dict[int, float] = {}
            recv: dict[int, float] = {}
            for c in in_group:
                for side, col, wanted in ((send, fm.hub_in[c, l], "end"), (recv, fm.hub_out[c, l], "start")):
                    total = max(float(x[col]), 0.0)
                    if total <= 0:
                        continue
                    users = [n for n in fm.classes[c] if n in ranges and
                             (ranges[n][0] + ranges[n][1] == l if wanted == "end" else ranges[n][0] == l)]
                    weight = sum(carried[n] for n in users)
                    for n in users:
                        side[n] = side.get(n, 0.0) + (total * carried[n] / weight if weight > 0 else total / len(users))
            total = sum(send.values())
            if total <= 0:
                continue
            for i, si in send.items():
                for j, rj in recv.items():
                    if i != j and rj > 0:
                        flow[inst.link_between(i, j)] += si * rj / total
    return Placement.of(inst, ranges, flow)


def _integral(fm: FlowModel, x: np.ndarray) -> bool:
    y = x[fm.y0: fm.y0 + len(fm.seg_class)]
    return bool(np.all(np.abs(y - np.round(y)) <= INTEGRAL_TOL))


def relax_then_solve(adapter: ArrayBackend, model: SparseModel, options: SolverOptions, clock: Clock,
                     build_time: float, extra: dict,
                     family: str = "F5-flow") -> tuple[SolverRun, SolveResult, SolverRun]:
    """The LP relaxation (same backend, integrality dropped, raw options off; at most
    ``LP_SHARE`` of the time left, so that it never starves the MILP), then the MILP in the time
    left; both maximisations (the models minimise -F). The reported bound is the least of the
    MILP's dual bound, the LP optimum and U where ``extra`` has it (all valid upper bounds: a
    MILP stopped before its root LP reports a loose one); ``extra["solver_bound"]`` keeps the
    solver's own. ``family`` ("F5-flow" or "F5-helix") picks the HiGHS 1.14 settings. Shared by
    the F5 formulations."""
    left = clock.remaining()
    lp_clock = clock if left is None else Clock(LP_SHARE * max(left, 0.0))
    lp = adapter.run(model, replace(options, raw={}, mip_gap=None), lp_clock, relax=True).in_units_of(-1.0)
    mip_options = options
    settings = HIGHS_1_14_SETTINGS[family]
    if adapter.backend == "highspy" and adapter.version().startswith(PRESOLVE_BROKEN) and settings:
        mip_options = replace(options, raw={**settings, **options.raw})
        extra = {**extra, "highs_settings": f"{settings} (HiGHS 1.14 MIP regressions, see formulations/f5/flow.py)"}
    run = adapter.run(model, mip_options, clock).in_units_of(-1.0)
    result = result_of(run, build_time=build_time, extra=extra)
    result.lp_relaxation = lp.objective if lp.status == Status.OPTIMAL else None
    bounds = [b for b in (run.bound, result.lp_relaxation, extra.get("throughput_bound"))
              if b is not None and np.isfinite(b)]
    result.bound = min(bounds) if bounds else None
    result.extra.update(lp_relaxation_time=lp.solve_time, lp_relaxation_status=lp.solver_status,
                        solver_bound=run.bound)
    return run, result, lp


def _solve_arrays(variant: str, adapter: ArrayBackend) -> Callable[[LLMInstance, SolverOptions], SolveResult]:
    def solve(instance: LLMInstance, options: SolverOptions) -> SolveResult:
        clock = options.clock()
        d = f5_data(instance)
        fm = build(d, variant)
        extra = {**fm.sizes(), "throughput_bound": d.upper, "hub_groups": [len(g) for g in d.groups],
                 "class_sizes": sorted((len(m) for m in fm.classes), reverse=True)}
        run, result, lp = relax_then_solve(adapter, fm.model, options, clock, clock.elapsed(), extra)
        result.lp_integral = None if lp.x is None else _integral(fm, lp.x)
        return finish(instance, run, result, lambda x: decision(d, fm, x))

    return solve


def finish(instance: LLMInstance, run: SolverRun, result: SolveResult,
           to_placement: Callable[[np.ndarray], Placement]) -> SolveResult:
    """Objective and decision of a maximisation run (shared by the F5 formulations; the bound is
    set by :func:`relax_then_solve`)."""
    if run.x is None or run.objective is None:
        return without_incumbent(run, result)
    try:
        placement = to_placement(run.x)
    except ValueError as err:
        result.status, result.message = Status.ERROR, f"solution is not a placement: {err}"
        return result
    flow = np.asarray(placement.link_flow)
    result.objective = float(flow[instance.link_source == instance.source].sum())  # = run.objective up to tolerances
    result.extra["solver_objective"] = run.objective
    result.extra["llm_placement"] = placement.to_dict()
    return result


# ----------------------------------------------------------------------------- registry

for _variant in VARIANTS:
    for _adapter in array_backends():
        register(SolverSpec(
            _variant, _adapter.backend, _solve_arrays(_variant, _adapter), problem="llm", objective="throughput",
            accepts=_adapter.accepts_mip - {"lp_algorithm"},
            description={"F5-flow": "layered max-flow, capacities cut to the bound U, interchangeable nodes aggregated",
                         "F5-flow-nodes": "layered max-flow, capacities cut to U, one binary per node and range",
                         "F5-flow-plain": "layered max-flow as written (theta capacities, one binary per node and range)",
                         }[_variant] + f", {_adapter.solver}",
        ))
