r"""F3 path form, solved by column generation (DESIGN.md section 3, F3; backend "colgen").

Same problems as the arc form (``arc.py``; every variant except the memory one), written
over paths: P_j is the set of source-sink paths of job j's layered graphs (all its exit
configurations); a path p in P_j has per-request latency lat_p, cost c_p = lambda_j x
(latency or energy of p; 0 for min-max), loads lambda_j u_{r,p} on every resource r (sums of
the arc coefficients of ``model.py``) and the expected accuracy alpha_p of its configuration.
theta_p >= 0 is the share of job j's requests on path p.

Master problem (all rows scaled as in the arc form):

    min  sum_p c_p theta_p   (+ t for min-max)   (+ M sum_r s_r, elastic slacks, see below)
    (P.1) sum_{p in P_j} theta_p = 1                              all j    (convexity; dual sigma_j)
    (C1)  sum_p lambda_j u_{n,p} theta_p - s_n <= kappa            compute nodes n   (dual pi_n <= 0)
    (C2)  sum_p lambda_j u_{a,p} theta_p - s_a <= kappa            links a           (dual pi_a <= 0)
    (P.2) sum_{p in P_j} (lat_p / T_j) theta_p - s_j <= 1           deadline jobs     (dual mu_j <= 0)
    (P.3) sum_{p in P_j} lat_p theta_p - t <= 0                     min-max           (dual mu_j <= 0)
    (P.4) sum_{p in P_j} (alpha_p / A_j) theta_p + s_j >= 1          accuracy targets  (dual nu_j >= 0)

The restricted master (``master.py``) holds a subset of the paths; HiGHS solves it through the
adapter's incremental LP (columns added, re-solved warm, never rebuilt).

Pricing (``pricing.py``): the reduced cost of a path p of job j is

    rc_p = c_p - sum_r pi_r lambda_j u_{r,p} - mu_j lat_p / T_j (or - mu_j lat_p) - nu_j alpha_p / A_j - sigma_j

which is a sum of non-negative arc costs  lambda_j (obj_e - sum_r pi_r u_{r,e}) + beta_j lat_e
(beta_j = -mu_j / T_j, or -mu_j) plus a per-configuration constant. So pricing is one layered
shortest path per job and configuration (the engine's pass on the template's arc costs; the
template is shared by every job of that model; never an O(jobs x L x |A|) structure). When
beta_j = 0 one pass per (template, source) serves every job of that source. With deadlines the
pricing is the Lagrangian-penalised shortest path (the deadline row P.2 lives in the master, its dual prices
latency), which is exact for the splittable problem: the evaluator checks expected latency.

Lower bound (proven at every iteration, for any multipliers with the right signs; duals are
clipped to those signs, and the min-max duals are scaled so that sum_j mu_j >= -1):

    LB = kappa sum_r pi_r + sum_{deadline j} mu_j + sum_{accuracy j} nu_j + sum_j min_{p in P_j} (rc_p + sigma_j)

(the Lagrangian dual function of the full path LP: restricted master value plus the most
negative reduced cost per job, the standard bound for convexity-constrained masters). Column
generation stops when the master is feasible (no slack) and (z - LB) / |z| <= tolerance
(``mip_gap``; default 1e-4; 0 = until no column prices out), or at the time limit. Status
optimal only when no column prices out or the proven gap is within ``mip_gap`` (when given) or
EXACT_REL_GAP = 1e-9 (when not, the same meaning as for the exact MILP backends); a stop at the
1e-4 default above that is status feasible, with the gap in extra["cg_gap"].

Feasibility: the master starts with one column per job (its uncapacitated objective-shortest
path, plus its latency-shortest path when there are deadlines or a min-max objective) and one
elastic slack per capacity, deadline and accuracy row with cost M = 100 x (cost of the initial
columns), so it is always feasible. If slack remains at convergence, phase 1 (minimise the sum
of slacks, column costs 0, same pricing without objective) decides: a positive phase-1 bound
proves the instance infeasible and the row with the largest slack is named in the message;
otherwise the slacks are fixed at 0 and phase 2 continues.

``time_limit`` is the wall clock of the whole call (templates, CG, start heuristics, master MIP
and the arc-form fallback, each phase in the time left).

Unsplittable variants (``-milp``): price-and-branch. After the LP converges (column
generation stops at 70 % of the time limit), a start is sought: a sequential greedy (jobs one
by one, each on its first LP column that fits the residual capacities, else on a cheapest path
repaired by Lagrangian prices on overloaded resources and on a missed deadline), tried under
several job orders (by LP, rate descending, rate ascending, a few seeded random orders), and,
if none completes, a dive (fractional jobs fixed to an LP column in rounds with column
generation re-run for the others, see ``dive``); these start heuristics get at most half of the
time left. Then theta is made binary and HiGHS solves the
master MIP over all generated columns (with the start, if any) in the remaining time. Its
objective is compared with the CG lower bound (valid for the unsplittable problem); status
optimal only when that gap is within ``mip_gap``, or 1e-9 when it is not given, else feasible
(the master MIP itself runs to that gap). If the generated columns hold no
integer solution, the arc-form MILP (``arc.py``) is solved in the time left when its layered
graphs have at most ``ARC_FALLBACK_MAX_ARCS`` arcs: it finds a solution or proves the instance
infeasible (extra["fallback"] = "arc-milp"); beyond that size (or when the fallback finds
nothing before it ends) the record keeps the CG bound with status no_solution (the heuristic
ended without a solution and without a proof), time_limit when the clock stopped it, error only
when the fallback itself failed.
Price-and-branch is a heuristic (registered kind "heuristic"): the optimal integer solution may
need columns that were never generated.

Records carry ``extra``: cg_iterations, columns, bound_history ([iteration, seconds, master
value, lower bound]), master_time, pricing_time (the compiled price-and-extract calls: passes,
walks, column loads), column_time (new columns into the master), mip_time, phase1, cg_gap,
lp_value, n_jobs.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, Callable

import numpy as np

from dnnsplit.options import EXACT_REL_GAP, SolverOptions
from dnnsplit.registry import SolverSpec, register
from dnnsplit.results import SolveResult, Status, relative_gap
from dnnsplit.solvers import highs
from formulations.f3.master import Column, Master, make_column
from formulations.f3.model import VARIANTS, F3Data, Variant, column_resources, mark_infeasible
from formulations.f3.pricing import Batch, Pricer
from instances.model import Instance

DEFAULT_GAP = 1e-4
PRICE_TOL = 1e-9  # a column prices out when its reduced cost is below -PRICE_TOL x max(1, |master value|)
SLACK_TOL = 1e-7
MIP_SHARE_OF_TIME = 0.3  # integral variants keep this share of the time limit for the master MIP
ARC_FALLBACK_MAX_ARCS = 2_000_000  # arc-form MILP fallback only below this many layered arcs
DIVE_SHARE = 0.1  # share of the fractional jobs fixed per diving round
GREEDY_RANDOM_ORDERS = 5  # random job orders tried by the greedy start after the three fixed ones


# ----------------------------------------------------------------------------- the algorithm


class ColumnGeneration:
    def __init__(self, instance: Instance, variant: Variant, options: SolverOptions):
        self.clock = options.clock()  # the whole call: model data, CG, start heuristics, master MIP
        self.variant = variant
        self.options = options
        self.limit = options.time_limit
        self.gap_tol = DEFAULT_GAP if options.mip_gap is None else float(options.mip_gap)  # when CG stops
        # what "optimal" means: the gap asked for, else exact (as for every MILP backend)
        self.optimal_tol = max(options.mip_rel_gap, EXACT_REL_GAP)
        self.d = F3Data(instance, variant)
        self.pricer = Pricer(self.d)
        self.master = Master(self.d, options)
        self.J = len(instance.jobs)
        self.history: list[list[float]] = []
        self.best_lb = -np.inf
        self.master_time = self.pricing_time = self.column_time = self.mip_time = 0.0
        self.price_tol = PRICE_TOL
        self.iterations = 0
        self.phase1 = False
        self.last: tuple | None = None  # (master value, primal, slack used, bound) of the last iteration
        self.notes: dict[str, Any] = {}  # what the result's extra records beyond the CG counters

    def elapsed(self) -> float:
        return self.clock.elapsed()

    def out_of_time(self, share: float = 1.0) -> bool:
        return self.clock.share_expired(share)

    # -- duals -> pricing inputs
    def multipliers(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        m, d = self.master, self.d
        pi = np.minimum(y[: len(m.cap_res)], 0.0)
        w = np.zeros(d.num_resources)
        w[m.cap_res] = -pi
        beta = np.zeros(self.J)
        const = d.kappa * float(pi.sum())
        for j in m.dead_jobs:
            mu = min(float(y[m.dead_row[j]]), 0.0)
            beta[j] += -mu / d.instance.jobs[j].deadline
            const += mu
        if m.mm:
            mu = np.minimum(y[m.mm0 : m.mm0 + self.J], 0.0)
            total = -float(mu.sum())
            if total > 1.0 / d.scale:  # keep t's reduced cost 1/S + sum mu >= 0
                mu = mu / (total * d.scale)
            beta += -mu
        gamma = np.zeros(self.J)
        for j in m.acc_jobs:
            gamma[j] = max(float(y[m.acc_row[j]]), 0.0)
            const += gamma[j]
        return w, beta, gamma, const

    def last_theta(self) -> np.ndarray:
        """theta per column at the last master LP solution, 0 for the columns added after it (a
        time limit can stop the loop between adding columns and re-solving): an LP point of the
        grown master with the same value."""
        x = self.last[1]
        cols = self.master.theta_cols()
        out = np.zeros(len(cols))
        known = cols < len(x)
        out[known] = x[cols[known]]
        return out

    def run_master(self) -> str | None:
        """Re-solve the master LP warm within the clock (once cold after a failed warm solve):
        None when optimal, else "time" (the clock stopped it) or "master: <HiGHS's word>"."""
        status, word, t = self.master.lp.run(self.clock)
        self.master_time += t
        if status == Status.ERROR and not self.clock.expired():
            status, word, _ = self.resolve_cold()
        if status == Status.OPTIMAL:
            return None
        return "time" if status == Status.TIME_LIMIT or self.clock.expired() else f"master: {word}"

    def resolve_cold(self) -> tuple[Status, str, float]:
        """HiGHS's warm simplex can end in status "Unknown" after many bound changes (seen on
        small instances): solve that LP once by interior point with crossover (a fresh vertex
        basis for the next warm starts), then back to HiGHS's default choice."""
        lp = self.master.lp
        self.notes["cold_resolves"] = self.notes.get("cold_resolves", 0) + 1
        lp.set_option("solver", "ipm")
        lp.set_option("run_crossover", "on")
        try:
            status, word, t = lp.run(self.clock)
        finally:
            lp.set_option("solver", "choose")
        self.master_time += t
        return status, word, t

    def pricing_round(self, y: np.ndarray, objective: str | None, fixed: np.ndarray | None = None,
                      **extra: Any) -> tuple[np.ndarray, Batch, float]:
        """Price every job under the master duals ``y``: (d_j per job, the columns whose reduced
        cost is below -PRICE_TOL max(1, |z|), the constant of the Lagrangian bound). ``fixed``
        jobs get no column; ``extra`` goes to :meth:`Pricer.price` (restrictions, constrained jobs)."""
        w, beta, gamma, const = self.multipliers(y)
        sigma = y[self.master.conv0 : self.master.conv0 + self.J].copy()
        if fixed is not None:
            sigma[fixed] = -np.inf
        thr = self.price_tol * max(1.0, abs(self.master.lp.objective()))
        best, batch = self.pricer.price(w, beta, gamma, objective, sigma=sigma, thr=thr, **extra)
        return best, batch, const

    def new_columns(self, batch: Batch) -> list[Column]:
        """The batch's columns that are not in the master yet (numerical noise in the duals can
        price out a column the master holds)."""
        return [c for c in self.master.columns_of(batch) if c.key not in self.master.seen]

    # -- setup
    def initial_columns(self) -> list[Column] | str:
        J = self.J
        zero_w = np.zeros(self.d.num_resources)
        modes = [self.variant.objective if self.variant.objective != "minmax" else "latency"]
        if self.variant.deadlines and self.variant.objective != "latency":
            modes.append("latency")
        cols: list[Column] = []
        every = np.full(J, np.inf)  # sigma = inf: every job's cheapest path becomes a column
        for mode in modes:
            best, batch = self.pricer.price(zero_w, np.zeros(J), np.zeros(J), mode, sigma=every)
            for j in range(J):
                if not np.isfinite(best[j]):
                    return f"{self.d.job_name(j)}: no placement reaches its sink"
            cols += self.master.columns_of(batch)
            if self.d.accuracy_jobs():  # one column per configuration helps meet accuracy targets
                for j in self.d.accuracy_jobs():
                    for tpl in self.d.options[j]:
                        if tpl is cols[j].tpl:
                            continue
                        cost = self.d.rates[j] * np.where(tpl.usable, tpl.objective(mode), np.inf)
                        found = self.pricer.best_path(j, tpl, cost)
                        if found is not None:
                            _, route, arcs = self.pricer.path(found)
                            cols.append(make_column(self.d, self.master, j, tpl, route, arcs))
        return cols

    # -- one CG loop (phase "penalised", "phase1" or "final")
    def loop(self, phase: str, share: float, fixed: np.ndarray | None = None) -> str:
        """Iterate until converged ("converged"), gap reached ("gap") or time out ("time").

        Phases: "penalised" (big-M slacks), "phase1" (minimise slacks), "final" (slacks fixed at
        0), "dive" (some jobs fixed to one column: no bound is recorded, ``fixed`` jobs get no
        new column).
        """
        m = self.master
        objective = None if phase == "phase1" else self.variant.objective
        bounded = phase in ("penalised", "final")
        while True:
            failed = self.run_master()
            if failed:
                return failed
            y, x, z = m.lp.duals(), m.lp.primal(), m.lp.objective()
            t0 = time.perf_counter()
            best, batch, const = self.pricing_round(y, objective, fixed)
            self.pricing_time += time.perf_counter() - t0
            lb = const + float(best.sum())
            slack = float(x[m.slack_cols].sum()) if len(m.slack_cols) else 0.0
            self.iterations += 1
            if bounded:
                self.best_lb = max(self.best_lb, lb)
                S = self.d.scale
                self.history.append([self.iterations, round(self.elapsed(), 4), z * S, lb * S])
            self.last = (z, x, slack, lb)
            if bounded and slack <= SLACK_TOL:
                if relative_gap(z, self.best_lb) <= self.gap_tol:
                    return "gap"
            if phase == "phase1" and lb > SLACK_TOL:
                return "infeasible"
            if phase == "phase1" and z <= SLACK_TOL:
                return "converged"
            t0 = time.perf_counter()
            cols = self.new_columns(batch)
            if phase == "phase1":
                m.add_columns(cols, cost_scale=0.0)
            else:
                m.add_columns(cols)
            self.column_time += time.perf_counter() - t0
            if not cols:
                return "converged"
            if self.out_of_time(share):
                return "time"

    def result(self, status: Status, **fields: Any) -> SolveResult:
        """A result with the run's solver, counters and CG record (``extra``) and ``fields`` on top."""
        m = self.master
        extra = {
                "form": "path", "integral": self.variant.integral, "n_jobs": self.J,
                "objective_kind": self.variant.objective,
                "configurations": int(sum(len(o) for o in self.d.options)), "templates": len(self.d.templates),
                "cg_iterations": self.iterations, "columns": len(m.columns), "n_rows": m.nrows,
                "bound_history": self.history, "bound_history_len": len(self.history),
                "master_time": self.master_time, "pricing_time": self.pricing_time,
                "column_time": self.column_time, "mip_time": self.mip_time,
                "phase1": self.phase1, "objective_scale": self.d.scale,
                "cg_bound": None if not np.isfinite(self.best_lb) else self.best_lb * self.d.scale,
                **self.notes}
        extra.update(fields.pop("extra", {}))
        base = SolveResult(status=status, solver="HiGHS (column generation)", solver_version=highs.version(),
                           iterations=self.iterations, extra=extra)
        return replace(base, **fields)

    # -- driver
    def solve(self) -> SolveResult:
        v, m = self.variant, self.master
        init = self.initial_columns()
        if isinstance(init, str):
            return self.result(Status.INFEASIBLE, message=f"infeasible: {init}")
        m.add_columns(init)
        z0 = sum(c.cost for c in init) if v.objective != "minmax" else max(c.latency for c in init) / self.d.scale
        self.big_m = 100.0 * max(z0, 1e-9)
        m.set_slack_cost(self.big_m)
        build = self.elapsed()
        share = 1.0 - MIP_SHARE_OF_TIME if v.integral else 1.0
        how = self.loop("penalised", share)
        if how == "converged" and self.last[2] > SLACK_TOL:
            how = self.run_phase1(share)
            if how == "infeasible":
                _, x, _, lb = self.last
                slack = x[m.slack_cols]
                k = int(np.argmax(slack))
                res = mark_infeasible(self.result(Status.INFEASIBLE), m.slack_names[k], float(slack[k]),
                                      f"column generation phase 1 (proven: phase-1 bound {lb:.3g} > 0)")
                return self._times(res, build)
        if how.startswith("master"):
            return self._times(self.result(Status.ERROR, message=how), build)
        if self.last is None:  # the clock stopped the first master LP
            lb = self.best_lb * self.d.scale if np.isfinite(self.best_lb) else None
            return self._times(self.result(Status.TIME_LIMIT, bound=lb, message="time limit in the first master LP"),
                               build)
        z, x, slack, _ = self.last
        S = self.d.scale
        z *= S  # back to the objective's units
        feasible = slack <= SLACK_TOL
        lb = self.best_lb * S if np.isfinite(self.best_lb) else None
        cg_gap = relative_gap(z, lb) if feasible else None
        self.notes.update(lp_value=z if feasible else None, cg_gap=cg_gap)
        theta = self.last_theta()
        lp_integral = bool(np.all(np.minimum(theta, np.abs(1 - theta)) <= 1e-6))
        if not feasible:  # time ran out before the slacks left
            res = self.result(Status.TIME_LIMIT, bound=lb,
                              message="time limit with capacity slack still in use: no feasible point yet")
            return self._times(res, build)
        if how == "converged" or (how == "gap" and cg_gap is not None and cg_gap <= self.optimal_tol):
            status = Status.OPTIMAL
        else:  # stopped at the CG tolerance above the exactness one, or by the time limit
            status = Status.FEASIBLE if how == "gap" else Status.TIME_LIMIT
        if v.integral:
            return self._times(self.price_and_branch(z, lb, lp_integral), build)
        if v.kind == "bound":
            res = self.result(status, objective=z, bound=lb, lp_relaxation=z, lp_integral=lp_integral,
                              message="LP relaxation: a lower bound, no decision")
            return self._times(res, build)
        res = self.result(status, objective=z, bound=lb, decision=self.decision(theta, integral=False), lp_relaxation=z,
                          lp_integral=lp_integral)
        return self._times(res, build)

    def _times(self, res: SolveResult, build: float) -> SolveResult:
        res.build_time = build
        res.solve_time = self.elapsed() - build
        return res

    def run_phase1(self, share: float) -> str:
        m = self.master
        self.phase1 = True
        cols = m.theta_cols()
        m.lp.set_costs(cols, np.zeros(len(cols)))
        if m.t_col is not None:
            m.lp.set_costs([m.t_col], np.zeros(1))
        m.set_slack_cost(1.0)
        how = self.loop("phase1", share)
        if how != "converged":
            return how
        # feasible: slacks off, costs back, continue phase 2
        m.set_slack_bounds(0.0)
        m.set_slack_cost(0.0)
        cols = m.theta_cols()
        m.lp.set_costs(cols, np.array([c.cost for c in m.columns]))
        if m.t_col is not None:
            m.lp.set_costs([m.t_col], np.full(1, 1.0 / self.d.scale))
        return self.loop("final", share)

    def decision(self, theta: np.ndarray, integral: bool) -> dict:
        m = self.master
        parts: dict[int, list[tuple[Column, float]]] = {}
        for col, val in zip(m.columns, theta.tolist()):
            if (val > 0.5) if integral else (val > 1e-9):
                parts.setdefault(col.job, []).append((col, 1.0 if integral else val))
        decision = {}
        for j in range(self.J):
            got = parts.get(j)
            if not got:
                raise RuntimeError(f"job {j}: no column carries its requests")
            if integral:
                got = got[:1]
            total = sum(s for _, s in got)
            decision[j] = tuple(c.tpl.with_exits(c.route, s / total) for c, s in got)
        return decision

    # -- unsplittable: heuristics, then the master MIP
    def fits(self, col: Column, residual: np.ndarray) -> bool:
        job = self.d.instance.jobs[col.job]
        if np.any(col.vals > residual[self.master.cap_res[col.rows]] + 1e-12):
            return False
        if self.d.variant.deadlines and job.deadline is not None and col.latency > job.deadline * (1 + 1e-9):
            return False
        acc = col.tpl.accuracy
        return not (job.accuracy_target is not None and acc is not None and acc < job.accuracy_target - 1e-9)

    def fit_path(self, j: int, residual: np.ndarray, rounds: int = 30) -> Column | None:
        """A cheap path of job j whose loads fit ``residual`` and that meets its deadline, or None.

        Arcs whose own load exceeds the residual are removed. When the path's summed load still
        exceeds the residual (several layers on one node) the overloaded resources get a price,
        and when it misses the deadline latency gets a price; prices double each round (a
        Lagrangian repair of this resource-constrained shortest path).
        """
        d = self.d
        job = d.instance.jobs[j]
        lam = d.rates[j]
        mode = d.variant.objective if d.variant.objective != "minmax" else "latency"
        key = (lambda c: c.latency) if d.variant.objective == "minmax" else (lambda c: c.cost)
        deadline = job.deadline if d.variant.deadlines else None
        best: Column | None = None
        for tpl in d.options[j]:
            R = tpl.R
            arc_of = np.repeat(np.arange(tpl.num_arcs), np.diff(R.indptr))
            bad = np.zeros(tpl.num_arcs, bool)
            bad[arc_of[lam * R.data > residual[R.indices] + 1e-12]] = True
            base = np.where(tpl.usable & ~bad, tpl.objective(mode), np.inf)
            lat = np.where(tpl.usable, tpl.latency, 0.0)
            price = np.zeros(d.num_resources)
            mu = 0.0
            for _ in range(rounds):
                cost = base + (R.T @ price if price.any() else 0.0) + (mu * lat if mu else 0.0)
                found = self.pricer.best_path(j, tpl, cost)
                if found is None:
                    break
                _, route, arcs = self.pricer.path(found)
                col = make_column(d, self.master, j, tpl, route, arcs)
                if self.fits(col, residual):
                    if best is None or key(col) < key(best):
                        best = col
                    break
                scale = max(float(base[arcs].sum()), 1e-12)
                res, vals = column_resources(R, arcs, 1.0)
                over = lam * vals > residual[res] + 1e-12
                if over.any():
                    price[res[over]] = 2 * price[res[over]] + scale / np.maximum(vals[over], 1e-12)
                if deadline is not None and col.latency > deadline:
                    mu = 2 * mu + scale / max(col.latency, 1e-12)
        return best

    def greedy(self, order: list[int], prefer: dict[int, list[Column]] | None = None) -> list[Column] | None:
        """Jobs in ``order``: the first preferred column that fits, else ``fit_path``."""
        d = self.d
        residual = np.full(d.num_resources, d.kappa)
        out: list[Column] = []
        for j in order:
            best = next((c for c in (prefer or {}).get(j, []) if self.fits(c, residual)), None)
            if best is None:
                best = self.fit_path(j, residual)
            if best is None:
                return None
            residual[self.master.cap_res[best.rows]] -= best.vals
            out.append(best)
        return out

    def greedy_orders(self, theta: np.ndarray, share: float = 1.0) -> tuple[list[Column] | None, str | None]:
        """Sequential greedy under several job orders; the first complete one wins."""
        rates = self.d.rates
        by_rate = sorted(range(self.J), key=lambda j: -rates[j])
        prefer = self.lp_preferences(theta)
        top = {j: max(float(v) for v, _ in cols) for j, cols in prefer.items()}
        # LP rounding: jobs the LP routes whole keep their column (together they fit), then the
        # fractional ones, largest share first
        by_lp = sorted(range(self.J), key=lambda j: (-(top.get(j, 0.0) >= 1 - 1e-6), -top.get(j, 0.0), -rates[j]))
        prefer = {j: [c for _, c in cols] for j, cols in prefer.items()}
        rng = np.random.default_rng(self.options.seed)
        tries: list[tuple[str, list[int], dict | None]] = [
            ("greedy-lp", by_lp, prefer),
            ("greedy-rate-desc", by_rate, None),
            ("greedy-rate-asc", by_rate[::-1], None),
        ]
        tries += [(f"greedy-random-{k}", rng.permutation(self.J).tolist(), None) for k in range(GREEDY_RANDOM_ORDERS)]
        for name, order, prefer in tries:
            if self.out_of_time(share):
                break
            got = self.greedy(order, prefer)
            if got is not None:
                return got, name
        return None, None

    def residual_without(self, j: int) -> np.ndarray:
        """kappa minus the loads of every other job in the current master solution."""
        m, d = self.master, self.d
        theta = self.last_theta()
        rows, vals, owner = m.load_arrays()
        weight = theta[owner] * vals
        weight[m.column_job()[owner] == j] = 0.0
        load = np.bincount(rows, weights=weight, minlength=len(m.cap_res))
        residual = np.full(d.num_resources, d.kappa)
        residual[m.cap_res] -= load
        return residual

    def lp_preferences(self, theta: np.ndarray) -> dict[int, list[tuple[float, Column]]]:
        """Each job's LP columns with their shares, largest first."""
        prefer: dict[int, list[tuple[float, Column]]] = {}
        for col, val in zip(self.master.columns, theta.tolist()):
            if val > 1e-9:
                prefer.setdefault(col.job, []).append((val, col))
        return {j: sorted(v, key=lambda t: -t[0]) for j, v in prefer.items()}

    def dive(self, share: float) -> list[Column] | None:
        """Diving: fix fractional jobs to one of their LP columns in rounds (DIVE_SHARE of the
        fractional jobs, largest share first), re-running column generation for the open jobs
        after each round; when a round leaves capacity slack, its jobs are fixed one at a time,
        trying each of their LP columns, then the cheapest path that fits the capacity the other
        jobs leave (``fit_path``). Big-M slacks keep the master feasible during the dive
        and must be 0 at the end; their bounds are then restored to what they were. Returns one
        column per job, or None. A dive stopped by the
        clock is completed by the greedy (``complete_dive``) instead of being dropped."""
        m = self.master
        slack_upper = m.slack_upper  # restored at the end (0 in price-and-branch, inf in branch-and-price)
        m.set_slack_bounds(np.inf)
        m.set_slack_cost(self.big_m)
        fixed = np.zeros(self.J, bool)
        chosen: dict[int, int] = {}

        def fix(j: int, i: int, on: bool) -> None:
            m.lp.set_bounds([m.col0[i]], np.ones(1) if on else np.zeros(1), np.ones(1))
            fixed[j] = on
            if on:
                chosen[j] = i
            else:
                chosen.pop(j, None)

        def settle() -> bool:
            how = self.loop("dive", share, fixed)
            return how in ("converged", "gap") and self.last[2] <= SLACK_TOL

        ok = settle()
        while ok and not fixed.all():
            if self.out_of_time(share):
                ok = False
                break
            theta = self.last_theta()
            cand: dict[int, list[tuple[float, int]]] = {}
            for i, (col, val) in enumerate(zip(m.columns, theta.tolist())):
                if val > 1e-9 and not fixed[col.job]:
                    cand.setdefault(col.job, []).append((val, i))
            order = {j: [i for _, i in sorted(v, key=lambda t: -t[0])] for j, v in cand.items()}
            top = {j: max(val for val, _ in v) for j, v in cand.items()}
            frac = [j for j in cand if top[j] < 1 - 1e-6]
            if not frac:  # the LP is integral on the open jobs: fix them all
                for j in cand:
                    fix(j, order[j][0], True)
                ok = settle()
                break
            frac.sort(key=lambda j: -top[j])
            take = frac[: max(1, int(np.ceil(DIVE_SHARE * len(frac))))]
            for j in take:
                fix(j, order[j][0], True)
            if settle():
                continue
            for j in take:  # undo the round, then one job at a time with its alternatives
                fix(j, chosen[j], False)
            settle()
            for j in take:
                for i in order[j]:
                    fix(j, i, True)
                    if settle():
                        break
                    fix(j, i, False)
                else:  # no LP column fits alone: a path over the others' residual capacity
                    settle()
                    col = self.fit_path(j, self.residual_without(j))
                    if col is not None:
                        m.add_columns([col])
                        fix(j, len(m.columns) - 1, True)
                    if col is None or not settle():
                        ok = False
                        break
        result = [m.columns[chosen[j]] for j in range(self.J)] if ok and fixed.all() else None
        if result is None and chosen and self.out_of_time(share):
            result = self.complete_dive(chosen)
        for j, i in list(chosen.items()):  # undo the fixings and the slacks
            fix(j, i, False)
        m.set_slack_bounds(slack_upper)
        return result

    def complete_dive(self, chosen: dict[int, int]) -> list[Column] | None:
        """The sequential greedy from a dive stopped by the clock: the jobs it fixed first, each
        preferring its fixed column, then the others by their largest share in the last master
        solution, each preferring its LP columns (every column checked against the residual
        capacities, ``fit_path`` when none fits). One column per job, or None."""
        m = self.master
        shares = self.lp_preferences(self.last_theta())  # job -> [(share, column)], largest first
        prefer = {j: [c for _, c in cols] for j, cols in shares.items()}
        top = {j: -cols[0][0] for j, cols in shares.items()}
        for j, i in chosen.items():
            prefer[j] = [m.columns[i]]
        rest = sorted((j for j in range(self.J) if j not in chosen), key=lambda j: (top.get(j, 0.0), -self.d.rates[j]))
        return self.greedy(list(chosen) + rest, prefer)

    def price_and_branch(self, lp_value: float, lb: float | None, lp_integral: bool) -> SolveResult:
        m = self.master
        m.set_slack_bounds(0.0)
        t0 = time.perf_counter()
        theta = self.last_theta()
        # the start heuristics may use half of the time left; the master MIP keeps the rest
        share = 1.0
        if self.limit is not None:
            share = min(1.0, (self.elapsed() + 0.5 * max(self.limit - self.elapsed(), 0.0)) / self.limit)
        start, how = self.greedy_orders(theta, share)
        if start is None and not self.out_of_time(share):
            start = self.dive(share)
            how = "dive" if start else None
        self.notes["heuristic_start"] = how
        first = len(m.columns)
        if start:
            m.add_columns(start)
        m.lp.make_integer(m.theta_cols())
        if start:
            m.lp.set_start([m.col0[first + i] for i in range(len(start))], np.ones(len(start)))
        m.lp.set_option("mip_rel_gap", self.optimal_tol)
        if "mip_abs_gap" not in self.options.raw:
            m.lp.set_option("mip_abs_gap", 0.0)
        _, name, _ = m.lp.run(self.clock)
        self.mip_time = time.perf_counter() - t0
        self.notes["mip_status"] = name
        nodes = m.lp.mip_nodes()
        if not m.lp.has_point():
            return self.arc_fallback(lp_value, lb, lp_integral, name, nodes)
        theta = m.lp.primal()[m.theta_cols()]
        z = m.lp.objective() * self.d.scale
        gap = relative_gap(z, lb)
        status = Status.OPTIMAL if gap is not None and gap <= self.optimal_tol else Status.FEASIBLE
        return self.result(status, objective=z, bound=lb, decision=self.decision(theta, True), nodes=nodes,
                           lp_relaxation=lp_value, lp_integral=lp_integral,
                           message="" if status == Status.OPTIMAL else "price-and-branch: gap to the CG bound")

    def arc_fallback(self, lp_value: float, lb: float | None, lp_integral: bool, mip_status: str,
                     nodes: int) -> SolveResult:
        """No integer solution over the generated columns: solve the arc-form MILP in the time
        left (when its layered graphs fit ARC_FALLBACK_MAX_ARCS), which either finds one or
        proves the instance infeasible; else report the CG bound alone."""
        v = self.variant
        arcs = sum(t.num_arcs for opts in self.d.options for t in opts)
        left = self.clock.remaining()
        self.notes["fallback"] = None
        if (left is None or left > 0.5) and arcs <= ARC_FALLBACK_MAX_ARCS:
            from formulations.f3.arc import _solve_arrays  # the arc form imports nothing from here

            opts = replace(self.options, time_limit=left)
            res = _solve_arrays(v, highs.BACKEND)(self.d.instance, opts)
            self.notes.update(fallback="arc-milp", fallback_status=res.status.value)
            extra = {**res.extra, **self.result(Status.ERROR).extra}
            bound = res.bound
            if lb is not None and bound is not None:
                bound = max(bound, lb)
            if res.status in (Status.OPTIMAL, Status.FEASIBLE, Status.TIME_LIMIT) and res.decision is not None:
                gap = relative_gap(res.objective, bound)
                status = Status.OPTIMAL if gap is not None and gap <= self.optimal_tol else Status.FEASIBLE
                return replace(res, status=status, bound=bound, lp_relaxation=lp_value,
                               lp_integral=lp_integral, extra=extra, iterations=self.iterations,
                               message=f"price-and-branch found no integer solution over {len(self.master.columns)}"
                                       f" columns ({mip_status}); arc-form MILP fallback")
            if res.status is Status.INFEASIBLE:
                return replace(res, lp_relaxation=lp_value, extra=extra,
                               message=f"{res.message} (arc-form MILP fallback after price-and-branch)")
        # Stopped by the clock: time limit. Otherwise the heuristic ended without a solution and
        # without a proof (the columns it generated admit no integer point): no_solution, with
        # the CG bound; an error only when the fallback itself failed.
        if self.out_of_time() or "time" in mip_status.lower():
            status = Status.TIME_LIMIT
        elif self.notes.get("fallback_status") == Status.ERROR.value:
            status = Status.ERROR
        else:
            status = Status.NO_SOLUTION
        return self.result(status, bound=lb, lp_relaxation=lp_value, lp_integral=lp_integral, nodes=nodes,
                           message=f"price-and-branch found no integer solution over {len(self.master.columns)} "
                                   f"columns ({mip_status}); the CG bound stands")


def _solve_colgen(variant: Variant) -> Callable[[Instance, SolverOptions], SolveResult]:
    def solve(instance: Instance, options: SolverOptions) -> SolveResult:
        return ColumnGeneration(instance, variant, options).solve()

    return solve


# ----------------------------------------------------------------------------- registry

_ACCEPTS = frozenset({"time_limit", "mip_gap", "threads", "seed", "raw"})

for _v in VARIANTS.values():
    if _v.memory:
        continue  # C3 needs z variables over columns: arc form only
    _kind = "heuristic" if _v.integral else _v.kind
    register(SolverSpec(
        _v.name, "colgen", _solve_colgen(_v), "multi", _v.eval_objective, accepts=_ACCEPTS, kind=_kind,
        capacitated=True, deadlines=_v.deadlines, relaxation=_v.relaxation,
        reference=_v.name if _v.integral else None,
        description=f"{_v.description}; path form, column generation"
                    + (" + price-and-branch" if _v.integral else "") + " (mip_gap = CG gap tolerance)",
        tags=frozenset({"F3", "path", "milp" if _v.integral else "lp"}),
    ))
