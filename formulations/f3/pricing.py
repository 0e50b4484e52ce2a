r"""Pricing of the F3 path form: the cheapest path of every job under the master's duals.

The reduced cost of a path p of job j (notation of ``colgen.py``) is

    rc_p = c_p - sum_r pi_r lambda_j u_{r,p} - mu_j lat_p / T_j (or - mu_j lat_p) - nu_j alpha_p / A_j - sigma_j

a sum of non-negative arc costs  lambda_j (obj_e - sum_r pi_r u_{r,e}) + beta_j lat_e  (beta_j =
-mu_j / T_j, or -mu_j) plus a per-configuration constant. So pricing is one layered shortest path
per job and configuration, by the engine's pass (``dnnsplit.graph.shortest``) on the template's
arc costs (unusable arcs pruned as infinite costs); the template is shared by every job of that
model, so never an O(jobs x L x |A|) structure. When beta_j = 0 the arc costs of all jobs on one
template are lambda_j times the same vector, so one pass per (template, source) serves every job
of that source (its labels of copy L are the costs to every sink).

One compiled call per template and iteration (``shortest.price_columns``) runs those passes, the
passes of the jobs that need their own (beta_j != 0, or branching restrictions), and walks back
and extracts every column that prices out: its arcs, its loads per resource, its latency and
objective (equal to the Python reference ``master.make_column`` to the last bit: same walk, same
summation order). Python never touches a path arc by arc.

Restrictions (branch-and-price, ``branch_price.py``): a job may have forbidden arcs (its
template's arc numbering, the same for all its configurations) and forbidden templates; its
passes prune those arcs (infinite costs) and skip those templates.

Constrained jobs (branch-and-price of the unsplittable variants with deadlines): the path must
meet the job's deadline itself, so pricing is a resource-constrained shortest path (latency the
resource), solved exactly by labels with dominance (``shortest.constrained_columns``), not by
the Lagrangian price on latency alone (which stays in the arc costs through beta_j: the master's
deadline row P.2 is then redundant but harmless).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dnnsplit.graph.shortest import (ArcLayout, Columns, constrained_columns, enumerate_columns, fixed_arcs,
                                     price_columns)
from formulations.f3.model import F3Data, Template
from instances.evaluate import Route

DEADLINE_TOL = 1e-9  # a constrained path's latency may exceed its deadline by this fraction (float sums)


@dataclass(frozen=True)
class Priced:
    """How job j's best path was found: rebuilt by :meth:`Pricer.path` only when it is used."""

    tpl: Template
    parents: np.ndarray
    arc_cost: np.ndarray
    source: int
    sink: int


@dataclass(frozen=True)
class Restriction:
    """Branching restrictions of one job: arcs its paths may not use (the template arc
    numbering, shared by the job's configurations) and templates (``id``) it may not use."""

    arcs: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    templates: frozenset[int] = frozenset()


@dataclass
class Batch:
    """The columns one pricing round found, one per job at most, in job order (arrays as
    ``shortest.Columns``; ``vals`` already times lambda_j; ``obj`` the per-request objective)."""

    job: np.ndarray
    tpl: list[Template]
    arc_ptr: np.ndarray
    arcs: np.ndarray
    res_ptr: np.ndarray
    res: np.ndarray
    vals: np.ndarray
    latency: np.ndarray
    obj: np.ndarray

    def __len__(self) -> int:
        return len(self.job)

    @classmethod
    def empty(cls) -> "Batch":
        z = np.zeros(0, np.int64)
        return cls(z, [], np.zeros(1, np.int64), z, np.zeros(1, np.int64), z, np.zeros(0), np.zeros(0), np.zeros(0))


def _ragged(ptr: np.ndarray, data: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``idx`` of a ragged array (``data`` over pointer ``ptr``): (new pointer, new data)."""
    start, stop = ptr[idx], ptr[idx + 1]
    size = stop - start
    out_ptr = np.zeros(len(idx) + 1, np.int64)
    np.cumsum(size, out=out_ptr[1:])
    pos = np.repeat(start - out_ptr[:-1], size) + np.arange(out_ptr[-1])
    return out_ptr, data[pos]


def _take(parts: list[tuple[Template, Columns]], part_of: np.ndarray, col_of: np.ndarray) -> Batch:
    """Batch of job j's column ``col_of[j]`` of part ``part_of[j]`` for every job that has one."""
    jobs = np.flatnonzero(col_of >= 0)
    return _gather(parts, jobs, part_of[jobs], col_of[jobs])


def _gather(parts: list[tuple[Template, Columns]], jobs: np.ndarray, part: np.ndarray, col: np.ndarray) -> Batch:
    """Batch of the columns (``part[i]``, ``col[i]``) for ``jobs[i]``, in that order."""
    if not len(jobs):
        return Batch.empty()
    n_cols = np.array([len(c) for _, c in parts], np.int64)
    first = np.concatenate(([0], np.cumsum(n_cols)[:-1]))
    g = first[part] + col  # global column index

    def joined(ptr_name: str, name: str) -> tuple[np.ndarray, np.ndarray]:
        ptrs, datas, off = [], [], 0
        for _, c in parts:
            ptr = getattr(c, ptr_name)
            ptrs.append(ptr[:-1] + off)
            datas.append(getattr(c, name))
            off += int(ptr[-1])
        return np.concatenate([*ptrs, [off]]).astype(np.int64), np.concatenate(datas)

    arc_ptr, arcs = _ragged(*joined("arc_ptr", "arcs"), g)
    res_ptr_all, res_all = joined("res_ptr", "res")
    res_ptr, res = _ragged(res_ptr_all, res_all, g)
    vals_all = np.concatenate([c.vals for _, c in parts])
    _, vals = _ragged(res_ptr_all, vals_all, g)
    lat = np.concatenate([c.latency for _, c in parts])[g]
    obj = np.concatenate([c.objective for _, c in parts])[g]
    tpl_of = [parts[p][0] for p in part.tolist()]
    return Batch(np.asarray(jobs, np.int64), tpl_of, arc_ptr, arcs, res_ptr, res, vals, lat, obj)


class Pricer:
    """Layered shortest paths for every job under dual-adjusted arc costs."""

    def __init__(self, d: F3Data):
        self.d = d
        self.net = d.instance.network
        self.jobs = d.instance.jobs
        self.by_tpl: dict[int, tuple[Template, list[int]]] = {}
        for j, opts in enumerate(d.options):
            for tpl in opts:
                self.by_tpl.setdefault(id(tpl), (tpl, []))[1].append(j)
        self.lat0 = {id(t): np.where(t.usable, t.latency, 0.0) for t in d.templates.values()}
        self._layouts: dict[int, ArcLayout] = {}
        self.sources = np.array([job.source for job in self.jobs], np.int64)
        self.sinks = np.array([job.sink for job in self.jobs], np.int64)
        self.deadline = np.array([np.inf if job.deadline is None else job.deadline for job in self.jobs])
        self.labels_used = 0  # labels created by constrained pricing so far
        self.constrained_calls = 0

    def layout(self, tpl: Template) -> ArcLayout:
        """The engine's view of ``tpl``: arc numbering, latency (0 on unusable arcs), the variant's
        objective coefficients (0 for min-max: a path costs nothing there) and the loads R."""
        got = self._layouts.get(id(tpl))
        if got is None:
            g = tpl.graph
            obj = self.d.variant.objective
            objective = np.zeros(tpl.num_arcs) if obj == "minmax" else np.where(tpl.usable, tpl.objective(obj), 0.0)
            R = tpl.R
            got = self._layouts[id(tpl)] = ArcLayout(
                self.net, g.num_layers, np.asarray(g.compute_nodes, np.int64), np.asarray(tpl.compute_pos, np.int64),
                np.ascontiguousarray(self.lat0[id(tpl)]), np.ascontiguousarray(objective),
                np.asarray(R.indptr, np.int64), np.asarray(R.indices, np.int64), np.asarray(R.data, np.float64),
                self.d.num_resources)
        return got

    def price(self, w: np.ndarray, beta: np.ndarray, gamma: np.ndarray, objective: str | None, *,
              sigma: np.ndarray | None = None, thr: float = 0.0,
              restrict: dict[int, Restriction] | None = None,
              constrained: np.ndarray | None = None) -> tuple[np.ndarray, Batch]:
        """Best path value d_j per job and the columns of the jobs whose reduced cost
        d_j - sigma_j is below -thr (``sigma`` None: no column; +inf: every reachable job's).

        Arc cost of job j on template T: lambda_j (obj_T + R_T^T w) + beta_j lat_T; the value
        subtracts gamma_j alpha_T / A_j. ``objective`` None: no objective term (phase 1).
        ``restrict``: per-job branching restrictions; ``constrained``: jobs (bool per job) whose
        path must meet the deadline (resource-constrained pricing; d_j = inf when none does).
        """
        J = len(self.jobs)
        lam = self.d.rates
        sig = np.full(J, -np.inf) if sigma is None else np.asarray(sigma, float)
        restrict = restrict or {}
        best = np.full(J, np.inf)
        part_of = np.full(J, -1, np.int64)  # the part (template call) of each job's best value
        col_of = np.full(J, -1, np.int64)  # its column in that part (-1: none priced out)
        parts: list[tuple[Template, Columns]] = []
        for tpl, jobs in self.by_tpl.values():
            layout, base, acc = self._costs(tpl, objective, w)
            cons = [j for j in jobs if constrained is not None and constrained[j]
                    and not (j in restrict and id(tpl) in restrict[j].templates)]
            free = [j for j in jobs if constrained is None or not constrained[j]]
            js, mult, accs, args = self._slots(tpl, free, beta, gamma, restrict, acc)
            if len(js):
                value, cols = price_columns(layout, base, sink=self.sinks[js], mult=mult, acc=accs, sigma=sig[js],
                                            scale=lam[js], thr=thr, **args)
                self._merge(len(parts), js, value, cols, best, part_of, col_of)
                parts.append((tpl, cols))
            if cons:
                js = np.asarray(cons, np.int64)
                accs = np.array([self._acc_term(j, gamma, acc) for j in cons])
                forbid = [restrict[j].arcs if j in restrict else None for j in cons]
                value, used, cols = constrained_columns(
                    layout, base, source=self.sources[js], sink=self.sinks[js], alpha=lam[js], beta=beta[js],
                    forbid=forbid, limit=self.deadline[js] * (1 + DEADLINE_TOL), acc=accs, sigma=sig[js],
                    scale=lam[js], thr=thr)
                self.labels_used += int(used.sum())
                self.constrained_calls += len(cons)
                self._merge(len(parts), js, value, cols, best, part_of, col_of)
                parts.append((tpl, cols))
        return best, _take(parts, part_of, col_of)

    def _costs(self, tpl: Template, objective: str | None, w: np.ndarray) -> tuple[ArcLayout, np.ndarray, float]:
        """(layout, per-arc base cost obj/S + R^T w with unusable arcs at inf, accuracy alpha_T or 0)."""
        obj = tpl.objective(objective) / self.d.scale if objective else np.zeros(tpl.num_arcs)
        base = np.where(tpl.usable, obj + tpl.R.T @ w, np.inf)
        return self.layout(tpl), base, tpl.accuracy if tpl.accuracy is not None else 0.0

    def _slots(self, tpl: Template, jobs: list[int], beta: np.ndarray, gamma: np.ndarray,
               restrict: dict[int, Restriction], acc: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
        """The job slots of :meth:`_passes` as arrays: (jobs, value multiplier: lambda_j on a
        shared pass whose costs are not scaled by lambda_j, else 1; accuracy terms; the passes)."""
        slots, n_shared, args = self._passes(tpl, jobs, beta, gamma, restrict)
        js = np.asarray(slots, np.int64)
        mult = np.where(np.arange(len(js)) < n_shared, self.d.rates[js], 1.0)
        accs = np.array([self._acc_term(j, gamma, acc) for j in slots], float)
        return js, mult, accs, args

    def _passes(self, tpl: Template, jobs: list[int], beta: np.ndarray, gamma: np.ndarray,
                restrict: dict[int, Restriction]) -> tuple[list[int], int, dict[str, list]]:
        """The engine passes of ``jobs`` on ``tpl``: one per source for the jobs that share arc
        costs (beta_j = 0, no restriction), one per job for the others. Returns (job slots,
        number of shared slots, the passes' arguments)."""
        lam = self.d.rates
        shared, alone = [], []
        for j in jobs:
            r = restrict.get(j)
            if r is not None and id(tpl) in r.templates:
                continue
            (alone if beta[j] != 0.0 or r is not None else shared).append(j)
        slots: list[int] = []
        args: dict[str, list] = {"sources": [], "alpha": [], "beta": [], "forbid": [], "pass_jobs": [0]}
        by_source: dict[int, list[int]] = {}
        for j in shared:
            by_source.setdefault(int(self.sources[j]), []).append(j)
        for src in sorted(by_source):
            args["sources"].append(src)
            args["alpha"].append(1.0)
            args["beta"].append(0.0)
            args["forbid"].append(None)
            slots += by_source[src]
            args["pass_jobs"].append(len(slots))
        n_shared = len(slots)
        for j in alone:
            r = restrict.get(j)
            args["sources"].append(int(self.sources[j]))
            args["alpha"].append(lam[j])
            args["beta"].append(beta[j])
            args["forbid"].append(None if r is None else r.arcs)
            slots.append(j)
            args["pass_jobs"].append(len(slots))
        return slots, n_shared, args

    def fixings(self, w: np.ndarray, beta: np.ndarray, gamma: np.ndarray, objective: str | None,
                limit: np.ndarray, restrict: dict[int, Restriction] | None = None) -> dict[int, np.ndarray]:
        """Reduced-cost arc fixing under the duals (w, beta, gamma): per job, the arcs (of every
        configuration it may use) whose cheapest path through them has value >= ``limit[j]``
        (same arc costs as :meth:`price`; deadlines relaxed, so the fixing is valid for the
        constrained jobs too). Jobs with no arc to fix are left out."""
        restrict = restrict or {}
        out: dict[int, np.ndarray] = {}
        seen: dict[int, int] = {}  # configurations counted per job
        for tpl, jobs in self.by_tpl.values():
            layout, base, acc = self._costs(tpl, objective, w)
            js, mult, accs, args = self._slots(tpl, jobs, beta, gamma, restrict, acc)
            if not len(js):
                continue
            slots = js.tolist()
            q, e = fixed_arcs(layout, base, sink=self.sinks[js], mult=mult, acc=accs, limit=limit[js], **args)
            order = np.argsort(q, kind="stable")
            q, e = q[order], e[order]
            cuts = np.searchsorted(q, np.arange(len(js) + 1))
            for k, j in enumerate(slots):
                arcs = e[cuts[k]:cuts[k + 1]]
                # arcs unusable on this configuration are fixed for it too
                arcs = np.union1d(arcs, np.flatnonzero(~tpl.usable))
                out[j] = arcs if j not in out else np.intersect1d(out[j], arcs)
                seen[j] = seen.get(j, 0) + 1
        for j in list(out):
            usable = np.zeros(self.d.options[j][0].num_arcs, bool)
            for tpl in self.d.options[j]:
                usable |= tpl.usable
            out[j] = out[j][usable[out[j]]]  # arcs no configuration can use need no restriction
            old = restrict.get(j)
            allowed = len(self.d.options[j]) - (0 if old is None else len(old.templates))
            if seen[j] < allowed:  # a configuration skipped above: nothing is proven for it
                del out[j]
                continue
            if old is not None:
                out[j] = np.setdiff1d(out[j], old.arcs)
            if not len(out[j]):
                del out[j]
        return out

    def enumerate(self, w: np.ndarray, beta: np.ndarray, gamma: np.ndarray, objective: str | None,
                  limit: np.ndarray, restrict: dict[int, Restriction] | None = None,
                  constrained: np.ndarray | None = None, max_per_job: int = 10_000,
                  max_total: int = 100_000) -> Batch | None:
        """Every path of every job (on every configuration it may use) whose value under the
        duals is below ``limit[j]`` (and that meets the deadline of a constrained job), as one
        batch (several columns per job), or None when a cap was passed."""
        restrict = restrict or {}
        lam = self.d.rates
        parts: list[tuple[Template, Columns, np.ndarray]] = []
        total = 0
        for tpl, jobs in self.by_tpl.values():
            layout, base, acc = self._costs(tpl, objective, w)
            js, mult, accs, args = self._slots(tpl, jobs, beta, gamma, restrict, acc)
            if not len(js):
                continue
            lat_limit = np.full(len(js), np.inf)
            if constrained is not None:
                lat_limit = np.where(constrained[js], self.deadline[js] * (1 + DEADLINE_TOL), np.inf)
            counts, cols = enumerate_columns(layout, base, sink=self.sinks[js], mult=mult, acc=accs, limit=limit[js],
                                             latency_limit=lat_limit, scale=lam[js], max_per_job=max_per_job,
                                             max_total=max(1, max_total - total), **args)
            if np.any(counts < 0):
                return None
            total += len(cols)
            parts.append((tpl, cols, js))
        if not parts:
            return Batch.empty()
        jobs = np.concatenate([js[c.slot] for _, c, js in parts])
        order = np.argsort(jobs, kind="stable")
        plain = [(tpl, c) for tpl, c, _ in parts]
        part_id = np.concatenate([np.full(len(c), i, np.int64) for i, (_, c, _) in enumerate(parts)])
        col_id = np.concatenate([np.arange(len(c)) for _, c, _ in parts])
        return _gather(plain, jobs[order], part_id[order], col_id[order])

    @staticmethod
    def _merge(part: int, js: np.ndarray, value: np.ndarray, cols: Columns, best: np.ndarray, part_of: np.ndarray,
               col_of: np.ndarray) -> None:
        """Keep each job's best value over templates (the first on ties) and its column, if any
        (a job has one slot per template call)."""
        col = np.full(len(js), -1, np.int64)
        col[cols.slot] = np.arange(len(cols))
        better = value < best[js]
        jb = js[better]
        best[jb] = value[better]
        part_of[jb] = part
        col_of[jb] = col[better]

    def best_path(self, j: int, tpl: Template, arc_cost: np.ndarray) -> Priced | None:
        """Job j's cheapest path on ``tpl`` under ``arc_cost`` alone (None: the sink is out of reach)."""
        job = self.jobs[j]
        passes = tpl.shortest(arc_cost, [job.source])
        if job.source not in passes or not np.isfinite(passes[job.source][0][job.sink]):
            return None
        return Priced(tpl, passes[job.source][1], arc_cost, job.source, job.sink)

    def _acc_term(self, j: int, gamma: np.ndarray, acc: float) -> float:
        if gamma[j] == 0.0:
            return 0.0
        return gamma[j] * acc / self.jobs[j].accuracy_target

    def path(self, how: Priced) -> tuple[Template, Route, np.ndarray]:
        """(template, route without exits, arc indices) of a priced path."""
        route = how.tpl.path(how.arc_cost, how.parents, how.source, how.sink)
        return how.tpl, route, how.tpl.arcs_of(route)
