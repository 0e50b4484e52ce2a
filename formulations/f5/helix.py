r"""F5-helix: the literature's MILP for LLM placement, reconstructed from Helix (Mei et al.,
ASPLOS'25), and ``F5-helix-lpfile``: Helix's own model of the published case, read from its LP
file, on the same solvers.

Helix describes its placement MILP as: an integer start layer per node, binaries "node i holds
k layers", a binary switch per edge that may carry flow only where one node's range ends where
the next one's starts (big-M constraints), and a max-flow of tokens/s from source to sink under
node and link capacities. Reconstruction, for compute nodes i (K_i >= 1), links a, L layers:

    variables  start_i integer >= 0;  hold_{i,k} binary, k = 1..K_i;
               switch_a binary;  flow_a >= 0                       (a: every link, source/sink too)
               end_i := start_i + sum_k k hold_{i,k}
    max   sum_{a from the source} flow_a
    (H1) hold_constraint_i:           sum_k hold_{i,k} = 1
    (H2) end_constraint_i:            end_i <= L
    (H3) node_flow_constraint_i:      sum_{a into i} flow_a - sum_{a out of i} flow_a = 0
    (H4) node_throughput_constraint_i: sum_{a into i} flow_a <= sum_k theta_i(k) hold_{i,k}
    (H5) edge_disable_constr_source_i: start_i + L switch_{s,i} <= L       (switch -> start_i = 0)
    (H6) edge_disable_constr_i_sink:   L switch_{i,t} - end_i <= 0          (switch -> end_i >= L)
    (H7) edge_disable_constr1_i_j:     end_i - start_j + L switch_{i,j} <= L (switch -> end_i <= start_j)
         edge_disable_constr2_i_j:     start_j - end_i + L switch_{i,j} <= L (switch -> start_j <= end_i)
    (H8) edge_flow_constr_a:           flow_a - c_a switch_a <= 0            (c_a = b_a / beta)

Choices the description leaves open, and what is taken (each checked against Helix's LP file
``llama70b_cluster24_ilp_model.lp``, whose rows, columns and coefficients this model reproduces
entry by entry on the published instance: 1,848 rows, 1,376 columns, 776 integers, 13,960
nonzeros; ``tests/test_llm.py``):

1. every compute node holds at least one layer ((H1) is an equality). Our problem lets a node
   hold none; the optima agree because a node may hold a range and carry no flow;
2. start_i is a general integer with no upper bound of its own (only (H2) bounds it); end_i is
   an expression, not a variable;
3. the big-M of the layer switches is L (H5-H7), and end_i = start_j is two one-sided rows;
4. the big-M of the flow switches is the link capacity c_a (Helix: 61,035.16 tokens/s between
   nodes, 5e8 for the source and sink links of the published case);
5. the node capacity (H4) bounds the inflow, aggregated over the hold binaries, and flow is
   conserved at every node (H3): no relaying, as in F5-flow;
6. the links are those of the instance (a complete graph in Helix's case), a switch per link;
7. no symmetry breaking, no tightening and no MIP start (Helix's trace starts its solver from
   its heuristic's placement; the suite's backends start cold, as for every formulation);
8. memory enters through K_i, the number of hold binaries (the throughput table's length).

Its LP relaxation is weak by construction: with start_i fractional and switches at 1/L, one
node can "hold" all L layers at theta_i(1); on the published case it is sum_i theta_i(1) =
224,309 tokens/s against an optimum of 2,045.6 (F5-flow). Given the same formulation, F5-helix
and F5-helix-lpfile have the same optimum; F5-flow's is the same again (the same problem),
which the tests check by brute force on small instances.

Backends: one per array backend (``highspy``, ``scip``) for each formulation: the LP relaxation
first (same backend), then the MILP in the time left. On HiGHS 1.14 the MILP keeps HiGHS's
defaults (with presolve off, HiGHS 1.14 returns wrong optima of this model;
``formulations/f5/flow.py``). ``F5-helix-lpfile`` applies to the published instance only
(``instances.llm.helix.is_helix_case``: built with Helix's LP capacities), reads the LP file
(its sha256 must be the one the instance was built from) with ``instances.llm.helix.read_lp``
and maps its solution (start_i, hold_i_k, flow_*) back to a placement for the evaluator.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import scipy.sparse as sp

from dnnsplit.options import SolverOptions
from dnnsplit.registry import SolverSpec, register
from dnnsplit.results import SolveResult
from dnnsplit.solvers import array_backends
from dnnsplit.solvers.model import ArrayBackend, SparseModel
from formulations.f5.flow import finish, relax_then_solve
from instances.llm import LLMInstance, Placement
from instances.llm.helix import HELIX_LP, LPModel, default_helix_dir, is_helix_case, read_lp

FORMULATION = "F5-helix"
LPFILE = "F5-helix-lpfile"


@dataclass
class NamedModel:
    """A SparseModel with column and row names (to compare with an LP file, and to read back)."""

    model: SparseModel
    cols: list[str]
    rows: list[str]

    def index(self) -> dict[str, int]:
        return {n: i for i, n in enumerate(self.cols)}


class _Rows:
    """Rows written as {column name: coefficient}, assembled into a named SparseModel."""

    def __init__(self) -> None:
        self.cols: dict[str, int] = {}
        self.lower: list[float] = []
        self.upper: list[float] = []
        self.integer: list[bool] = []
        self.cost: list[float] = []
        self.rows: list[tuple[str, dict[str, float], float, float]] = []

    def col(self, name: str, lower: float, upper: float, integer: bool, cost: float = 0.0) -> str:
        self.cols[name] = len(self.cols)
        self.lower.append(lower)
        self.upper.append(upper)
        self.integer.append(integer)
        self.cost.append(cost)
        return name

    def row(self, name: str, coefs: dict[str, float], lower: float, upper: float) -> None:
        self.rows.append((name, coefs, lower, upper))

    def build(self) -> NamedModel:
        r, c, v = [], [], []
        for i, (_, coefs, _, _) in enumerate(self.rows):
            for name, value in coefs.items():
                r.append(i)
                c.append(self.cols[name])
                v.append(value)
        A = sp.csc_array((v, (r, c)), shape=(len(self.rows), len(self.cols)))
        A.sum_duplicates()
        model = SparseModel(np.array(self.cost), A, np.array([x[2] for x in self.rows]),
                            np.array([x[3] for x in self.rows]), np.array(self.lower), np.array(self.upper),
                            np.array(self.integer, dtype=bool))
        return NamedModel(model, list(self.cols), [x[0] for x in self.rows])


def _end(i: int, K: int, sign: float = 1.0) -> dict[str, float]:
    """sign x end_i = sign x (start_i + sum_k k hold_{i,k})."""
    out = {f"start_{i}": sign}
    out.update({f"hold_{i}_{k}": sign * k for k in range(1, K + 1)})
    return out


def _endpoint(inst: LLMInstance, e: int) -> str:
    return "source" if e == inst.source else "sink" if e == inst.sink else str(e)


def build_helix(instance: LLMInstance) -> tuple[NamedModel, list[int]]:
    """The reconstruction as a named model; also the links it uses (in its column order)."""
    L = instance.model.num_layers
    K = {n: node.max_layers for n, node in enumerate(instance.nodes) if node.max_layers > 0}
    m = _Rows()
    links = []
    for a, (i, j) in enumerate(zip(instance.link_source.tolist(), instance.link_target.tolist())):
        ok = (i == instance.source or i in K) and (j == instance.sink or j in K)
        if ok and not (i == instance.source and j == instance.sink):
            links.append(a)
    tag = {a: f"{_endpoint(instance, int(instance.link_source[a]))}_{_endpoint(instance, int(instance.link_target[a]))}"
           for a in links}
    for a in links:  # the objective's and rows' flow columns
        m.col(f"flow_{tag[a]}", 0.0, math.inf, False, -1.0 if int(instance.link_source[a]) == instance.source else 0.0)
    for n, k_max in K.items():
        for k in range(1, k_max + 1):
            m.col(f"hold_{n}_{k}", 0.0, 1.0, True)
        m.col(f"start_{n}", 0.0, math.inf, True)
    for a in links:
        m.col(f"switch_{tag[a]}", 0.0, 1.0, True)
    into = {n: [a for a in links if int(instance.link_target[a]) == n] for n in K}
    outof = {n: [a for a in links if int(instance.link_source[a]) == n] for n in K}
    for n, k_max in K.items():
        m.row(f"hold_constraint_{n}", {f"hold_{n}_{k}": 1.0 for k in range(1, k_max + 1)}, 1.0, 1.0)  # (H1)
        m.row(f"end_constraint_{n}", _end(n, k_max), -math.inf, float(L))  # (H2)
    for n in K:  # (H3)
        coefs = {f"flow_{tag[a]}": 1.0 for a in into[n]}
        coefs.update({f"flow_{tag[a]}": -1.0 for a in outof[n]})
        m.row(f"node_flow_constraint_{n}", coefs, 0.0, 0.0)
    for n, k_max in K.items():  # (H4)
        theta = instance.nodes[n].throughput
        coefs = {f"hold_{n}_{k}": -float(theta[k - 1]) for k in range(1, k_max + 1)}
        coefs.update({f"flow_{tag[a]}": 1.0 for a in into[n]})
        m.row(f"node_throughput_constraint_{n}", coefs, -math.inf, 0.0)
    cap = instance.link_capacity
    for a in links:  # (H5)-(H7)
        i, j = int(instance.link_source[a]), int(instance.link_target[a])
        s = f"switch_{tag[a]}"
        if i == instance.source:
            m.row(f"edge_disable_constr_{tag[a]}", {f"start_{j}": 1.0, s: float(L)}, -math.inf, float(L))
        elif j == instance.sink:
            m.row(f"edge_disable_constr_{tag[a]}", {**_end(i, K[i], -1.0), s: float(L)}, -math.inf, 0.0)
        else:
            one = _end(i, K[i])
            one[f"start_{j}"] = one.get(f"start_{j}", 0.0) - 1.0
            two = {name: -v for name, v in one.items()}
            m.row(f"edge_disable_constr1_{tag[a]}", {**one, s: float(L)}, -math.inf, float(L))
            m.row(f"edge_disable_constr2_{tag[a]}", {**two, s: float(L)}, -math.inf, float(L))
    for a in links:  # (H8)
        m.row(f"edge_flow_constr_{tag[a]}", {f"flow_{tag[a]}": 1.0, f"switch_{tag[a]}": -float(cap[a])}, -math.inf, 0.0)
    return m.build(), links


def lp_file_model(lp: LPModel) -> NamedModel:
    """An LP file's model as a named SparseModel (minimisation: a maximum's costs negated)."""
    m = _Rows()
    for name in lp.columns:
        lo, hi = lp.bounds_of(name)
        m.col(name, lo, hi, name in lp.integers, lp.sense * lp.objective.get(name, 0.0))
    for row in lp.rows:
        m.row(row.name, row.coefs, row.lower, row.upper)
    return m.build()


def placement_of(instance: LLMInstance, names: dict[str, int], x: np.ndarray) -> Placement:
    """start_i, hold_i_k and flow_* of a solution (Helix's naming) as a placement."""
    ranges: dict[int, tuple[int, int]] = {}
    for n, node in enumerate(instance.nodes):
        if f"start_{n}" not in names:
            continue
        held = [k for k in range(1, node.max_layers + 1) if x[names[f"hold_{n}_{k}"]] > 0.5]
        if len(held) != 1:
            raise ValueError(f"node {n} holds {len(held)} layer counts in the solution")
        ranges[n] = (int(round(float(x[names[f"start_{n}"]]))), held[0])
    flow = np.zeros(instance.num_links)
    for a, (i, j) in enumerate(zip(instance.link_source.tolist(), instance.link_target.tolist())):
        name = f"flow_{_endpoint(instance, i)}_{_endpoint(instance, j)}"
        if name in names:
            flow[a] = max(float(x[names[name]]), 0.0)
    return Placement.of(instance, ranges, flow)


def _sizes(nm: NamedModel) -> dict[str, int]:
    m = nm.model
    return {"columns": m.num_cols, "rows": m.num_rows, "nonzeros": int(m.A.nnz), "integers": int(m.integer.sum())}


def _solve_helix(adapter: ArrayBackend) -> Callable[[LLMInstance, SolverOptions], SolveResult]:
    def solve(instance: LLMInstance, options: SolverOptions) -> SolveResult:
        clock = options.clock()
        nm, _ = build_helix(instance)
        run, result, _ = relax_then_solve(adapter, nm.model, options, clock, clock.elapsed(), _sizes(nm),
                                     "F5-helix")
        names = nm.index()
        return finish(instance, run, result, lambda x: placement_of(instance, names, x))

    return solve


def helix_lp_path(instance: LLMInstance) -> Path:
    """Helix's LP file for the published instance; its sha256 must be the one recorded."""
    path = default_helix_dir() / HELIX_LP
    if not path.is_file():
        raise FileNotFoundError(f"{path}: Helix's LP file is not there (set DNNSPLIT_HELIX_DIR)")
    want = (instance.generator or {}).get("files", {}).get(HELIX_LP)
    got = hashlib.sha256(path.read_bytes()).hexdigest()
    if want != got:
        raise ValueError(f"{path}: sha256 {got[:12]} differs from the file the instance was built from ({str(want)[:12]})")
    return path


def _solve_lpfile(adapter: ArrayBackend) -> Callable[[LLMInstance, SolverOptions], SolveResult]:
    def solve(instance: LLMInstance, options: SolverOptions) -> SolveResult:
        clock = options.clock()
        nm = lp_file_model(read_lp(helix_lp_path(instance)))
        run, result, _ = relax_then_solve(adapter, nm.model, options, clock, clock.elapsed(), _sizes(nm),
                                     "F5-helix")
        names = nm.index()
        return finish(instance, run, result, lambda x: placement_of(instance, names, x))

    return solve


# ----------------------------------------------------------------------------- registry

for _adapter in array_backends():
    _accepts = _adapter.accepts_mip - {"lp_algorithm"}
    register(SolverSpec(FORMULATION, _adapter.backend, _solve_helix(_adapter), problem="llm", objective="throughput",
                        accepts=_accepts, description=f"Helix's MILP reconstructed (start integers, hold binaries, "
                                                      f"big-M edge switches), {_adapter.solver}"))
    register(SolverSpec(LPFILE, _adapter.backend, _solve_lpfile(_adapter), problem="llm", objective="throughput",
                        accepts=_accepts, applies=is_helix_case,
                        description=f"Helix's own LP file of the published 24-node LLaMA-70B case, {_adapter.solver}"))
