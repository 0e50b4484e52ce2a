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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from formulations.f3.model import F3Data, Template
from instances.evaluate import Route


@dataclass(frozen=True)
class Priced:
    """How job j's best path was found: rebuilt by :meth:`Pricer.path` only when it is used."""

    tpl: Template
    parents: np.ndarray
    arc_cost: np.ndarray
    source: int
    sink: int


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

    def price(self, w: np.ndarray, beta: np.ndarray, gamma: np.ndarray,
              objective: str | None) -> tuple[np.ndarray, list[Priced | None]]:
        """Best path per job: (value d_j, how to rebuild it).

        Arc cost of job j on template T: lambda_j (obj_T + R_T^T w) + beta_j lat_T; the value
        subtracts gamma_j alpha_T / A_j. ``objective`` None: no objective term (phase 1).
        """
        J = len(self.jobs)
        best = np.full(J, np.inf)
        how: list[Priced | None] = [None] * J
        for tpl, jobs in self.by_tpl.values():
            obj = tpl.objective(objective) / self.d.scale if objective else np.zeros(tpl.num_arcs)
            base = np.where(tpl.usable, obj + tpl.R.T @ w, np.inf)
            shared = [j for j in jobs if beta[j] == 0.0]
            alone = [j for j in jobs if beta[j] != 0.0]
            acc = tpl.accuracy if tpl.accuracy is not None else 0.0
            if shared:
                passes = tpl.shortest(base, sorted({self.jobs[j].source for j in shared}))
                for j in shared:
                    job = self.jobs[j]
                    if job.source not in passes:
                        continue
                    labels, parents = passes[job.source]
                    val = self.d.rates[j] * labels[job.sink] - self._acc_term(j, gamma, acc)
                    if val < best[j]:
                        best[j], how[j] = val, Priced(tpl, parents, base, job.source, job.sink)
            for j in alone:
                job = self.jobs[j]
                cost = self.d.rates[j] * base + beta[j] * self.lat0[id(tpl)]
                passes = tpl.shortest(cost, [job.source])
                if job.source not in passes:
                    continue
                labels, parents = passes[job.source]
                val = labels[job.sink] - self._acc_term(j, gamma, acc)
                if val < best[j]:
                    best[j], how[j] = val, Priced(tpl, parents, cost, job.source, job.sink)
        return best, how

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
