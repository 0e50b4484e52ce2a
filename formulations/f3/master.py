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

import numpy as np

from dnnsplit.options import SolverOptions
from dnnsplit.graph.layered import route_from_arc_path
from dnnsplit.solvers.highs import IncrementalLP
from formulations.f3.model import F3Data, Template, column_resources, side_row_names
from formulations.f3.pricing import Batch
from instances.evaluate import Route


class Column:
    """One path of one job: its arcs on the template (canonical order: links in path order, then
    computation arcs by layer), the route (built from the arcs when first asked), and its master
    coefficients: cost, latency, capacity rows with their loads."""

    __slots__ = ("job", "tpl", "arcs", "_route", "cost", "latency", "rows", "vals")

    def __init__(self, job: int, tpl: Template, arcs: np.ndarray, route: Route | None, cost: float, latency: float,
                 rows: np.ndarray, vals: np.ndarray) -> None:
        self.job = job
        self.tpl = tpl
        self.arcs = arcs
        self._route = route
        self.cost = cost
        self.latency = latency
        self.rows = rows  # master rows (capacity rows) with the loads
        self.vals = vals

    @property
    def route(self) -> Route:
        """Placement and paths (exits added by the template when decided)."""
        if self._route is None:
            self._route = route_from_arc_path(self.tpl.graph, self.arcs)
        return self._route

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
        self.slack_upper = np.inf  # every slack's upper bound (``set_slack_bounds``)
        k = len(slack_rows)
        self.slack_cols = np.asarray(
            self.lp.add_cols(np.zeros(k), np.zeros(k), np.full(k, np.inf), [np.array([r]) for r in slack_rows],
                      [np.array([s]) for s in sign]), dtype=np.int32)
        self.columns: list[Column] = []
        self.col0: list[int] = []  # master column index of each Column
        self.seen: set[tuple[int, int, bytes]] = set()  # (job, template, arcs) of every column
        self.job_cols: list[list[int]] = [[] for _ in range(J)]  # positions in ``columns`` per job
        jobs = d.instance.jobs
        self._dead_row = np.full(J, -1, np.int64)
        for j, r in self.dead_row.items():
            self._dead_row[j] = r
        self._deadline = np.array([job.deadline if job.deadline else 1.0 for job in jobs], float)
        self._acc_row = np.full(J, -1, np.int64)
        for j, r in self.acc_row.items():
            self._acc_row[j] = r
        self._target = np.array([job.accuracy_target if job.accuracy_target else 1.0 for job in jobs], float)
        self._loads: tuple | None = None

    def add_convexity_slacks(self) -> None:
        """One elastic column per job in its convexity row (P.1), with the slacks' cost and
        bounds: branching may ban every column a job has, and the master must stay feasible
        (branch-and-price only; price-and-branch never bans a column)."""
        J = self.J
        idx = self.lp.add_cols(np.zeros(J), np.zeros(J), np.full(J, np.inf),
                               [np.array([self.conv0 + j]) for j in range(J)], [np.ones(1)] * J)
        self.slack_cols = np.concatenate([self.slack_cols, np.asarray(idx, dtype=np.int32)])
        self.slack_names += [f"{self.d.job_name(j)} has no allowed path (branching)" for j in range(J)]

    def set_slack_cost(self, M: float) -> None:
        self.lp.set_costs(self.slack_cols, np.full(len(self.slack_cols), float(M)))

    def set_slack_bounds(self, upper: float) -> None:
        k = len(self.slack_cols)
        self.lp.set_bounds(self.slack_cols, np.zeros(k), np.full(k, upper))
        self.slack_upper = float(upper)

    def column_rows(self, col: Column) -> tuple[np.ndarray, np.ndarray]:
        """Master rows and coefficients of one column: capacity rows, convexity, deadline,
        min-max and accuracy rows, in that order (as ``add_columns`` writes them)."""
        rows, vals, _ = self._entries([col])
        return rows, vals

    def _entries(self, cols: list[Column]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every column's entries, flat, with the start of each column (vectorised)."""
        k = len(cols)
        jobs = np.fromiter((c.job for c in cols), np.int64, k)
        lat = np.fromiter((c.latency for c in cols), np.float64, k)
        n_cap = np.fromiter((len(c.rows) for c in cols), np.int64, k)
        cap_rows = np.concatenate([c.rows for c in cols]) if k else np.zeros(0, np.int64)
        cap_vals = np.concatenate([c.vals for c in cols]) if k else np.zeros(0)
        extra_rows, extra_vals, extra_on = [], [], []
        extra_rows.append(self.conv0 + jobs)
        extra_vals.append(np.ones(k))
        extra_on.append(np.ones(k, bool))
        dead = self._dead_row[jobs]
        extra_rows.append(dead)
        extra_vals.append(lat / self._deadline[jobs])
        extra_on.append(dead >= 0)
        if self.mm:
            extra_rows.append(self.mm0 + jobs)
            extra_vals.append(lat)
            extra_on.append(np.ones(k, bool))
        acc = self._acc_row[jobs]
        if len(self.acc_jobs):
            accuracy = np.fromiter((c.tpl.accuracy if c.tpl.accuracy is not None else 0.0 for c in cols), float, k)
            extra_vals.append(accuracy / self._target[jobs])
        else:
            extra_vals.append(np.zeros(k))
        extra_rows.append(acc)
        extra_on.append(acc >= 0)
        on = np.stack(extra_on, axis=1)  # (k, extras), in row order per column
        n_extra = on.sum(axis=1)
        counts = n_cap + n_extra
        ptr = np.zeros(k + 1, np.int64)
        np.cumsum(counts, out=ptr[1:])
        rows = np.empty(int(ptr[-1]), np.int64)
        vals = np.empty(int(ptr[-1]))
        owner = np.repeat(np.arange(k), n_cap)
        cap_start = np.concatenate(([0], np.cumsum(n_cap)[:-1])).astype(np.int64)
        pos = ptr[:-1][owner] + (np.arange(len(cap_rows)) - cap_start[owner])
        rows[pos] = cap_rows
        vals[pos] = cap_vals
        rank = np.cumsum(on, axis=1) - 1  # position among the column's extras
        base = ptr[:-1] + n_cap
        for e in range(on.shape[1]):
            sel = on[:, e]
            at = base[sel] + rank[sel, e]
            rows[at] = extra_rows[e][sel]
            vals[at] = extra_vals[e][sel]
        return rows, vals, ptr

    def add_columns(self, cols: list[Column], cost_scale: float = 1.0) -> None:
        if not cols:
            return
        rows, vals, ptr = self._entries(cols)
        split = ptr[1:-1]
        idx = self.lp.add_cols([c.cost * cost_scale for c in cols], np.zeros(len(cols)), np.ones(len(cols)),
                               np.split(rows, split), np.split(vals, split))
        first = len(self.columns)
        self.columns.extend(cols)
        self.col0.extend(idx)
        self.seen.update(c.key for c in cols)
        for i, c in enumerate(cols, start=first):
            self.job_cols[c.job].append(i)

    def columns_of(self, batch: Batch) -> list[Column]:
        """The batch's paths as columns (master rows, cost lambda_j obj / S), not yet added."""
        if not len(batch):
            return []
        lam = self.d.rates[batch.job]
        cost = lam * batch.obj / self.d.scale  # the master minimises objective / S
        rows = self.row_of_res[batch.res]
        if np.any(rows < 0):  # pragma: no cover - loads only on compute nodes and links
            raise RuntimeError("a path loads a resource without a capacity row")
        a, r = batch.arc_ptr, batch.res_ptr
        return [Column(int(j), tpl, batch.arcs[a[i]:a[i + 1]], None, float(cost[i]), float(batch.latency[i]),
                       rows[r[i]:r[i + 1]], batch.vals[r[i]:r[i + 1]])
                for i, (j, tpl) in enumerate(zip(batch.job.tolist(), batch.tpl))]

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
