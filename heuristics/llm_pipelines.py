r"""Single pipelines and the literature's heuristics for LLM placement (F5), measured against the
F5-flow optimum (``reference="F5-flow"``).

**single-pipeline/bottleneck** (a check and a baseline, polynomial). The best *single*
pipeline: distinct nodes n_1..n_m in order, n_i holding k_i layers with sum k_i = L, linked
source -> n_1 -> ... -> n_m -> sink; its throughput is the bottleneck
min(min_i theta_{n_i}(k_i), min over its links c_a). For a threshold tau, node n may take any
k with theta_n(k) >= tau and only links with c_a >= tau may be used. On a network where every
pair of compute nodes is linked both ways with one capacity (all the suite's LLM families) the
compute nodes joined by links >= tau form cliques, the order inside a clique is free, and a
pipeline of bottleneck >= tau exists iff some clique holds a subset of nodes with one allowed
k each summing to L, the first linked from the source and the last to the sink at >= tau:
a DP over (layers covered, first chosen, last chosen) that also minimises the number of stages
(latency). The largest feasible tau among the theta and c values (binary search: feasibility
is monotone) is the optimum, in O(log V (N L K)) time. Where a threshold graph is not a union
of cliques (or a link has no match back), an exact DP over (nodes used, last node, layers done)
decides instead, exponential in the nodes: up to 10 nodes; beyond that the backend says so
(status error) instead of guessing. When the memory admits
no two pipelines (sum_n K_n = L: every layer held once), the F5-flow optimum is this value.

**petals/greedy, petals/rebalance** (Borzunov et al., "Distributed Inference and Fine-tuning of
Large Language Models Over The Internet", NeurIPS 2023; Petals' ``block_selection``). Servers
join one by one (instance order); each serves as many blocks as fit beside a reserved KV cache
of ``cache_tokens`` = 16,384 tokens (Petals' ``attn_cache_tokens`` default, as we read it) and at
most K_n, and takes the contiguous span whose current per-block throughputs, sorted, are
lexicographically smallest (the span of lowest current throughput); the span's blocks then
gain the server's throughput theta_n(k). ``rebalance`` then lets each server in turn leave and
re-choose, keeping a move only if the swarm's bottleneck (the least per-block throughput)
does not fall, for at most 10 rounds or until nothing moves. The placement's throughput is
its maximum flow (an LP on its active links, HiGHS). Petals' own routing lets a request enter
a server mid-span; F5 does not (a node computes its whole range, as in Helix), so spans that
overlap without meeting carry nothing: ``petals/aligned`` keeps Petals' rule but only among
the spans that meet the others (starting at 0 or where another span ends, cut short where
the model ends), rebalancing likewise (a span that others start from stays).

**pipeedge/dp** (Hu et al., "PipeEdge: Pipeline Parallelism for Large-Scale Model Inference
on Heterogeneous Edge Devices", DSD 2022). A dynamic program over (device, layers done):
devices in a fixed order (memory, largest first; ties by index), each used at most once, a
chain following that order, maximising the bottleneck of stage throughputs and the *direct*
links between consecutive devices (no topology: no routes, no other paths), ties to fewer
stages; O(N^2 L K). A single pipeline, like single-pipeline/bottleneck but restricted to one
device order.

Every backend takes ``time_limit`` (the clock is checked between steps) and returns a
placement with its flow for the evaluator; status feasible (no optimality proof).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from dnnsplit.options import Clock, SolverOptions
from dnnsplit.registry import SolverSpec, register
from dnnsplit.results import SolveResult, Status
from dnnsplit.solvers import highs
from formulations.f5.common import placement_flow
from instances.llm import LLMInstance, Placement

REFERENCE = "F5-flow"
CACHE_TOKENS = 16_384
REBALANCE_ROUNDS = 10
SEARCH_LIMIT = 10  # nodes up to which single-pipeline searches exactly where the clique argument fails


class NotApplicable(ValueError):
    """The instance is outside the domain where the method is exact."""


def _out_of_time(clock: Clock, what: str) -> SolveResult:
    return SolveResult(status=Status.TIME_LIMIT, message=f"time limit reached {what}", solve_time=clock.elapsed())


def _result(instance: LLMInstance, ranges: dict[int, tuple[int, int]], flow: np.ndarray, clock: Clock,
            **extra: object) -> SolveResult:
    """A feasible result: the placement, its flow, and the flow's value as the objective."""
    placement = Placement.of(instance, ranges, flow)
    value = float(np.asarray(flow)[instance.link_source == instance.source].sum())
    return SolveResult(status=Status.FEASIBLE, objective=value, solve_time=clock.elapsed(), solver="python",
                       extra={"llm_placement": placement.to_dict(), "stages": len(ranges), **extra})


def _chain(instance: LLMInstance, order: list[tuple[int, int]]) -> tuple[dict[int, tuple[int, int]], float, np.ndarray]:
    """Ranges, bottleneck and link flows of the pipeline ``order`` = [(node, k), ...]."""
    ranges, start = {}, 0
    for n, k in order:
        ranges[n] = (start, k)
        start += k
    ends = [instance.source, *(n for n, _ in order), instance.sink]
    links = [instance.link_between(a, b) for a, b in zip(ends, ends[1:])]
    if any(a is None for a in links):
        return ranges, 0.0, np.zeros(instance.num_links)
    value = min([float(instance.nodes[n].throughput[k - 1]) for n, k in order]
                + [float(instance.link_capacity[a]) for a in links])
    flow = np.zeros(instance.num_links)
    flow[links] = value
    return ranges, value, flow


# ----------------------------------------------------------------------------- the single pipeline


def _cliques(instance: LLMInstance, nodes: list[int], tau: float) -> list[list[int]]:
    """Components of the graph of links >= tau (both ways) among ``nodes``; each must be a clique."""
    cap = instance.link_capacity
    ok = set(nodes)
    adj: dict[int, set[int]] = {n: set() for n in nodes}
    for a, (i, j) in enumerate(zip(instance.link_source.tolist(), instance.link_target.tolist())):
        if i in ok and j in ok and cap[a] >= tau:
            back = instance.link_between(j, i)
            if back is None or cap[back] < tau:
                raise NotApplicable(f"at threshold {tau:.6g} tokens/s the link {i}->{j} has no match back")
            adj[i].add(j)
    seen: set[int] = set()
    out = []
    for n in nodes:
        if n in seen:
            continue
        comp, stack = [], [n]
        seen.add(n)
        while stack:
            v = stack.pop()
            comp.append(v)
            for w in adj[v] - seen:
                seen.add(w)
                stack.append(w)
        if any(len(adj[v]) != len(comp) - 1 for v in comp):
            raise NotApplicable(f"at threshold {tau:.6g} tokens/s the nodes {sorted(comp)[:6]}... are connected but "
                                "not pairwise linked: single-pipeline/bottleneck is exact on networks whose threshold "
                                "graphs are unions of cliques only")
        out.append(sorted(comp))
    return out


ROLES = ("mid", "first", "last", "only")


def _best_in_clique(instance: LLMInstance, clique: list[int], tau: float) -> list[tuple[int, int]] | None:
    """Fewest-stage pipeline of bottleneck >= tau inside ``clique`` (DP over layers covered and
    whether the first/last stage is chosen), or None."""
    L = instance.model.num_layers
    cap = instance.link_capacity
    INF = 10**9
    dp = np.full((L + 1, 2, 2), INF, dtype=np.int64)  # dp[layers, first chosen, last chosen] = fewest nodes
    dp[0, 0, 0] = 0
    steps: list[tuple[np.ndarray, np.ndarray]] = []
    for n in clique:
        theta = instance.nodes[n].throughput
        a_src, a_snk = instance.link_between(instance.source, n), instance.link_between(n, instance.sink)
        can_first = a_src is not None and cap[a_src] >= tau
        can_last = a_snk is not None and cap[a_snk] >= tau
        new = dp.copy()
        choice = np.full((L + 1, 2, 2, 3), -1, dtype=np.int64)  # (role, k, layers before)
        for k in (k for k in range(1, len(theta) + 1) if theta[k - 1] >= tau):
            src = np.arange(0, L + 1 - k)
            for f in (0, 1):
                for l in (0, 1):
                    moves = [(0, f, l)]
                    if f == 0 and can_first:
                        moves.append((1, 1, l))
                    if l == 0 and can_last:
                        moves.append((2, f, 1))
                    if f == 0 and l == 0 and can_first and can_last and k == L:
                        moves.append((3, 1, 1))
                    for role, f2, l2 in moves:
                        cand = dp[src, f, l] + 1
                        better = cand < new[src + k, f2, l2]
                        if not better.any():
                            continue
                        t = src[better] + k
                        new[t, f2, l2] = cand[better]
                        choice[t, f2, l2] = np.stack([np.full(len(t), role), np.full(len(t), k), src[better]], axis=1)
        steps.append((new, choice))
        dp = new
    if dp[L, 1, 1] >= INF:
        return None
    ordered: dict[str, list[tuple[int, int]]] = {r: [] for r in ROLES}
    s, f, l = L, 1, 1
    for idx in range(len(clique) - 1, -1, -1):
        table, choice = steps[idx]
        before = steps[idx - 1][0] if idx > 0 else None
        role, k, s0 = (int(v) for v in choice[s, f, l])
        if role < 0 or (before is not None and before[s, f, l] == table[s, f, l]):
            continue  # this node is not in the pipeline of this state
        ordered[ROLES[role]].append((clique[idx], k))
        f, l = (0 if role in (1, 3) else f), (0 if role in (2, 3) else l)
        s = s0
    if s != 0:
        raise AssertionError("walk back did not reach 0 layers")
    return ordered["only"] + ordered["first"] + ordered["mid"] + ordered["last"]


def _search(instance: LLMInstance, nodes: list[int], tau: float) -> list[tuple[int, int]] | None:
    """Fewest-stage chain of bottleneck >= tau on any network: a DP over (nodes used, last node,
    layers done), exponential in the nodes (used for up to SEARCH_LIMIT of them)."""
    import functools

    L = instance.model.num_layers
    cap = instance.link_capacity
    index = {n: b for b, n in enumerate(nodes)}

    def ok(i: int, j: int) -> bool:
        a = instance.link_between(i, j)
        return a is not None and cap[a] >= tau

    allowed = {n: [k for k in range(1, instance.nodes[n].max_layers + 1) if instance.nodes[n].throughput[k - 1] >= tau]
               for n in nodes}

    @functools.lru_cache(maxsize=None)
    def finish(mask: int, last: int, done: int) -> tuple[int, tuple]:
        """(fewest further stages, their (node, k)) to reach the sink from ``last`` after ``done``."""
        if done == L:
            return (0, ()) if ok(last, instance.sink) else (10**9, ())
        best: tuple[int, tuple] = (10**9, ())
        for n in nodes:
            if mask >> index[n] & 1 or not ok(last, n):
                continue
            for k in allowed[n]:
                if done + k <= L:
                    stages, rest = finish(mask | 1 << index[n], n, done + k)
                    if stages + 1 < best[0]:
                        best = (stages + 1, ((n, k), *rest))
        return best

    stages, chain = finish(0, instance.source, 0)
    return list(chain) if stages < 10**9 else None


def single_pipeline(instance: LLMInstance, clock: Clock) -> tuple[float, list[tuple[int, int]]] | None:
    """(bottleneck, [(node, k) in order]) of the best single pipeline, or None (no pipeline)."""
    nodes = [n for n, node in enumerate(instance.nodes) if node.max_layers > 0]
    values = sorted({float(v) for n in nodes for v in instance.nodes[n].throughput}
                    | {float(c) for c in instance.link_capacity})
    best = None

    def feasible(tau: float) -> list[tuple[int, int]] | None:
        try:
            cliques = _cliques(instance, nodes, tau)
        except NotApplicable:
            if len(nodes) > SEARCH_LIMIT:
                raise
            return _search(instance, nodes, tau)
        for clique in cliques:
            got = _best_in_clique(instance, clique, tau)
            if got is not None:
                return got
        return None

    lo, hi = 0, len(values) - 1
    while lo <= hi:  # the largest feasible threshold
        if clock.expired():
            raise TimeoutError
        mid = (lo + hi) // 2
        got = feasible(values[mid])
        if got is not None:
            best = (values[mid], got)
            lo = mid + 1
        else:
            hi = mid - 1
    return best


def _solve_chain(search: Callable[[LLMInstance, Clock], tuple[float | None, list[tuple[int, int]]] | None],
                 where: str, none_found: str) -> Callable[[LLMInstance, SolverOptions], SolveResult]:
    """A backend running ``search`` (-> (threshold or None, chain) or None) and reporting its chain."""

    def solve(instance: LLMInstance, options: SolverOptions) -> SolveResult:
        clock = options.clock()
        try:
            found = search(instance, clock)
        except TimeoutError:
            return _out_of_time(clock, where)
        except NotApplicable as err:
            return SolveResult(status=Status.ERROR, message=str(err), solve_time=clock.elapsed())
        if found is None:
            return SolveResult(status=Status.NO_SOLUTION, message=none_found, solve_time=clock.elapsed())
        threshold, chain = found
        ranges, _, flow = _chain(instance, chain)
        extra = {} if threshold is None else {"threshold": threshold}
        return _result(instance, ranges, flow, clock, **extra)

    return solve


solve_single_pipeline = _solve_chain(single_pipeline, "in the threshold search", "no single pipeline reaches the sink")


# ----------------------------------------------------------------------------- Petals


def petals_blocks(instance: LLMInstance, n: int, cache_tokens: int = CACHE_TOKENS) -> int:
    """Blocks server n serves: as many as fit beside ``cache_tokens`` of KV cache, at most K_n."""
    node, m = instance.nodes[n], instance.model
    per_block = m.layer_param_bytes + cache_tokens * m.kv_cache_bytes
    fit = int(math.floor(instance.memory_usable * node.memory / per_block))
    return max(0, min(node.max_layers, fit)) if node.max_layers else 0


def _best_start(load: np.ndarray, k: int, starts: list[int] | None = None) -> int:
    """Petals' choice: the start whose window of current throughputs, sorted, is smallest
    (among ``starts``, default every start)."""
    starts = range(len(load) - k + 1) if starts is None else starts
    options = [(tuple(sorted(load[s: s + k].tolist())), s) for s in starts]
    return min(options)[1]


def _aligned_spans(ranges: dict[int, tuple[int, int]], k: int, L: int, skip: int | None = None) -> list[tuple[int, int]]:
    """Spans (start, count) that meet the others: starting at 0 or where another span ends,
    ``k`` blocks or fewer where the model ends first."""
    ends = {s + c for n, (s, c) in ranges.items() if n != skip and s + c < L}
    return [(s, min(k, L - s)) for s in sorted({0, *ends})]


def _carries_others(ranges: dict[int, tuple[int, int]], n: int, L: int) -> bool:
    """Whether some span starts where n's ends and no other span ends there (moving n would
    strand it)."""
    end = ranges[n][0] + ranges[n][1]
    if end >= L:
        return False
    starts_here = any(s == end for m, (s, c) in ranges.items() if m != n)
    other_end = any(s + c == end for m, (s, c) in ranges.items() if m != n)
    return starts_here and not other_end


def _best_span(load: np.ndarray, spans: list[tuple[int, int]]) -> tuple[int, int]:
    """Petals' rule among ``spans``: the one whose current throughputs, sorted, are smallest."""
    return min((tuple(sorted(load[s: s + c].tolist())), s, c) for s, c in spans)[1:]


def petals(instance: LLMInstance, clock: Clock, rounds: int, aligned: bool = False) -> dict[int, tuple[int, int]]:
    L = instance.model.num_layers
    load = np.zeros(L)
    ranges: dict[int, tuple[int, int]] = {}
    for n in range(instance.num_nodes):
        k = petals_blocks(instance, n)
        if k < 1:
            continue
        s, k = _best_span(load, _aligned_spans(ranges, k, L)) if aligned else (_best_start(load, k), k)
        ranges[n] = (s, k)
        load[s: s + k] += instance.nodes[n].throughput[k - 1]
    for _ in range(rounds):
        moved = False
        for n in list(ranges):
            if clock.expired():
                return ranges
            s, k = ranges[n]
            if aligned and _carries_others(ranges, n, L):
                continue
            theta = instance.nodes[n].throughput[k - 1]
            before = load.min()
            load[s: s + k] -= theta
            if aligned:
                s2, k2 = _best_span(load, _aligned_spans(ranges, petals_blocks(instance, n), L, skip=n))
            else:
                s2, k2 = _best_start(load, k), k
            theta2 = instance.nodes[n].throughput[k2 - 1]
            load[s2: s2 + k2] += theta2
            if (s2, k2) != (s, k) and load.min() >= before:
                ranges[n] = (s2, k2)
                moved = True
            else:
                load[s2: s2 + k2] -= theta2
                load[s: s + k] += theta
        if not moved:
            break
    return ranges


def _solve_petals(rounds: int, aligned: bool = False) -> Callable[[LLMInstance, SolverOptions], SolveResult]:
    def solve(instance: LLMInstance, options: SolverOptions) -> SolveResult:
        clock = options.clock()
        ranges = petals(instance, clock, rounds, aligned)
        status, _, flow = placement_flow(instance, [ranges.get(n) for n in range(instance.num_nodes)], options,
                                             clock)
        if flow is None:
            return SolveResult(status=status if status == Status.TIME_LIMIT else Status.ERROR,
                               message=f"the placement's max-flow LP ended {status.value}", solve_time=clock.elapsed())
        return _result(instance, ranges, flow, clock, cache_tokens=CACHE_TOKENS, rebalance_rounds=rounds)

    return solve


# ----------------------------------------------------------------------------- PipeEdge


def pipeedge(instance: LLMInstance, clock: Clock) -> list[tuple[int, int]] | None:
    """The DP of the module docstring: the best chain following the device order."""
    L = instance.model.num_layers
    cap = instance.link_capacity
    order = sorted((n for n, node in enumerate(instance.nodes) if node.max_layers > 0),
                   key=lambda n: (-instance.nodes[n].memory, n))
    D = len(order)
    val = np.full((D, L + 1), -np.inf)
    stages = np.full((D, L + 1), 10**9, dtype=np.int64)
    back = np.full((D, L + 1, 2), -1, dtype=np.int64)  # (previous device position, its layers done)

    def offer(p: int, ls: np.ndarray, k: int, v: np.ndarray, st: np.ndarray, prev: int) -> None:
        tgt = ls + k
        cur = val[p, tgt]
        tie = np.isfinite(cur) & (np.abs(v - np.where(np.isfinite(cur), cur, 0.0)) <= 1e-12 * np.abs(v))
        better = (v > cur * (1 + 1e-12)) | (tie & (st < stages[p, tgt]))
        better &= v > 0
        val[p, tgt[better]] = v[better]
        stages[p, tgt[better]] = st[better]
        back[p, tgt[better], 0] = prev
        back[p, tgt[better], 1] = ls[better]

    for p, n in enumerate(order):
        if clock.expired():
            raise TimeoutError
        theta = instance.nodes[n].throughput
        a = instance.link_between(instance.source, n)
        for k in range(1, len(theta) + 1):
            if a is not None:
                offer(p, np.array([0]), k, np.array([min(cap[a], theta[k - 1])]), np.array([1]), -1)
            for q in range(p):
                link = instance.link_between(order[q], n)
                if link is None:
                    continue
                ls = np.arange(1, L - k + 1)
                v = np.minimum(np.minimum(val[q, ls], cap[link]), theta[k - 1])
                offer(p, ls, k, v, stages[q, ls] + 1, q)
    best, best_p = 0.0, -1
    for p, n in enumerate(order):
        a = instance.link_between(n, instance.sink)
        if a is None or not np.isfinite(val[p, L]):
            continue
        v = min(val[p, L], cap[a])
        if v > best * (1 + 1e-12) or (best_p >= 0 and abs(v - best) <= 1e-12 * v and stages[p, L] < stages[best_p, L]):
            best, best_p = v, p
    if best_p < 0:
        return None
    chain, p, l = [], best_p, L
    while p >= 0:
        q, l0 = int(back[p, l, 0]), int(back[p, l, 1])
        chain.append((order[p], l - (l0 if q >= 0 else 0)))
        p, l = q, l0
    return chain[::-1]


def _pipeedge_chain(instance: LLMInstance, clock: Clock) -> tuple[None, list[tuple[int, int]]] | None:
    chain = pipeedge(instance, clock)
    return None if chain is None else (None, chain)


solve_pipeedge = _solve_chain(_pipeedge_chain, "in the dynamic program",
                              "no chain in the device order reaches the sink")


# ----------------------------------------------------------------------------- registry

_COMMON = dict(problem="llm", objective="throughput", kind="heuristic", reference=REFERENCE)
register(SolverSpec("single-pipeline", "bottleneck", solve_single_pipeline,
                    description="best single pipeline by threshold search (polynomial; exact on clique networks)",
                    **_COMMON))
register(SolverSpec("petals", "greedy", _solve_petals(0), accepts=highs.LP_OPTIONS & {"threads"},
                    description="Petals-style span selection, servers joining in order", **_COMMON))
register(SolverSpec("petals", "rebalance", _solve_petals(REBALANCE_ROUNDS), accepts=highs.LP_OPTIONS & {"threads"},
                    description="Petals-style span selection, then rebalancing moves", **_COMMON))
register(SolverSpec("petals", "aligned", _solve_petals(REBALANCE_ROUNDS, aligned=True),
                    accepts=highs.LP_OPTIONS & {"threads"},
                    description="Petals-style span selection among starts where spans meet, with rebalancing",
                    **_COMMON))
register(SolverSpec("pipeedge", "dp", solve_pipeedge,
                    description="PipeEdge-style DP: one device order, each device once, direct links only", **_COMMON))
