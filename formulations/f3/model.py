"""Per-job data shared by both forms of F3 (DESIGN.md section 3, F3): variants, exit
configurations, and the per-arc coefficients of each job's layered graph.

Used by ``arc.py`` (arc form: one flow per job and configuration) and the path form
(``master.py``, ``pricing.py``, ``colgen.py``: column generation). Both read the same
:class:`F3Data`, so they solve the same model; the heuristics (greedy, DINA, FIN) read the same
templates, so their latencies and loads are exactly the ones the exact models constrain: the
per-request load coefficients of C1/C2 are derived here and nowhere else.

Templates
---------
A job's layered graph depends only on (model, active exits, and, when exits are active, the
sink t_j). One :class:`Template` per distinct key holds the structure (the engine's
:class:`LayeredGraph`, arc order: communication arcs ``l*|A| + a``, then computation arcs
``(L+1)|A| + (l-1)|C| + k``) and the per-request coefficients of every arc, with
rho_1..rho_{L+1} from the active exits X (exactly ``instances/evaluate.py``'s weighting):

    communication arc (i,l)->(k,l) on link a, l = 0..L   (weight rho_{l+1}):
        latency  rho_{l+1} (o_l / b_a + delta_a)
        energy   rho_{l+1} eps_a o_l
        C2 load  rho_{l+1} o_l / b_a          on link a     (utilisation per request)
    computation arc (n,l-1)->(n,l), l = 1..L, compute node n   (weight rho_l):
        latency  rho_l tau_{l,n}
        energy   p_n rho_l tau_{l,n}
        C1 load  rho_l tau_{l,n}              on node n     (busy seconds per request)
      plus, when an active exit x sits after layer l (x's head runs where layer l runs):
        head     rho_l h_x / c_n              (latency, C1 load; energy times p_n)
        delivery q_x D_x(n, t_j)              latency of the result (r_x bytes, ``Exit.result_bytes``:
                                              DESIGN.md's o_x) to the sink
                 q_x sum_{a in E_x(n)} eps_a r_x            energy
                 q_x r_x / b_a on every link a of E_x(n)    C2 load

E_x(n) is the latency-shortest path from n to t_j for r_x bytes, D_x(n, t_j) its latency
(DESIGN.md: "adds q_x D(n, t_j)"). Result delivery therefore follows a fixed route per
(exit node, sink): its load is charged to the capacities, but it is not re-routed around
congestion (a modelling choice: results are small). Computation arcs whose node cannot reach
t_j with an active exit are unusable (``Template.usable``).

Loads are per request; a job adds lambda_j times them. C1 rows are in busy seconds per second,
C2 rows are divided by b_a, so both read "utilisation <= kappa". The expected latency, energy
and loads of a flow are the share-weighted sums, as the evaluator computes them.

Exit configurations
-------------------
``exits="none"``: no exit is active (rho = 1); ``"all"``: every exit of the model is active;
``"select"``: every subset of the model's exits (2^k, k <= MAX_EXITS) is one configuration, a
first branch of the job's graph. Unsplittable variants discard the configurations whose
expected accuracy sum_x q_x alpha_x + rho_{L+1} alpha_L is below A_j (they can never be chosen);
splittable variants keep them all and carry the accuracy row, because a mix of a configuration
below the target with one above it can meet the target in expectation (the evaluator checks the
share-weighted accuracy).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import scipy.sparse as sp

from dnnsplit.graph.layered import LayeredGraph, build_layered_graph, route_from_arc_path
from dnnsplit.graph.shortest import LayeredCosts, TransferTables, layered_labels, walk
from dnnsplit.results import SolveResult, Status
from instances.evaluate import Route
from instances.model import Instance

MAX_EXITS = 8  # "select" enumerates 2^k configurations

EVAL_OBJECTIVE = {"latency": "rate_weighted_latency", "energy": "energy", "minmax": "max_latency"}


# ----------------------------------------------------------------------------- variants


@dataclass(frozen=True)
class Variant:
    """One F3 problem: base model plus add-ons. ``name`` is the registered formulation."""

    name: str
    objective: str  # "latency" (rate-weighted), "energy" (rate-weighted), "minmax"
    exits: str  # "none", "all", "select"
    integral: bool  # unsplittable: binary flows, one route per job
    deadlines: bool = False  # expected latency of job j <= T_j
    memory: bool = False  # C3 with z variables (arc form only)
    description: str = ""

    @property
    def eval_objective(self) -> str:
        return EVAL_OBJECTIVE[self.objective]

    @property
    def kind(self) -> str:
        """"bound" where the LP only relaxes an unsplittable or fixed-charge problem."""
        if not self.integral and (self.objective == "minmax" or self.memory):
            return "bound"
        return "exact"

    @property
    def relaxation(self) -> str | None:
        """The splittable variant whose optimum is this MILP's LP relaxation (None for an LP)."""
        return self.name.removesuffix("-milp") + "-lp" if self.integral else None

    @property
    def addons(self) -> tuple[str, ...]:
        """The define_* steps that build this variant, in order (base model first)."""
        steps = ["flow_conservation", "node_capacity", "link_capacity", "accuracy"]
        if self.deadlines:
            steps.append("deadlines")
        if self.memory:
            steps.append("memory")
        steps.append(f"{self.objective}_objective")
        return tuple(steps)


def _variants() -> dict[str, Variant]:
    out = {}
    for split, integral in (("lp", False), ("milp", True)):
        how = "unsplittable (binary flows)" if integral else "splittable (LP)"
        for v in (
            Variant(f"F3-latency-{split}", "latency", "none", integral,
                    description=f"F3 rate-weighted latency, {how}"),
            Variant(f"F3-latency-mem-{split}", "latency", "none", integral, memory=True,
                    description=f"F3 rate-weighted latency with model memory C3, {how}"),
            Variant(f"F3-minmax-{split}", "minmax", "none", integral,
                    description=f"F3 min-max job latency, {how}"),
            Variant(f"F3-energy-{split}", "energy", "none", integral, deadlines=True,
                    description=f"F3 rate-weighted energy with deadlines, {how}"),
            Variant(f"F3-exit-{split}", "latency", "all", integral,
                    description=f"F3 rate-weighted latency, all early exits active, {how}"),
            Variant(f"F3-exit-select-{split}", "energy", "select", integral, deadlines=True,
                    description=f"F3 energy, deadlines, exit selection under accuracy targets, {how}"),
        ):
            out[v.name] = v
    return out


VARIANTS: dict[str, Variant] = _variants()


def configurations(instance: Instance, job_index: int, variant: Variant) -> list[tuple[int, ...]]:
    """Exit configurations (tuples of exit indices) open to one job under ``variant``."""
    job = instance.jobs[job_index]
    model = instance.model_of(job)
    k = len(model.exits)
    if variant.exits == "none" or k == 0:
        return [()]
    if variant.exits == "all":
        return [tuple(range(k))]
    if k > MAX_EXITS:
        raise ValueError(f"model {model.name!r} has {k} exits; exit selection enumerates at most {MAX_EXITS}")
    configs = [c for size in range(k + 1) for c in itertools.combinations(range(k), size)]
    if variant.integral and job.accuracy_target is not None and model.accuracy is not None:
        ok = [c for c in configs if model.expected_accuracy(c) >= job.accuracy_target - 1e-9]
        if ok:  # none left: keep all, the accuracy row reports the infeasibility
            configs = ok
    return configs


# ----------------------------------------------------------------------------- templates


@dataclass(eq=False)
class Template:
    """One job layered graph with per-request arc coefficients (see the module docstring)."""

    key: tuple
    model_index: int
    config: tuple[int, ...]
    graph: LayeredGraph  # structure; its ``cost`` is replaced when pricing
    rho: np.ndarray
    accuracy: float | None  # expected accuracy of the configuration (None: model has none)
    latency: np.ndarray  # per arc, per request (inf on unusable arcs)
    energy: np.ndarray
    R: sp.csc_array  # (|N| + |A|) x arcs: utilisation per request (C1 rows, then C2 rows)
    usable: np.ndarray  # bool per arc
    exit_paths: dict[int, dict[int, tuple[int, ...]]]  # exit -> compute node -> links to the sink
    exit_layer: dict[int, int]  # exit -> the layer it follows
    compute_pos: np.ndarray  # node -> position in graph.compute_nodes (-1: router)
    busy: np.ndarray  # (L, |C|): C1 busy seconds per request of each computation arc (exit heads in)

    @property
    def num_arcs(self) -> int:
        return self.graph.num_arcs

    @property
    def num_vertices(self) -> int:
        return self.graph.num_vertices

    def objective(self, name: str) -> np.ndarray:
        """Per-request objective coefficient per arc for objective ``name``."""
        if name == "latency":
            return self.latency
        if name == "energy":
            return self.energy
        return np.zeros(self.num_arcs)

    def source_vertex(self, node: int) -> int:
        return node

    def sink_vertex(self, node: int) -> int:
        return self.graph.num_layers * self.graph.num_nodes + node

    def compute_arc(self, layer: int, node: int) -> int:
        """Arc index of the computation arc of ``layer`` (1..L) on ``node``."""
        g = self.graph
        return (g.num_layers + 1) * g.num_links + (layer - 1) * len(g.compute_nodes) + int(self.compute_pos[node])

    def costs(self, arc_cost: np.ndarray) -> LayeredCosts:
        """Per-arc costs (inf: pruned) as the engine's costs: (L+1, |A|) links, (L, |N|) nodes."""
        g = self.graph
        L, A, nc = g.num_layers, g.num_links, g.num_comm_arcs
        node_cost = np.full((L, g.num_nodes), np.inf)
        node_cost[:, g.compute_nodes] = arc_cost[nc:].reshape(L, len(g.compute_nodes))
        return LayeredCosts.explicit(arc_cost[:nc].reshape(L + 1, A), node_cost)

    def arcs_of(self, route: Route) -> np.ndarray:
        """Arc indices of a route of this template (communication arcs by copy, then compute)."""
        g = self.graph
        A, C = g.num_links, len(g.compute_nodes)
        comm = [l * A + np.asarray(p, dtype=np.int64) for l, p in enumerate(route.paths)]
        layers = np.arange(1, g.num_layers + 1)
        comp = (g.num_layers + 1) * A + (layers - 1) * C + self.compute_pos[np.asarray(route.placement, dtype=np.int64)]
        return np.concatenate([*comm, comp]).astype(np.int64)

    def with_exits(self, route: Route, share: float = 1.0) -> Route:
        """``route`` (placement and paths) with this configuration's exits and their deliveries."""
        exit_paths = tuple(self.exit_paths[x][route.placement[self.exit_layer[x] - 1]] for x in self.config)
        return Route(route.placement, route.paths, self.config, exit_paths, share)

    def shortest(self, arc_cost: np.ndarray, sources: Sequence[int]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """One engine pass per source node under ``arc_cost``: {source: (labels of copy L, parents)}
        (a source whose pass finds no seed in some copy is left out)."""
        costs = self.costs(arc_cost)
        out = {}
        for src in sources:
            got = layered_labels(self.graph.network, int(src), costs)
            if got is not None:
                out[int(src)] = got
        return out

    def path(self, arc_cost: np.ndarray, parents: np.ndarray, source: int, sink: int) -> Route:
        """The route of the engine's parents (from ``shortest``) to ``sink``, exits not added."""
        return walk(self.graph.network, parents, self.costs(arc_cost), source, sink)


def build_template(
    instance: Instance, job_index: int, config: tuple[int, ...], tables: TransferTables
) -> Template:
    """The template of job ``job_index``'s model with exits ``config`` (sink matters if any)."""
    net = instance.network
    job = instance.jobs[job_index]
    model = instance.model_of(job)
    g = build_layered_graph(instance, job_index)
    N, A, L = net.num_nodes, net.num_links, model.num_layers
    C = g.compute_nodes.astype(np.int64)
    rho = model.reach(config)  # rho[l-1] = rho_l; rho[l] weights path l
    sizes = model.tensor_sizes
    w = rho[: L + 1, None]
    comm_util = w * np.multiply.outer(sizes, 1.0 / net.bandwidth)  # (L+1, A)
    comm_lat = w * (np.multiply.outer(sizes, 1.0 / net.bandwidth) + net.delay)
    comm_en = w * np.multiply.outer(sizes, net.energy_per_byte)
    tau = instance.compute_time(model)[:, C]  # (L, |C|)
    busy = rho[:L, None] * tau
    comp_lat = busy.copy()
    extra_lat = np.zeros_like(busy)
    extra_en = np.zeros_like(busy)
    extra_rows: list[np.ndarray] = []
    extra_cols: list[np.ndarray] = []
    extra_vals: list[np.ndarray] = []
    exit_paths: dict[int, dict[int, tuple[int, ...]]] = {}
    n_comm = (L + 1) * A
    for x in config:
        e = model.exits[x]
        l = e.after_layer
        head = rho[l - 1] * instance.head_time(model, x)[C]
        busy[l - 1] += head
        comp_lat[l - 1] += head
        D = tables.dist(e.result_bytes, C, [job.sink])[:, 0]
        extra_lat[l - 1] += e.probability * D
        exit_paths[x] = {}
        for k, n in enumerate(C.tolist()):
            if not np.isfinite(D[k]):
                continue
            path = tables.path(e.result_bytes, n, job.sink)
            exit_paths[x][n] = path
            links = np.asarray(path, dtype=np.int64)
            extra_en[l - 1, k] += e.probability * e.result_bytes * float(net.energy_per_byte[links].sum())
            arc = n_comm + (l - 1) * len(C) + k
            extra_rows.append(N + links)
            extra_cols.append(np.full(len(links), arc, dtype=np.int64))
            extra_vals.append(e.probability * e.result_bytes / net.bandwidth[links])
    comp_en = busy * net.power[C] + extra_en
    comp_lat = comp_lat + extra_lat
    latency = np.concatenate([comm_lat.ravel(), comp_lat.ravel()])
    energy = np.concatenate([comm_en.ravel(), comp_en.ravel()])
    usable = np.isfinite(latency) & np.isfinite(energy)
    latency = np.where(usable, latency, np.inf)
    energy = np.where(usable, energy, np.inf)
    m = g.num_arcs
    rows = [np.tile(N + np.arange(A, dtype=np.int64), L + 1), np.tile(C, L), *extra_rows]
    cols = [np.arange(n_comm, dtype=np.int64), n_comm + np.arange(L * len(C), dtype=np.int64), *extra_cols]
    vals = [comm_util.ravel(), busy.ravel(), *extra_vals]
    r, c, v = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    keep = usable[c] & (v != 0)
    R = sp.csc_array((v[keep], (r[keep], c[keep])), shape=(N + A, m))
    R.sum_duplicates()
    compute_pos = np.full(N, -1, dtype=np.int64)
    compute_pos[C] = np.arange(len(C))
    accuracy = model.expected_accuracy(config) if model.accuracy is not None else None
    key = (job.model, config, job.sink if config else None)
    exit_layer = {x: model.exits[x].after_layer for x in config}
    return Template(
        key, job.model, config, g, rho, accuracy, latency, energy, R, usable, exit_paths, exit_layer, compute_pos, busy)


class F3Data:
    """Templates and per-job options for one instance under one variant."""

    def __init__(self, instance: Instance, variant: Variant):
        self.instance = instance
        self.variant = variant
        net = instance.network
        if not instance.jobs:
            raise ValueError("the instance has no jobs")
        self.tables = TransferTables(net, origins=net.compute_nodes)
        self.templates: dict[tuple, Template] = {}
        self.options: list[list[Template]] = []
        for j, job in enumerate(instance.jobs):
            opts = []
            for config in configurations(instance, j, variant):
                key = (job.model, config, job.sink if config else None)
                if key not in self.templates:
                    self.templates[key] = build_template(instance, j, config, self.tables)
                opts.append(self.templates[key])
            self.options.append(opts)
        self.rates = np.array([job.rate for job in instance.jobs])
        self.num_resources = net.num_nodes + net.num_links
        self.kappa = instance.utilisation_cap

    @property
    def scale(self) -> float:
        """Objective scale S: a power of two near the uncapacitated optimum (sum_j lambda_j x
        the job's shortest objective path; the largest shortest latency for min-max). Both forms
        minimise objective / S, so solver tolerances act relative to the optimum; values are
        multiplied back by S (exact: a power of two)."""
        cached = self.__dict__.get("_scale")
        if cached is None:
            cached = self._scale = _objective_scale(self)
        return cached

    # -- which side rows exist
    def deadline_jobs(self) -> list[int]:
        if not self.variant.deadlines:
            return []
        return [j for j, job in enumerate(self.instance.jobs) if job.deadline is not None]

    def accuracy_jobs(self) -> list[int]:
        return [
            j
            for j, job in enumerate(self.instance.jobs)
            if job.accuracy_target is not None and self.instance.model_of(job).accuracy is not None
        ]

    def capacity_rows(self) -> np.ndarray:
        """Resource rows that can carry load: compute nodes (C1) and all links (C2)."""
        net = self.instance.network
        return np.concatenate([net.compute_nodes, net.num_nodes + np.arange(net.num_links)])

    # -- names for messages (as instances.evaluate.capacity_violations words them)
    def resource_name(self, r: int) -> str:
        net = self.instance.network
        if r < net.num_nodes:
            return f"node {net.node_names[r]!r} busy time (C1)"
        a = r - net.num_nodes
        s, t = net.node_names[net.link_source[a]], net.node_names[net.link_target[a]]
        return f"link {s!r}->{t!r} bandwidth (C2)"

    def job_name(self, j: int) -> str:
        return f"job {j} ({self.instance.jobs[j].name})"

    def memory_name(self, n: int) -> str:
        return f"node {self.instance.network.node_names[n]!r} memory (C3)"


def _objective_scale(d: F3Data) -> float:
    mode = "latency" if d.variant.objective == "minmax" else d.variant.objective
    jobs = d.instance.jobs
    best = np.full(len(jobs), np.inf)
    by_tpl: dict[int, tuple[Template, list[int]]] = {}
    for j, opts in enumerate(d.options):
        for tpl in opts:
            by_tpl.setdefault(id(tpl), (tpl, []))[1].append(j)
    for tpl, js in by_tpl.values():
        passes = tpl.shortest(np.where(tpl.usable, tpl.objective(mode), np.inf), sorted({jobs[j].source for j in js}))
        for j in js:
            if jobs[j].source in passes:
                best[j] = min(best[j], float(passes[jobs[j].source][0][jobs[j].sink]))
    finite = best[np.isfinite(best)]
    if not len(finite):
        return 1.0
    total = float(finite.max()) if d.variant.objective == "minmax" else float((d.rates[np.isfinite(best)] * finite).sum())
    if not total > 0 or not np.isfinite(total):
        return 1.0
    return float(2.0 ** round(np.log2(total)))


# ----------------------------------------------------------------------------- paths and routes


def route_from_arcs(tpl: Template, arcs: Sequence[int], share: float = 1.0) -> Route:
    """A source-sink arc path of ``tpl`` -> Route with the template's active exits."""
    return tpl.with_exits(route_from_arc_path(tpl.graph, arcs), share)


def column_resources(R: sp.csc_array, arcs: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Resource rows and summed loads (times ``scale``) of a path's arcs: (rows, values)."""
    starts, ends = R.indptr[arcs], R.indptr[arcs + 1]
    counts = ends - starts
    if counts.sum() == 0:
        return np.empty(0, dtype=np.int64), np.empty(0)
    pos = np.repeat(starts - np.cumsum(np.concatenate(([0], counts[:-1]))), counts) + np.arange(counts.sum())
    rows = R.indices[pos]
    vals = R.data[pos]
    uniq, inv = np.unique(rows, return_inverse=True)
    return uniq.astype(np.int64), np.bincount(inv, weights=vals) * scale


# ----------------------------------------------------------------------------- results


def mark_infeasible(result: SolveResult, what: str, ratio: float | None, how: str) -> SolveResult:
    """``result`` as INFEASIBLE with the most violated resource named in the message."""
    detail = f" (elastic slack {ratio:.4g} of its limit)" if ratio is not None else ""
    result.status = Status.INFEASIBLE
    result.message = f"infeasible: most violated resource: {what}{detail}; found by {how}"
    return result


def side_row_names(data: F3Data) -> list[str]:
    """Names of the elastic rows in the order both forms add them: capacity, deadline, accuracy."""
    names = [data.resource_name(int(r)) for r in data.capacity_rows()]
    names += [f"{data.job_name(j)} deadline" for j in data.deadline_jobs()]
    names += [f"{data.job_name(j)} accuracy target" for j in data.accuracy_jobs()]
    return names
