r"""The restricted master problem of the F3 path form (column generation, ``colgen.py``).

theta_p >= 0 is the share of job j's requests on path p (a :class:`Column`). Rows, all scaled as
in the arc form (``arc.py``), in this order:

    (C1)  sum_p lambda_j u_{n,p} theta_p - s_n <= kappa            compute nodes n   (dual pi_n <= 0)
    (C2)  sum_p lambda_j u_{a,p} theta_p - s_a <= kappa            links a           (dual pi_a <= 0)
    (P.1) sum_{p in P_j} theta_p = 1                              all j    (convexity; dual sigma_j)
    (P.2) sum_{p in P_j} (lat_p / T_j) theta_p - s_j <= 1           deadline jobs     (dual mu_j <= 0)
    (P.3) sum_{p in P_j} lat_p theta_p - t <= 0                     min-max           (dual mu_j <= 0)
    (P.4) sum_{p in P_j} (alpha_p / A_j) theta_p + s_j >= 1          accuracy targets  (dual nu_j >= 0)

with elastic slacks s (cost M, or fixed at 0) on C1, C2, P.2 and P.4, and t (cost 1/S) for
min-max. The master lives in one HiGHS object (``dnnsplit.solvers.highs.IncrementalLP``):
columns are added and the LP is re-solved warm, never rebuilt.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dnnsplit.options import SolverOptions
from dnnsplit.results import Status
from dnnsplit.solvers.highs import IncrementalLP
from formulations.f3.model import F3Data, Template, column_resources, side_row_names
from instances.evaluate import Route


@dataclass
class Column:
    """One path of one job: its arcs on the template, the route, and its master coefficients."""

    job: int
    tpl: Template
    arcs: np.ndarray
    route: Route  # placement and paths (exits added by the template when decided)
    cost: float
    latency: float
    rows: np.ndarray  # master rows (capacity rows) with the loads
    vals: np.ndarray

    @property
    def key(self) -> tuple[int, int, bytes]:
        """(job, template, arcs): a column is in the master once."""
        return (self.job, id(self.tpl), np.sort(self.arcs).tobytes())


class Master:
    """The restricted master LP, one HiGHS object grown by columns (``highs.IncrementalLP``)."""

    def __init__(self, d: F3Data, options: SolverOptions):
        self.d = d
        v = d.variant
        J = len(d.instance.jobs)
        self.J = J
        self.cap_res = d.capacity_rows()  # resource index of each capacity row
        self.row_of_res = np.full(d.num_resources, -1, dtype=np.int64)
        self.row_of_res[self.cap_res] = np.arange(len(self.cap_res))
        n_cap = len(self.cap_res)
        self.conv0 = n_cap
        self.dead_jobs = d.deadline_jobs()
        self.acc_jobs = d.accuracy_jobs()
        self.dead0 = self.conv0 + J
        self.mm = v.objective == "minmax"
        self.mm0 = self.dead0 + len(self.dead_jobs)
        self.acc0 = self.mm0 + (J if self.mm else 0)
        self.nrows = self.acc0 + len(self.acc_jobs)
        self.dead_row = {j: self.dead0 + k for k, j in enumerate(self.dead_jobs)}
        self.acc_row = {j: self.acc0 + k for k, j in enumerate(self.acc_jobs)}
        lo = np.concatenate([np.full(n_cap, -np.inf), np.ones(J), np.full(len(self.dead_jobs), -np.inf),
                             np.full(J if self.mm else 0, -np.inf), np.ones(len(self.acc_jobs))])
        hi = np.concatenate([np.full(n_cap, d.kappa), np.ones(J), np.ones(len(self.dead_jobs)),
                             np.zeros(J if self.mm else 0), np.full(len(self.acc_jobs), np.inf)])
        self.lp = IncrementalLP(options)
        self.lp.add_rows(lo, hi)
        self.t_col = None
        if self.mm:
            self.t_col = self.lp.add_cols([1.0 / d.scale], [0.0], [np.inf], [np.arange(self.mm0, self.mm0 + J)],
                                   [-np.ones(J)])[0]
        # elastic slacks: capacity (<=), deadline (<=), accuracy (>=)
        slack_rows = np.concatenate([np.arange(n_cap), np.arange(self.dead0, self.dead0 + len(self.dead_jobs)),
                                     np.arange(self.acc0, self.nrows)]).astype(np.int64)
        sign = np.concatenate([-np.ones(n_cap + len(self.dead_jobs)), np.ones(len(self.acc_jobs))])
        self.slack_names = side_row_names(d)
        k = len(slack_rows)
        self.slack_cols = np.asarray(
            self.lp.add_cols(np.zeros(k), np.zeros(k), np.full(k, np.inf), [np.array([r]) for r in slack_rows],
                      [np.array([s]) for s in sign]), dtype=np.int32)
        self.columns: list[Column] = []
        self.col0: list[int] = []  # master column index of each Column
        self.seen: set[tuple[int, int, bytes]] = set()  # (job, template, arcs) of every column
        self._loads: tuple | None = None

    def set_slack_cost(self, M: float) -> None:
        self.lp.set_costs(self.slack_cols, np.full(len(self.slack_cols), float(M)))

    def set_slack_bounds(self, upper: float) -> None:
        k = len(self.slack_cols)
        self.lp.set_bounds(self.slack_cols, np.zeros(k), np.full(k, upper))

    def column_rows(self, col: Column) -> tuple[np.ndarray, np.ndarray]:
        j = col.job
        rows = [col.rows, np.array([self.conv0 + j])]
        vals = [col.vals, np.ones(1)]
        if j in self.dead_row:
            rows.append(np.array([self.dead_row[j]]))
            vals.append(np.array([col.latency / self.d.instance.jobs[j].deadline]))
        if self.mm:
            rows.append(np.array([self.mm0 + j]))
            vals.append(np.array([col.latency]))
        if j in self.acc_row:
            rows.append(np.array([self.acc_row[j]]))
            vals.append(np.array([col.tpl.accuracy / self.d.instance.jobs[j].accuracy_target]))
        return np.concatenate(rows), np.concatenate(vals)

    def add_columns(self, cols: list[Column], cost_scale: float = 1.0) -> None:
        if not cols:
            return
        rv = [self.column_rows(c) for c in cols]
        idx = self.lp.add_cols([c.cost * cost_scale for c in cols], np.zeros(len(cols)), np.ones(len(cols)),
                        [r for r, _ in rv], [v for _, v in rv])
        self.columns.extend(cols)
        self.col0.extend(idx)
        self.seen.update(c.key for c in cols)

    def load_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Capacity rows, loads and column positions of every column's entries (cached)."""
        if self._loads is None or self._loads[0] != len(self.columns):
            rows = np.concatenate([c.rows for c in self.columns]) if self.columns else np.empty(0, np.int64)
            vals = np.concatenate([c.vals for c in self.columns]) if self.columns else np.empty(0)
            owner = np.repeat(np.arange(len(self.columns)), [len(c.rows) for c in self.columns])
            self._loads = (len(self.columns), rows, vals, owner)
        return self._loads[1], self._loads[2], self._loads[3]

    def column_job(self) -> np.ndarray:
        return np.fromiter((c.job for c in self.columns), dtype=np.int64, count=len(self.columns))

    def theta_cols(self) -> np.ndarray:
        return np.asarray(self.col0, dtype=np.int32)

    def run(self) -> tuple[Status, str, float]:
        """Re-solve the master LP (warm): (status, HiGHS's word, seconds)."""
        return self.lp.run()


def make_column(d: F3Data, master: Master, j: int, tpl: Template, route: Route, arcs: np.ndarray | None = None) -> Column:
    """Job j's column for ``route`` on ``tpl``: its cost, latency and loads on the master's rows."""
    if arcs is None:
        arcs = tpl.arcs_of(route)
    lam = d.rates[j]
    res, vals = column_resources(tpl.R, arcs, lam)
    rows = master.row_of_res[res]
    if np.any(rows < 0):  # pragma: no cover - loads only on compute nodes and links
        raise RuntimeError("a path loads a resource without a capacity row")
    lat = float(tpl.latency[arcs].sum())
    obj = float(tpl.objective(d.variant.objective)[arcs].sum()) if d.variant.objective != "minmax" else 0.0
    cost = lam * obj / d.scale  # the master minimises objective / S (see model.F3Data.scale)
    return Column(j, tpl, arcs, route, cost, lat, rows, vals)
