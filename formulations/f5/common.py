r"""What every F5 formulation and the LLM heuristics share: the data, the throughput bound U,
the groups of non-binding links, and the maximum flow of a fixed placement.

Notation (DESIGN.md section 5, F5): layers 1..L; node n holds k in 1..K_n layers at
theta_n(k) tokens/s; link a carries c_a = b_a / beta tokens/s; F is the flow (tokens/s) from
the source to the sink.

**Throughput bound U.** In any placement with flow F, node n holding k_n layers carries at most
min(theta_n(k_n), F) (no node carries more than the whole flow), and every unit of flow passes
each of the L layers once, so

    L F = sum_n k_n f_n <= sum_n k_n min(theta_n(k_n), F) <= L g(F),
    g(U) = (1/L) sum_n max_k k min(theta_n(k), U).

g is concave and nondecreasing with g(0) = 0, so F <= g(F) holds exactly on [0, F_bar], F_bar
its largest fixed point; iterating U <- min(U, g(U)) from U_0 = min(sum of source-link
capacities, sum of sink-link capacities, sum_n max_k theta_n(k)) decreases to F_bar, and every
iterate bounds the optimum (if U >= F* then g(U) >= g(F*) >= F*). :func:`throughput_bound`
returns the last iterate. With U, capacities theta_n(k) and c_a above U can be cut to U without
losing a solution (a big-M tightening): the LP relaxation drops from the "fluid" bound
(sum_n max_k k theta_n(k)) / L to about U.

**Non-binding links.** A link with c_a >= U never binds (no arc carries more than F <= U). A
set of compute nodes whose every ordered pair is joined by such a link is a *hub group*: at each
layer boundary l, the arcs between its members can be replaced by one hub vertex (out(i, l) ->
hub(g, l) -> in(j, l)) without changing the set of feasible flows of any placement (a node
cannot both end and start a range at l, so the hub's i -> i shortcut carries nothing in an
integral solution; the LP relaxation may use it). :func:`hub_groups` finds maximal such groups
greedily (largest first); members of no group keep explicit arcs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from dnnsplit.options import Clock, SolverOptions
from dnnsplit.results import Status
from dnnsplit.solvers import highs
from dnnsplit.solvers.model import ArrayBuilder
from instances.llm import LLMInstance, Placement

BOUND_ITERATIONS = 10_000
BOUND_TOL = 1e-12


@dataclass
class F5Data:
    """Arrays of one LLM instance, computed once per solve."""

    instance: LLMInstance
    L: int
    compute: np.ndarray  # nodes with K_n >= 1
    capacity: np.ndarray  # c_a, tokens/s per link
    upper: float  # U
    groups: list[list[int]] = field(default_factory=list)  # hub groups (node indices)

    @property
    def source(self) -> int:
        return self.instance.source

    @property
    def sink(self) -> int:
        return self.instance.sink

    def theta(self, n: int) -> np.ndarray:
        return self.instance.nodes[n].throughput


def throughput_bound(instance: LLMInstance) -> float:
    """U: the largest fixed point of g (module docstring), an upper bound on the optimum."""
    L = instance.model.num_layers
    cap = instance.link_capacity
    tables = [n.throughput for n in instance.nodes if n.max_layers > 0]
    if not tables:
        return 0.0
    out_of_source = float(cap[instance.link_source == instance.source].sum())
    into_sink = float(cap[instance.link_target == instance.sink].sum())
    u = min(out_of_source, into_sink, float(sum(t.max() for t in tables)))
    ks = [np.arange(1, len(t) + 1) for t in tables]
    for _ in range(BOUND_ITERATIONS):
        g = float(sum(np.max(k * np.minimum(t, u)) for k, t in zip(ks, tables))) / L
        if g >= u * (1 - BOUND_TOL):
            break
        u = g
    return u


def hub_groups(instance: LLMInstance, upper: float, compute: Sequence[int]) -> list[list[int]]:
    """Maximal groups of compute nodes pairwise joined (both ways) by links with c_a >= U."""
    cap = instance.link_capacity
    members = set(int(n) for n in compute)
    strong: dict[int, set[int]] = {n: set() for n in members}
    for a, (i, j) in enumerate(zip(instance.link_source.tolist(), instance.link_target.tolist())):
        if i in members and j in members and cap[a] >= upper:
            strong[i].add(j)
    mutual = {n: {m for m in strong[n] if n in strong[m]} for n in members}
    groups: list[list[int]] = []
    left = set(members)
    while left:
        seed = max(sorted(left), key=lambda n: len(mutual[n] & left))
        group = [seed]
        for m in sorted(mutual[seed] & left, key=lambda m: (-len(mutual[m] & left), m)):
            if all(m in mutual[g] for g in group):
                group.append(m)
        left -= set(group)
        if len(group) > 1:
            groups.append(sorted(group))
    return groups


def f5_data(instance: LLMInstance, *, hubs: bool = True) -> F5Data:
    compute = np.array([n for n, node in enumerate(instance.nodes) if node.max_layers > 0], dtype=np.int64)
    upper = throughput_bound(instance)
    groups = hub_groups(instance, upper, compute) if hubs and upper > 0 else []
    return F5Data(instance, instance.model.num_layers, compute, np.asarray(instance.link_capacity), upper, groups)


def placement_flow(instance: LLMInstance, ranges: Sequence[tuple[int, int] | None], options: SolverOptions,
                   clock: Clock) -> tuple[Status, float, np.ndarray | None]:
    """The maximum flow of a fixed placement (an LP on its active links, solved by HiGHS):
    (status, tokens/s, flow per link). Used by the heuristics to value their placements."""
    from instances.llm.evaluate import active_links

    N = instance.num_nodes
    active = np.flatnonzero(active_links(instance, Placement(tuple(ranges))))
    if len(active) == 0:
        return Status.OPTIMAL, 0.0, np.zeros(instance.num_links)
    b = ArrayBuilder(integral=False)
    src = instance.link_source[active]
    dst = instance.link_target[active]
    f0 = b.add_cols(len(active), 0.0, instance.link_capacity[active], cost=np.where(src == N, -1.0, 0.0), name="f")
    r0 = b.add_rows(0.0, 0.0, N, name="conservation")  # in - out = 0 at every node
    cols = f0 + np.arange(len(active))
    into = dst < N
    outof = src < N
    b.add_entries(r0 + dst[into], cols[into], np.ones(int(into.sum())))
    b.add_entries(r0 + src[outof], cols[outof], -np.ones(int(outof.sum())))
    theta = np.array([0.0 if r is None else float(instance.nodes[n].throughput[r[1] - 1]) for n, r in enumerate(ranges)])
    c0 = b.add_rows(-np.inf, theta, N, name="node capacity")  # inflow <= theta_n(k)
    b.add_entries(c0 + dst[into], cols[into], np.ones(int(into.sum())))
    run = highs.BACKEND.run(b.build(), SolverOptions(threads=options.threads), clock)
    if run.x is None or run.objective is None:
        return run.status, 0.0, None
    flow = np.zeros(instance.num_links)
    flow[active] = np.maximum(run.x, 0.0)
    value = float(flow[instance.link_source == N].sum())
    return run.status, value, flow
