r"""F3 unsplittable variants solved exactly by branch-and-price (backend "colgen-bp").

Same problems as the arc-form MILPs (``arc.py``; every ``-milp`` variant but the memory one:
latency, min-max, energy with deadlines, fixed exits, exit selection), written over paths as
in ``colgen.py``: theta_p in {0, 1} is whether job j runs on path p, with the master rows P.1
(one path per job), C1/C2 (capacities), P.2 (deadlines), P.3 (min-max), P.4 (accuracy). The
integer program is

    min  sum_p c_p theta_p  (+ t)   s.t.  P.1-P.4, C1, C2,   theta in {0, 1}

and its LP relaxation over all paths is solved by column generation at every node of a
branch-and-bound tree (the restricted master in one HiGHS object, ``master.py``; pricing by the
engine's layered passes, ``pricing.py``).

Pricing and deadlines. A job with a deadline (energy with deadlines, exit selection) may only use
paths with lat_p <= T_j, so its pricing problem is a resource-constrained shortest path, solved
exactly by labels with dominance (latency the resource; ``shortest.constrained_columns``): every
column meets its deadline by itself and P.2 is redundant (kept, its dual still prices latency).
This is the Dantzig-Wolfe master of the deadline-constrained paths: its LP bound is at least the
arc-form LP bound. Other jobs are priced by the plain layered pass.

Branching (on the fractional master solution; every rule prunes arcs or configurations of one
job, which pricing expresses as infinite arc costs in the engine's pass and the master as column
upper bounds 0, so pricing stays a (constrained) layered shortest path):

    1. configuration: job j splits over exit configurations: y_{j,c} = sum_{p in c} theta_p
       fractional -> "force c" (every other configuration of j forbidden) | "forbid c";
    2. placement: x_{j,l,n} = sum_{p places layer l on n} theta_p fractional -> "force (l, n)"
       (the other computation arcs of layer l forbidden) | "forbid (l, n)";
    3. routing (placements integral, paths not): the two largest paths of j diverge at a vertex
       (d, l) onto links a1 != a2; the out-links of d in copy l are split into two sets A1 ∋ a1,
       A2 ∋ a2 (balancing the flow), and the children forbid A1 | A2 (Barnhart, Hane and Vance's
       divergence rule: a simple path leaves (d, l) once, so every path is in one child).

The candidate is the job and decision with the most fractional flow (times lambda_j), rule 1
before 2 before 3. Every child's columns satisfy its restrictions (forbidden arcs never appear
in a child's columns: pricing prunes them and the master bans the pool's columns that use them).

Bounds. At every node and CG iteration the Lagrangian bound of ``colgen.py``,

    LB = kappa sum_r pi_r + sum_{deadline j} mu_j + sum_{accuracy j} nu_j + sum_j d_j,

d_j the cheapest allowed path of j under the duals (constrained where j has a deadline), is a
lower bound of the node's integer problem for any duals with the right signs (clipped as in
``colgen.py``); the node keeps the largest. Elastic slacks (capacity, deadline and accuracy rows,
and one per job in P.1 so that a node whose pool holds no allowed column stays feasible) cost
M = 100 x (cost of the initial columns); LB does not depend on M. A node is pruned as soon as its
bound reaches the cutoff  z_inc - tol |z_inc|  (also in the middle of its column generation: the
early stop), and its column generation stops when no column prices out or when
(z_node - LB) <= NODE_GAP_SHARE tol |z_node|. A node whose converged master still uses slack runs
phase 1 (minimise the slacks, same pricing without objective): a positive phase-1 Lagrangian
bound proves it infeasible; otherwise M is multiplied by 100 and column generation goes on.

Search. Best-bound node selection with diving: after a node is branched, its child that keeps
the larger share of the fractional flow is solved next, as long as there is no incumbent or the
node's bound is in the better half of [global bound, incumbent]; otherwise the open node of
smallest bound. Children start from the parent's columns (one column pool, one HiGHS object whose
basis carries over; only the bounds of banned columns change). Incumbents: integral node LPs
(checked against the capacities), and a sequential greedy over the root LP columns
(``colgen.ColumnGeneration.greedy_orders``) before the first branching.
After the root LP, a pool MIP (the restricted master over every generated column, plus each
pool path given to the other jobs of the same configuration, source and sink: ``clones``) in its
own HiGHS object, within POOL_MIP_SHARE of the time left, gives an early incumbent. When
neither closes the root (nor enumeration, below) and the incumbent is not within the gap of
the root bound, the root dive (``colgen.ColumnGeneration.dive``: fractional jobs fixed to their
largest LP column in rounds, column generation re-run for the others; completed by the greedy
when the clock stops it) runs within ROOT_DIVE_SHARE of the time left: on thousands of jobs the
tree's own dive fixes one decision per node and reaches no integral node in hundreds of nodes.

Closing a node by enumeration (``enumeration_mip``). With the node's last duals, every
solution of the subtree costs at least LB + sum_j (value_j(p_j) - d_j), so a solution below the
cutoff uses, for every job, a path with value_j(p) < d_j + (cutoff - LB). When that room is
small (at most ENUM_MAX_ROOM of the incumbent) all such paths are enumerated exactly (a
depth-first search on the layered graph pruned by reverse-pass bounds,
``shortest.enumerate_columns``; given up above ENUM_MAX_PATHS paths) and the MIP over exactly
those paths is solved to NODE_GAP_SHARE x tol: its optimum z* is the subtree's best solution
below the cutoff, so the node's bound becomes min(z* (1 - NODE_GAP_SHARE tol), cutoff) and the
node is closed (infeasible MIP: the bound becomes the cutoff). This is what closes the root of
the 500- and 1,000-job instances of the jobs sweep.

Optimality certificate and tolerances. The global bound is the smallest bound of the open nodes
and of the nodes closed by bound or as integral leaves (infeasible nodes count +inf). Status
optimal only when the incumbent (recomputed by the evaluator) and the global bound satisfy
(z_inc - LB) / |z_inc| <= tol, tol = ``mip_gap``, or EXACT_REL_GAP = 1e-9 when none is given (a
mip_gap below 1e-9 is raised to it: floating-point duals do not certify less); at the time limit
status time_limit with the incumbent (if any) and the bound. Floating point: a column prices
out when its reduced cost is below -BP_PRICE_TOL x max(1, |z|) (BP_PRICE_TOL = 1e-12, the
objective scaled to about 1 by S, see ``model.F3Data.scale``); the bound is computed from the
exact path values, so the tolerance only decides which columns enter, never what is certified.
The deadline check of constrained pricing allows lat_p <= T_j (1 + 1e-9) (the evaluator
accepts 1e-5). An LP solution counts as integral when every job has a column with theta >=
1 - 1e-6 and those columns' loads fit the capacities within a relative 1e-7.

``time_limit`` is the wall clock of the whole call. Records carry ``nodes`` (explored) and in
``extra``: nodes, open_nodes, max_depth, columns, cg_iterations, root_lp, root_bound,
bb_trace ([seconds, nodes explored, open nodes, global bound, incumbent or None] after every
node and at every new incumbent: a primal-dual integral can be computed from it),
incumbent_history ([seconds, value, source]), master_time, pricing_time (compiled passes,
label searches, walks and column loads), column_time (new columns into the master),
branching_time (choosing the candidate, banning and restoring columns), heuristic_time
(greedy, pool MIP, enumeration, root dive; the dive's master and pricing seconds are also in
master_time and pricing_time), phase1_nodes, infeasible_nodes, pruned_nodes, integral_nodes,
root_dives, labels (created by constrained pricing), tolerance, price_tolerance.
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from dnnsplit.graph.shortest import warm_up_jit
from dnnsplit.options import EXACT_REL_GAP, Clock, SolverOptions
from dnnsplit.registry import SolverSpec, register
from dnnsplit.results import GAP_FLOOR, SolveResult, Status, relative_gap
from formulations.f3.colgen import _ACCEPTS, SLACK_TOL, ColumnGeneration
from formulations.f3.master import Column, Master, make_column
from formulations.f3.model import VARIANTS, Variant, mark_infeasible
from formulations.f3.pricing import DEADLINE_TOL, Restriction
from instances.model import Instance

BP_PRICE_TOL = 1e-12
NODE_GAP_SHARE = 0.1  # a node's column generation stops at this share of the requested gap
PRUNE_SHARE = 0.5  # nodes are pruned at this share of the requested gap (rounding margin for the proof)
INT_TOL = 1e-6  # theta within this of 0 or 1 counts as integral
CAP_TOL = 1e-7  # relative capacity tolerance of an integral master solution
DIVE_SHARE = 0.5  # dive on while the node's bound is in this lower share of [global bound, incumbent]
BIG_M_GROWTH = 100.0
CONVEXITY_WEIGHT = 1e3  # phase 1: cost of a job's P.1 slack against 1 for the resource rows' slacks
REDUCED_COST_FIXING = False
GREEDY_SHARE = 0.2  # the root greedy may use this share of the time limit
POOL_MIP_SHARE = 0.1  # the pool MIP after the root may use this share of the time left
ROOT_DIVE_SHARE = 0.2  # the root dive may use this share of the time left
POOL_MIP_SECONDS = 5.0  # ... or this long without a time limit
POOL_CLONES = 20_000  # most cloned columns given to one pool MIP
ENUM_MAX_ROOM = 1e-3  # enumerate only when cutoff - LB is at most this share of the incumbent
ENUM_MAX_PATHS = 5_000  # enumeration gives up above this many paths (HiGHS's MIP presolve does not
ENUM_MAX_JOB = 1_000  # ... watch its time limit on large pools) or this many for one job
ENUM_RETRY = 0.5  # after a capped enumeration, try again once the room is this share of it
ENUM_MIP_SHARE = 0.3  # the enumeration MIP may use this share of the time left
ENUM_MIP_SECONDS = 120.0  # ... or this long without a time limit
MIP_FEAS_TOL = 1e-9  # HiGHS's mip_feasibility_tolerance in the pool and enumeration MIPs


# ----------------------------------------------------------------------------- tree


@dataclass(eq=False)
class Node:
    """One node: the restrictions of every job on its path from the root, and its bound (scaled)."""

    id: int
    depth: int
    restrict: dict[int, Restriction]
    bound: float
    label: str
    parent: int | None = None
    taken: bool = False  # popped (lazy deletion from the heap)


@dataclass(frozen=True)
class Branch:
    """A branching decision: the job, what each child forbids, and the child to dive into."""

    job: int
    rule: str  # "configuration", "placement", "routing"
    children: tuple[tuple[str, np.ndarray, frozenset[int]], tuple[str, np.ndarray, frozenset[int]]]
    dive: int  # 0 or 1
    fraction: float


def restricted(parent: Node, job: int, arcs: np.ndarray, templates: frozenset[int]) -> dict[int, Restriction]:
    """``parent``'s restrictions with ``arcs`` and ``templates`` forbidden to ``job`` as well."""
    out = dict(parent.restrict)
    old = out.get(job, Restriction())
    out[job] = Restriction(np.union1d(old.arcs, np.asarray(arcs, np.int64)).astype(np.int64),
                           old.templates | templates)
    return out


def violates(col: Column, r: Restriction) -> bool:
    """Whether ``col`` uses a configuration or an arc that ``r`` forbids."""
    if id(col.tpl) in r.templates:
        return True
    return bool(len(r.arcs)) and bool(np.isin(col.arcs, r.arcs).any())


def pick(score: np.ndarray, order: np.ndarray) -> int:
    """The index of the largest score, ties to the smallest ``order`` (the first in column order)."""
    top = np.flatnonzero(score == score.max())
    return int(top[np.argmin(order[top])])


def banned_columns(m: Master, j: int, r: Restriction) -> list[int]:
    """Positions in ``m``'s pool of job j's columns that ``r`` forbids (one ``isin`` over all
    of them)."""
    pos = m.job_cols[j]
    if not pos:
        return []
    cols = [m.columns[i] for i in pos]
    bad = np.fromiter((id(c.tpl) in r.templates for c in cols), bool, len(cols))
    if len(r.arcs):
        lens = np.fromiter((len(c.arcs) for c in cols), np.int64, len(cols))
        hit = np.isin(np.concatenate([c.arcs for c in cols]), r.arcs)
        starts = np.concatenate(([0], np.cumsum(lens)[:-1]))
        bad |= np.add.reduceat(hit, starts) > 0
    return [i for i, b in zip(pos, bad.tolist()) if b]


# ----------------------------------------------------------------------------- the algorithm


class BranchAndPrice(ColumnGeneration):
    """Column generation at every node of a best-bound tree with diving (module docstring)."""

    def __init__(self, instance: Instance, variant: Variant, options: SolverOptions):
        super().__init__(instance, variant, options)
        self.tol = max(options.mip_rel_gap, EXACT_REL_GAP)
        self.node_tol = NODE_GAP_SHARE * self.tol
        self.price_tol = BP_PRICE_TOL
        jobs = instance.jobs
        self.constrained = None
        if variant.deadlines:
            mask = np.array([job.deadline is not None for job in jobs])
            self.constrained = mask if mask.any() else None
        self.restrict: dict[int, Restriction] = {}
        self.banned_of: dict[int, set[int]] = {}  # job -> positions of its banned columns
        self.incumbent: list[Column] | None = None
        self.inc_value = np.inf  # scaled (objective / S)
        self.closed_bound = np.inf
        self.open: list[tuple[float, int, Node]] = []  # heap by bound
        self.stack: list[Node] = []  # the same nodes by creation (depth first before an incumbent)
        self.current: Node | None = None
        self.next_id = 0
        self.trace: list[list[Any]] = []
        self.incumbents: list[list[Any]] = []
        self.counts = {"nodes": 0, "pruned_nodes": 0, "infeasible_nodes": 0, "integral_nodes": 0,
                       "enumerated_nodes": 0, "phase1_nodes": 0, "max_depth": 0, "enumerations": 0,
                       "enumerations_capped": 0, "enumerated_paths": 0}
        self.enum_retry_room = np.inf  # enumerate again only below this room (after a capped try)
        self.branching_time = self.heuristic_time = 0.0
        self.root_lp: float | None = None
        self.root_bound: float | None = None
        self.infeasible_reason: tuple[str, float | None, str] | None = None
        self.error = ""
        self.groups: dict[tuple[int, int, int], list[int]] = {}  # (configuration, source, sink) -> jobs
        for j, opts in enumerate(self.d.options):
            for tpl in opts:
                self.groups.setdefault((id(tpl), jobs[j].source, jobs[j].sink), []).append(j)

    # -- bounds and records (scaled units inside, objective units in records)
    def cutoff(self) -> float:
        if not np.isfinite(self.inc_value):
            return np.inf
        return self.inc_value - PRUNE_SHARE * self.tol * max(abs(self.inc_value), GAP_FLOOR / self.d.scale)

    def open_bound(self) -> float:
        while self.open and self.open[0][2].taken:
            heapq.heappop(self.open)
        b = self.open[0][0] if self.open else np.inf
        if self.current is not None:
            b = min(b, self.current.bound)
        return b

    def global_bound(self) -> float:
        return min(self.closed_bound, self.open_bound(), self.inc_value)

    def n_open(self) -> int:
        return sum(1 for _, _, n in self.open if not n.taken) + (self.current is not None)

    def record(self) -> None:
        S = self.d.scale
        lb = self.global_bound()
        self.trace.append([round(self.elapsed(), 4), self.counts["nodes"], self.n_open(),
                           lb * S if np.isfinite(lb) else None,
                           self.inc_value * S if np.isfinite(self.inc_value) else None])

    def gap_closed(self) -> bool:
        if not np.isfinite(self.inc_value):
            return False
        gap = relative_gap(self.inc_value * self.d.scale, self.global_bound() * self.d.scale)
        return gap is not None and gap <= self.tol

    def share_after(self, fraction: float) -> float:
        """The share of the time limit used once ``fraction`` of the time left is spent (for
        ``out_of_time``; 1.0 without a limit): the budget of a heuristic phase."""
        if self.limit is None:
            return 1.0
        return min(1.0, (self.elapsed() + fraction * max(self.limit - self.elapsed(), 0.0)) / self.limit)

    def pricing_round(self, y: np.ndarray, objective: str | None, fixed: np.ndarray | None = None,
                      **extra: Any) -> tuple[np.ndarray, Any, float]:
        """``ColumnGeneration.pricing_round`` under the current node's restrictions and with
        constrained pricing for deadline jobs (also in the inherited dive's loop)."""
        extra.setdefault("restrict", self.restrict)
        extra.setdefault("constrained", self.constrained)
        return super().pricing_round(y, objective, fixed, **extra)

    # -- setup
    def initial_columns(self) -> list[Column] | str:
        cols = super().initial_columns()
        if isinstance(cols, str) or self.constrained is None:
            return cols
        deadline = self.pricer.deadline
        keep = [c for c in cols if not (self.constrained[c.job] and c.latency > deadline[c.job] * (1 + DEADLINE_TOL))]
        J = self.J
        mode = self.variant.objective if self.variant.objective != "minmax" else "latency"
        best, batch = self.pricer.price(np.zeros(self.d.num_resources), np.zeros(J), np.zeros(J), mode,
                                        sigma=np.full(J, np.inf), constrained=self.constrained)
        for j in np.flatnonzero(self.constrained & ~np.isfinite(best)).tolist():
            return f"{self.d.job_name(j)} deadline: no path meets it"
        seen = {c.key for c in keep}
        keep += [c for c in self.master.columns_of(batch) if self.constrained[c.job] and c.key not in seen]
        return keep

    # -- nodes
    def new_node(self, depth: int, restrict: dict[int, Restriction], bound: float, label: str,
                 parent: int | None) -> Node:
        node = Node(self.next_id, depth, restrict, bound, label, parent)
        self.next_id += 1
        return node

    def push(self, node: Node) -> None:
        heapq.heappush(self.open, (node.bound, node.id, node))
        self.stack.append(node)

    def pop_next(self) -> Node | None:
        """The open node of smallest bound; depth first (the newest) while there is no incumbent."""
        if not np.isfinite(self.inc_value):
            while self.stack:
                node = self.stack.pop()
                if not node.taken:
                    node.taken = True
                    return node
            return None
        while self.open:
            _, _, node = heapq.heappop(self.open)
            if not node.taken:
                node.taken = True
                return node
        return None

    def close(self, node: Node) -> None:
        self.closed_bound = min(self.closed_bound, node.bound)

    def apply(self, node: Node) -> None:
        """Make the master the node's: ban the pool's columns its restrictions forbid. Only the
        jobs whose restriction differs from the current master's (a different ``Restriction``
        object: children share their parent's for every job but the branched one) are
        re-checked; a job's columns priced under the same restriction obey it."""
        t0 = time.perf_counter()
        m = self.master
        old, new = self.restrict, node.restrict
        ban: list[int] = []
        free: list[int] = []
        for j in set(old) | set(new):
            r = new.get(j)
            if r is old.get(j):
                continue
            before = self.banned_of.pop(j, set())
            now = set(banned_columns(m, j, r)) if r is not None else set()
            if now:
                self.banned_of[j] = now
            ban.extend(now - before)
            free.extend(before - now)
        if ban:
            m.lp.set_bounds([m.col0[i] for i in ban], np.zeros(len(ban)), np.zeros(len(ban)))
        if free:
            m.lp.set_bounds([m.col0[i] for i in free], np.zeros(len(free)), np.ones(len(free)))
        self.restrict = new
        self.branching_time += time.perf_counter() - t0

    def node_cg(self, node: Node, phase: str = "node") -> str:
        """Column generation at ``node`` (restrictions applied): "pruned", "infeasible",
        "converged", "time" or "master: <word>"; phase "phase1" minimises the slacks and
        returns "infeasible" (proven) or "feasible"."""
        m = self.master
        objective = None if phase == "phase1" else self.variant.objective
        while True:
            failed = self.run_master()
            if failed:
                return failed
            y, x, z = m.lp.duals(), m.lp.primal(), m.lp.objective()
            t0 = time.perf_counter()
            best, batch, const = self.pricing_round(y, objective, restrict=self.restrict,
                                                    constrained=self.constrained)
            self.pricing_time += time.perf_counter() - t0
            self.iterations += 1
            self.last_round = (y, best, const)
            slack = float(x[m.slack_cols].sum())
            self.last = (z, x, slack, const + float(best.sum()))
            if not np.all(np.isfinite(best)):  # a job has no allowed path at all
                j = int(np.flatnonzero(~np.isfinite(best))[0])
                self.infeasible_reason = (f"{self.d.job_name(j)}: no path allowed by the branching"
                                          + (" meets its deadline" if self.constrained is not None and self.constrained[j]
                                             else ""), None, "branch-and-price")
                return "infeasible"
            lb = const + float(best.sum())
            if phase == "phase1":
                if lb > SLACK_TOL:
                    return "infeasible"
                if z <= SLACK_TOL:
                    return "feasible"
            else:
                node.bound = max(node.bound, lb)
                if node.bound >= self.cutoff():
                    return "pruned"
                if slack <= SLACK_TOL and relative_gap(z, node.bound) <= self.node_tol:
                    return "converged"
            t0 = time.perf_counter()
            cols = self.new_columns(batch)
            m.add_columns(cols, cost_scale=0.0 if phase == "phase1" else 1.0)
            self.column_time += time.perf_counter() - t0
            if not cols:
                if phase == "phase1":  # the phase-1 LP optimum is positive
                    return "infeasible" if z > SLACK_TOL else "feasible"
                return "converged"
            if self.clock.expired():
                return "time"

    def node_phase1(self, node: Node) -> str:
        """Minimise the slacks at ``node``: "infeasible" (proven), "feasible" or "time"; the
        costs are restored afterwards."""
        m = self.master
        self.counts["phase1_nodes"] += 1
        cols = m.theta_cols()
        m.lp.set_costs(cols, np.zeros(len(cols)))
        if m.t_col is not None:
            m.lp.set_costs([m.t_col], np.zeros(1))
        m.set_slack_cost(1.0)
        # a job left out (its P.1 slack) costs more than a violated resource row, so that a
        # proven infeasibility names the capacity, deadline or accuracy row at fault (any
        # positive weights prove the same: the phase-1 optimum is positive or it is not)
        m.lp.set_costs(m.slack_cols[-self.J:], np.full(self.J, CONVEXITY_WEIGHT))
        how = self.node_cg(node, "phase1")
        if how == "infeasible" and self.infeasible_reason is None:
            x = self.last[1]
            slack = x[m.slack_cols]
            rows = slack[:-self.J]  # the resource rows' slacks (the last J: one per job in P.1)
            # name a capacity, deadline or accuracy row when one is violated: a job's convexity
            # slack only says that its paths do not fit
            k = int(np.argmax(rows)) if len(rows) and rows.max() > SLACK_TOL else int(np.argmax(slack))
            self.infeasible_reason = (m.slack_names[k], float(slack[k]), "branch-and-price phase 1")
        cols = m.theta_cols()
        m.lp.set_costs(cols, np.array([c.cost for c in m.columns]))
        if m.t_col is not None:
            m.lp.set_costs([m.t_col], np.full(1, 1.0 / self.d.scale))
        m.set_slack_cost(self.big_m)
        return how

    def process(self, node: Node) -> tuple[str, Branch | None]:
        """Solve ``node``: ("pruned" | "infeasible" | "integral" | "time" | "error", None) or
        ("branch", the decision)."""
        self.apply(node)
        while True:
            how = self.node_cg(node)
            if how in ("pruned", "infeasible", "time"):
                return how, None
            if how.startswith("master"):
                self.error = how
                return "error", None
            if self.last[2] <= SLACK_TOL:
                break
            got = self.node_phase1(node)  # converged with slack: infeasible, or M was too small
            if got != "feasible":
                return got, None
            self.big_m *= BIG_M_GROWTH
            self.master.set_slack_cost(self.big_m)
        x = self.last[1]
        if node.id == 0:
            self.root_lp = self.last[0]
        theta = x[self.master.theta_cols()]
        chosen = self.integral_solution(theta)
        if chosen is not None:
            value = self.value_of(chosen)
            if value < self.inc_value:
                self.new_incumbent(chosen, value, f"node {node.id}")
            return "integral", None
        if node.id == 0 and not np.isfinite(self.inc_value):
            self.root_heuristic(theta)
        if node.id == 0:
            self.pool_mip(POOL_MIP_SHARE)
        if self.enumeration_mip(node):
            return "enumerated", None
        if node.id == 0 and self.root_dive(node) and self.enumeration_mip(node):
            return "enumerated", None
        t0 = time.perf_counter()
        branch = self.choose_branch(theta)
        if branch is None:  # near-integral shares whose rounding breaks a capacity: split finer
            branch = self.choose_branch(theta, 1e-12)
        self.branching_time += time.perf_counter() - t0
        if branch is None:  # pragma: no cover - a fractional master always has a candidate
            return "error", None
        return "branch", branch

    def fix_by_reduced_cost(self, node: Node) -> None:
        """Reduced-cost arc fixing for ``node``'s subtree: with the node's last duals, an arc e
        of job j whose cheapest path through e would raise the Lagrangian bound to the cutoff
        (LB - d_j + d_j(e) >= z_inc - tol |z_inc|) is in no solution of the subtree better than
        the incumbent, so it is forbidden to j like a branching decision (Irnich et al.'s path
        reduced costs on the layered graph: forward labels + arc + backward labels)."""
        if not np.isfinite(self.inc_value):
            return
        t0 = time.perf_counter()
        y, best, const = self.last_round
        room = self.cutoff() - (const + float(best.sum()))
        if room > 0 and np.all(np.isfinite(best)):
            w, beta, gamma, _ = self.multipliers(y)
            fixed = self.pricer.fixings(w, beta, gamma, self.variant.objective, best + room, node.restrict)
            if fixed:
                out = dict(node.restrict)
                for j, arcs in fixed.items():
                    old = out.get(j, Restriction())
                    out[j] = Restriction(np.union1d(old.arcs, arcs).astype(np.int64), old.templates)
                node.restrict = out
                self.counts["fixed_arcs"] = self.counts.get("fixed_arcs", 0) + int(sum(len(a) for a in fixed.values()))
        self.branching_time += time.perf_counter() - t0

    # -- incumbents
    def integral_solution(self, theta: np.ndarray) -> list[Column] | None:
        """One column per job when the master solution is integral and fits the capacities."""
        m = self.master
        pos = np.flatnonzero(theta >= 1 - INT_TOL)
        jobs = np.fromiter((m.columns[i].job for i in pos.tolist()), np.int64, len(pos))
        if len(np.unique(jobs)) != self.J:
            return None
        first = {}
        for i, j in zip(pos.tolist(), jobs.tolist()):
            first.setdefault(j, m.columns[i])
        chosen = [first[j] for j in range(self.J)]
        return chosen if self.fits_all(chosen) else None

    def fits_all(self, cols: list[Column]) -> bool:
        m, d = self.master, self.d
        rows = np.concatenate([c.rows for c in cols])
        vals = np.concatenate([c.vals for c in cols])
        load = np.bincount(rows, weights=vals, minlength=len(m.cap_res))
        if np.any(load > d.kappa * (1 + CAP_TOL)):
            return False
        for c in cols:
            job = d.instance.jobs[c.job]
            if d.variant.deadlines and job.deadline is not None and c.latency > job.deadline * (1 + DEADLINE_TOL):
                return False
            acc = c.tpl.accuracy
            if job.accuracy_target is not None and acc is not None and acc < job.accuracy_target - 1e-9:
                return False
        return True

    def value_of(self, cols: list[Column]) -> float:
        """Objective / S of one column per job."""
        if self.variant.objective == "minmax":
            return max(c.latency for c in cols) / self.d.scale
        return float(sum(c.cost for c in cols))

    def new_incumbent(self, cols: list[Column], value: float, source: str) -> None:
        self.incumbent = cols
        self.inc_value = value
        self.incumbents.append([round(self.elapsed(), 4), value * self.d.scale, source])
        self.record()

    def root_heuristic(self, theta: np.ndarray) -> None:
        """The sequential greedy of ``colgen`` over the root LP columns (an early incumbent)."""
        t0 = time.perf_counter()
        share = self.share_after(GREEDY_SHARE)
        got, name = self.greedy_orders(theta, share)
        if got is not None and self.fits_all(got):
            value = self.value_of(got)
            if value < self.inc_value:
                m = self.master
                m.add_columns([c for c in got if c.key not in m.seen])  # the greedy's own paths join the pool
                self.new_incumbent(got, value, name or "greedy")
        self.heuristic_time += time.perf_counter() - t0

    def root_dive(self, node: Node) -> bool:
        """The diving heuristic of ``colgen`` (fractional jobs fixed to their largest LP column
        in rounds, column generation re-run for the others after each round), at the root when
        the incumbent is not within the requested gap of the root bound, within ROOT_DIVE_SHARE
        of the time left: on many jobs, the tree's own dive fixes one decision per node and
        takes hundreds of nodes to reach an integral point. The master's bounds, slacks and the
        root duals are restored; columns priced in the dive stay in the pool (they obey the
        root's restrictions: none). True when it found a better incumbent."""
        if np.isfinite(self.inc_value) and relative_gap(self.inc_value, node.bound) <= self.tol:
            return False
        t0 = time.perf_counter()
        m = self.master
        share = self.share_after(ROOT_DIVE_SHARE)
        last = self.last
        got = self.dive(share)
        self.last = last
        self.counts["root_dives"] = self.counts.get("root_dives", 0) + 1
        better = False
        if got is not None and self.fits_all(got):
            value = self.value_of(got)
            if value < self.inc_value:
                self.new_incumbent(got, value, "root dive")
                better = True
        self.heuristic_time += time.perf_counter() - t0
        return better

    def exact_mip(self, pool: Master, gap: float) -> None:
        """Make ``pool`` a MIP over its columns solved to ``gap``: mip_abs_gap 0, and HiGHS's
        mip_feasibility_tolerance (which it also uses as the smallest objective improvement
        that counts: 1e-6 by default, about 1e-6 of the scaled objective) MIP_FEAS_TOL, unless
        ``raw`` sets them."""
        pool.lp.make_integer(pool.theta_cols())
        pool.lp.set_option("mip_rel_gap", gap)
        for name, value in (("mip_abs_gap", 0.0), ("mip_feasibility_tolerance", MIP_FEAS_TOL)):
            if name not in self.options.raw:
                pool.lp.set_option(name, value)

    def take_pool_point(self, pool: Master, source: str) -> float | None:
        """The point of a pool MIP (``pool_mip``, ``enumeration_mip``) when it is one column per
        job that fits: a new incumbent if better; its value (scaled), or None."""
        if not pool.lp.has_point():
            return None
        theta = pool.lp.primal()[pool.theta_cols()]
        chosen = [pool.columns[i] for i in np.flatnonzero(theta > 0.5).tolist()]
        if len(chosen) != self.J or not self.fits_all(chosen):
            return None
        value = self.value_of(chosen)
        if value < self.inc_value:
            self.new_incumbent(chosen, value, source)
        return value

    def pool_mip(self, share: float) -> None:
        """The restricted master MIP (price-and-branch's step) over every column of the pool and
        its clones (:meth:`clones`), in its own HiGHS object, within ``share`` of the time left
        (POOL_MIP_SECONDS without a limit): any integer point it finds is an incumbent."""
        t0 = time.perf_counter()
        m = self.master
        pool = Master(self.d, self.options)
        pool.add_columns(list(m.columns) + self.clones())
        pool.set_slack_bounds(0.0)
        self.exact_mip(pool, self.tol)
        if np.isfinite(self.inc_value):
            pool.lp.set_option("objective_bound", float(self.inc_value))
        left = self.clock.remaining()
        budget = POOL_MIP_SECONDS if left is None else max(0.0, share * left)
        if budget > 0.05:
            pool.lp.run(Clock(budget))
            self.take_pool_point(pool, "pool MIP")
        self.counts["pool_mips"] = self.counts.get("pool_mips", 0) + 1
        self.heuristic_time += time.perf_counter() - t0

    def enumeration_mip(self, node: Node) -> bool:
        """Close ``node`` by enumeration when the gap is small: with the node's last duals, the
        Lagrangian bound gives every feasible solution x of the subtree
        cost(x) >= LB + sum_j (value_j(p_j) - d_j), so in a solution below the cutoff every job
        uses a path with value_j(p) < d_j + (cutoff - LB). All those paths are enumerated
        (``Pricer.enumerate``; at most ENUM_MAX_PATHS) and the MIP over exactly them is solved
        (its own HiGHS object, to NODE_GAP_SHARE x tol): its optimum z* is the best solution of
        the subtree below the cutoff, and min(z* (1 - that gap), cutoff) bounds the subtree.
        Returns True when the node is closed; a capped enumeration or an unfinished MIP leave it
        to branching (and enumeration waits until the room shrinks by ENUM_RETRY)."""
        if not np.isfinite(self.inc_value):
            return False
        y, best, const = self.last_round
        lb = const + float(best.sum())
        cutoff = self.cutoff()
        room = cutoff - lb
        if not np.all(np.isfinite(best)) or room >= self.enum_retry_room or room > ENUM_MAX_ROOM * abs(self.inc_value):
            return False
        if room <= 0:
            node.bound = max(node.bound, lb)
            return True
        t0 = time.perf_counter()
        self.counts["enumerations"] += 1
        w, beta, gamma, _ = self.multipliers(y)
        batch = self.pricer.enumerate(w, beta, gamma, self.variant.objective, best + room, node.restrict,
                                      self.constrained, ENUM_MAX_JOB, ENUM_MAX_PATHS)
        if batch is None:
            self.counts["enumerations_capped"] += 1
            self.enum_retry_room = room * ENUM_RETRY
            self.heuristic_time += time.perf_counter() - t0
            return False
        self.counts["enumerated_paths"] += len(batch)
        cols = self.master.columns_of(batch)
        if len({c.job for c in cols}) < self.J:  # a job with no path below its limit: nothing improves
            node.bound = max(node.bound, cutoff)
            self.heuristic_time += time.perf_counter() - t0
            return True
        pool = Master(self.d, self.options)
        pool.add_columns(cols)
        pool.set_slack_bounds(0.0)
        gap = self.node_tol
        self.exact_mip(pool, gap)
        left = self.clock.remaining()
        status, _, _ = pool.lp.run(Clock(ENUM_MIP_SECONDS if left is None else max(1e-3, ENUM_MIP_SHARE * left)))
        closed = False
        value = self.take_pool_point(pool, f"enumeration at node {node.id}")
        if value is not None:
            if status == Status.OPTIMAL:
                node.bound = max(node.bound, min(value - gap * abs(value), cutoff))
                closed = True
        elif not pool.lp.has_point() and status == Status.INFEASIBLE:  # no solution of the subtree below the cutoff
            node.bound = max(node.bound, cutoff)
            closed = True
        if not closed:
            self.enum_retry_room = room * ENUM_RETRY
        self.heuristic_time += time.perf_counter() - t0
        return closed

    def clones(self) -> list[Column]:
        """Every pool path of a job given to the other jobs of the same configuration, source
        and sink (the same path is valid for them; cost and loads scale with their rates).
        Jobs of one model at one device differ only by rate, so the LP is indifferent between
        them and the integer problem is a subset choice (a knapsack on the binding links): the
        pool MIP needs every job's alternatives to fill capacities well. At most POOL_CLONES."""
        m, d = self.master, self.d
        src, snk = self.pricer.sources, self.pricer.sinks
        paths: dict[tuple[int, int, int], dict[bytes, Column]] = {}
        for c in m.columns:
            paths.setdefault((id(c.tpl), int(src[c.job]), int(snk[c.job])), {}).setdefault(c.arcs.tobytes(), c)
        out: list[Column] = []
        for key, ps in paths.items():
            if len(ps) < 2:
                continue
            for k in self.groups.get(key, ()):
                for c in ps.values():
                    if c.job == k or (k, key[0], np.sort(c.arcs).tobytes()) in m.seen:
                        continue
                    if self.constrained is not None and self.constrained[k] and \
                            c.latency > self.pricer.deadline[k] * (1 + DEADLINE_TOL):
                        continue
                    out.append(make_column(d, m, k, c.tpl, c._route, c.arcs))
                    if len(out) >= POOL_CLONES:
                        return out
        return out

    # -- branching
    def choose_branch(self, theta: np.ndarray, tol: float = INT_TOL) -> Branch | None:
        """The most fractional decision (times lambda_j), configuration before placement before
        routing (module docstring); shares within ``tol`` of 0 or 1 count as integral.

        Scored for every fractional job at once: y_{j,c} and x_{j,l,n} are sums of theta over
        (job, configuration) and (job, computation arc) keys (``np.unique``), the score is
        (rule, min(f, 1 - f) lambda_j), ties going to the first job and decision in column order;
        only the chosen decision is built into a :class:`Branch`."""
        m, d = self.master, self.d
        pos = np.flatnonzero(theta > tol)
        if not len(pos):
            return None
        cols = [m.columns[i] for i in pos.tolist()]
        v = theta[pos]
        job = np.fromiter((c.job for c in cols), np.int64, len(cols))
        jmax = np.zeros(self.J)
        np.maximum.at(jmax, job, v)
        frac = jmax[job] < 1 - tol  # columns of jobs with no column at 1
        if not frac.any():
            return None
        # (job, configuration) flows: y_{j,c}
        tpl_no: dict[int, int] = {}
        tpl = np.fromiter((tpl_no.setdefault(id(c.tpl), len(tpl_no)) for c in cols), np.int64, len(cols))
        T = len(tpl_no)
        keys, first, inv = np.unique(job * T + tpl, return_index=True, return_inverse=True)
        y = np.bincount(inv, weights=v)
        n_cfg = np.bincount(keys // T, minlength=self.J)  # configurations of each job in use
        lam = d.rates
        sel = np.flatnonzero(frac[first] & (n_cfg[keys // T] > 1) & (y > tol) & (y < 1 - tol))
        if len(sel):
            j = keys[sel] // T
            k = pick(np.minimum(y[sel], 1 - y[sel]) * lam[j], first[sel])
            return self.configuration_branch(int(j[k]), cols, v, int(keys[sel][k] % T), tpl, job)
        # (job, computation arc) flows of single-configuration jobs: x_{j,l,n}
        one = np.flatnonzero(frac & (n_cfg[job] == 1))
        if len(one):
            lens = np.fromiter((cols[i].tpl.graph.num_layers for i in one.tolist()), np.int64, len(one))
            arcs = np.concatenate([cols[i].arcs[-n:] for i, n in zip(one.tolist(), lens.tolist())])
            owner = np.repeat(one, lens)
            E = int(arcs.max()) + 1
            keys, first, inv = np.unique(job[owner] * E + arcs, return_index=True, return_inverse=True)
            x = np.bincount(inv, weights=v[owner])
            sel = np.flatnonzero((x > tol) & (x < 1 - tol))
            if len(sel):
                j = keys[sel] // E
                k = pick(np.minimum(x[sel], 1 - x[sel]) * lam[j], owner[first[sel]])
                return self.placement_branch(int(j[k]), cols, v, int(keys[sel][k] % E), job)
        # routing: placements integral, paths not; the first job in column order with a divergence
        best: tuple[float, Branch] | None = None
        A = d.instance.network.num_links
        shares: dict[int, list[tuple[float, Column]]] = {}  # job -> its columns, in column order
        for i in np.flatnonzero(frac & (n_cfg[job] == 1)).tolist():
            shares.setdefault(int(job[i]), []).append((float(v[i]), cols[i]))
        for j, got in shares.items():
            div = self.divergence(j, got, A)
            if div is not None and (best is None or div.fraction * float(lam[j]) > best[0]):
                best = (div.fraction * float(lam[j]), div)
        return None if best is None else best[1]

    def configuration_branch(self, j: int, cols: list[Column], v: np.ndarray, key: int, tpl: np.ndarray,
                             job: np.ndarray) -> Branch:
        """Force | forbid job j's configuration number ``key`` (numbering of ``choose_branch``)."""
        k = int(np.flatnonzero(tpl == key)[0])
        chosen = cols[k].tpl
        f = float(v[(tpl == key) & (job == j)].sum())
        everyone = frozenset(id(t) for t in self.d.options[j])
        none = np.zeros(0, np.int64)
        return Branch(j, "configuration",
                      ((f"job {j} config {chosen.config} forced", none, everyone - {id(chosen)}),
                       (f"job {j} config {chosen.config} forbidden", none, frozenset({id(chosen)}))),
                      0 if f >= 0.5 else 1, min(f, 1 - f))

    def placement_branch(self, j: int, cols: list[Column], v: np.ndarray, e: int, job: np.ndarray) -> Branch:
        """Force | forbid job j's computation arc e (layer l on compute node k)."""
        mine = np.flatnonzero(job == j).tolist()
        g = cols[mine[0]].tpl.graph
        L, A, C = g.num_layers, g.num_links, len(g.compute_nodes)
        nc = (L + 1) * A
        f = float(sum(v[i] for i in mine if e in cols[i].arcs[-L:]))
        l, k = divmod(e - nc, C)
        others = nc + l * C + np.array([q for q in range(C) if q != k], np.int64)
        node = int(g.compute_nodes[k])
        return Branch(j, "placement", ((f"job {j} layer {l + 1} on node {node} forced", others, frozenset()),
                                       (f"job {j} layer {l + 1} on node {node} forbidden",
                                        np.array([e], np.int64), frozenset())),
                      0 if f >= 0.5 else 1, min(f, 1 - f))

    def divergence(self, j: int, got: list[tuple[float, Column]], A: int) -> Branch | None:
        """The routing rule: where the two largest paths of j part, split the out-links."""
        net = self.d.instance.network
        order = sorted(got, key=lambda t: -t[0])
        p, q = order[0][1], order[1][1]
        nc = (p.tpl.graph.num_layers + 1) * A
        pc, qc = p.arcs[p.arcs < nc], q.arcs[q.arcs < nc]
        n = min(len(pc), len(qc))
        diff = np.flatnonzero(pc[:n] != qc[:n])
        if not len(diff):
            return None
        i = int(diff[0])
        a1, a2 = int(pc[i]), int(qc[i])
        l = a1 // A
        if a2 // A != l:
            return None
        d_node = int(net.link_source[a1 % A])
        out_links = np.flatnonzero(np.asarray(net.link_source) == d_node)
        flow = {int(a): 0.0 for a in out_links}
        for v, c in got:
            for e in c.arcs[(c.arcs >= l * A) & (c.arcs < (l + 1) * A)].tolist():
                if e - l * A in flow:
                    flow[e - l * A] += v
        side1, side2 = [a1 % A], [a2 % A]
        f1, f2 = flow[a1 % A], flow[a2 % A]
        for a in sorted(flow, key=lambda a: -flow[a]):
            if a in (a1 % A, a2 % A):
                continue
            if f1 <= f2:
                side1.append(a)
                f1 += flow[a]
            else:
                side2.append(a)
                f2 += flow[a]
        arcs1 = l * A + np.array(sorted(side1), np.int64)
        arcs2 = l * A + np.array(sorted(side2), np.int64)
        name = net.node_names[d_node]
        return Branch(j, "routing", ((f"job {j} copy {l}: {len(side1)} links out of {name!r} forbidden", arcs1, frozenset()),
                                     (f"job {j} copy {l}: {len(side2)} links out of {name!r} forbidden", arcs2, frozenset())),
                      0 if f1 <= f2 else 1, min(f1, f2))

    # -- driver
    def solve(self) -> SolveResult:
        m = self.master
        init = self.initial_columns()
        if isinstance(init, str):
            return self.result(Status.INFEASIBLE, message=f"infeasible: {init}")
        m.add_columns(init)
        v = self.variant
        z0 = sum(c.cost for c in init) if v.objective != "minmax" else max(c.latency for c in init) / self.d.scale
        self.big_m = 100.0 * max(z0, 1e-9)
        m.add_convexity_slacks()
        m.set_slack_cost(self.big_m)
        build = self.elapsed()
        root = self.new_node(0, {}, -np.inf, "root", None)
        self.push(root)
        stopped = None
        while True:
            if self.gap_closed():
                break
            node = self.current if self.current is not None else self.pop_next()
            if node is None:
                break
            node.taken = True
            self.current = node
            if self.clock.expired():
                stopped = "time"
                break
            if node.bound >= self.cutoff():
                self.counts["pruned_nodes"] += 1
                self.close(node)
                self.current = None
                continue
            how, branch = self.process(node)
            if how == "time":
                stopped = "time"
                break
            self.counts["nodes"] += 1
            self.counts["max_depth"] = max(self.counts["max_depth"], node.depth)
            if how == "error":
                stopped = "error"
                break
            if node.id == 0:
                self.root_bound = node.bound
            self.current = None
            if how == "pruned":
                self.counts["pruned_nodes"] += 1
                self.close(node)
            elif how == "infeasible":
                self.counts["infeasible_nodes"] += 1
            elif how == "integral":
                self.counts["integral_nodes"] += 1
                self.close(node)
            elif how == "enumerated":
                self.counts["enumerated_nodes"] += 1
                self.close(node)
            else:
                if REDUCED_COST_FIXING:
                    self.fix_by_reduced_cost(node)
                kids = [self.new_node(node.depth + 1, restricted(node, branch.job, arcs, tpls), node.bound, label,
                                      node.id) for label, arcs, tpls in branch.children]
                for kid in (kids[1 - branch.dive], kids[branch.dive]):  # the dive child last: depth first takes it
                    self.push(kid)
                lb = self.global_bound()
                if not np.isfinite(self.inc_value) or node.bound - lb <= DIVE_SHARE * (self.inc_value - lb):
                    self.current = kids[branch.dive]
                    self.current.taken = True
            self.record()
        return self.finish(stopped, build)

    def finish(self, stopped: str | None, build: float) -> SolveResult:
        S = self.d.scale
        lb = self.global_bound()
        bound = lb * S if np.isfinite(lb) else None
        notes = dict(self.counts, open_nodes=self.n_open(), bb_trace=self.trace, incumbent_history=self.incumbents,
                     root_lp=None if self.root_lp is None else self.root_lp * S,
                     root_bound=None if self.root_bound is None or not np.isfinite(self.root_bound)
                     else self.root_bound * S,
                     branching_time=self.branching_time, heuristic_time=self.heuristic_time,
                     labels=self.pricer.labels_used, constrained_pricings=self.pricer.constrained_calls,
                     tolerance=self.tol, price_tolerance=self.price_tol, node_tolerance=self.node_tol,
                     final_big_m=self.big_m)
        self.notes.update(notes)
        nodes = self.counts["nodes"]
        common = dict(nodes=nodes, lp_relaxation=None if self.root_lp is None else self.root_lp * S)
        if self.incumbent is not None:
            z = self.inc_value * S
            gap = relative_gap(z, bound)
            if stopped is None and gap is not None and gap <= self.tol:
                status, msg = Status.OPTIMAL, ""
            elif stopped == "time":
                status, msg = Status.TIME_LIMIT, f"branch-and-price: time limit with {self.n_open()} open nodes"
            else:
                status = Status.FEASIBLE
                msg = f"branch-and-price stopped ({self.error or stopped or 'gap'}) at gap {gap}"
            decision = {c.job: (c.tpl.with_exits(c.route, 1.0),) for c in self.incumbent}
            res = self.result(status, objective=z, bound=bound, decision=decision, message=msg, **common)
        elif stopped == "time":
            res = self.result(Status.TIME_LIMIT, bound=bound, message="branch-and-price: time limit, no incumbent yet",
                              **common)
        elif stopped == "error":
            res = self.result(Status.ERROR, bound=bound, message=f"branch-and-price: the master LP failed ({self.error})",
                              **common)
        else:  # every node infeasible
            what, ratio, how = self.infeasible_reason or ("(unknown)", None, "branch-and-price")
            proof = "every node of the branch-and-price tree is infeasible" if nodes > 1 else "the root is infeasible"
            res = mark_infeasible(self.result(Status.INFEASIBLE, **common), what, ratio, f"{how} ({proof})")
        res.build_time = build
        res.solve_time = self.elapsed() - build
        return res

    def result(self, status: Status, **fields: Any) -> SolveResult:
        res = super().result(status, **fields)
        res.solver = "HiGHS (branch-and-price)"
        return res


def _solve_bp(variant: Variant) -> Callable[[Instance, SolverOptions], SolveResult]:
    def solve(instance: Instance, options: SolverOptions) -> SolveResult:
        return BranchAndPrice(instance, variant, options).solve()

    return solve


# ----------------------------------------------------------------------------- registry

for _v in VARIANTS.values():
    if not _v.integral or _v.memory:
        continue  # C3 needs z variables over columns: arc form only
    register(SolverSpec(
        _v.name, "colgen-bp", _solve_bp(_v), "multi", _v.eval_objective, accepts=_ACCEPTS, kind="exact",
        capacitated=True, deadlines=_v.deadlines, relaxation=_v.relaxation,
        description=f"{_v.description}; path form, branch-and-price (exact; mip_gap = proven gap, default 1e-9)",
        tags=frozenset({"F3", "path", "milp", "branch-and-price"}), prepare=warm_up_jit,
    ))
