"""T4 and F4: multi-job solve time and gap against the number of jobs; arc form against path form, LP against MILP.

Rows: records of the sets in ``JOBS_SETS`` (the "multi-jobs" default set: one network and one
model shape, 50 to 1,000 jobs) whose formulation is in ``FORMULATIONS`` (rate-weighted latency,
splittable LP and unsplittable MILP). The form is read from the backend: ``colgen`` and
``colgen-bp`` are the path form (column generation; for the MILP, ``colgen`` is
price-and-branch, a heuristic with a bound, and ``colgen-bp`` branch-and-price, exact), every
other backend the arc form. The method column names the row group (``method_of``: LP, arc MILP,
price-and-branch, branch-and-price). The number of jobs is the record's ``sizes.jobs``.

Per (jobs, pair), over the instances with that many jobs (one in the default set) and their
repeats: the status (the most common; "k/n optimal" when mixed), the median penalised solve time
and build time (``_stats.per_instance``: a run that ended counts with its measured time whatever
its status, a run stopped by the time or memory limit at the time limit), the median
evaluated objective, the median of the suite's gap |objective - bound| / |objective| (0 for a
proven optimum; the price-and-branch MILP reports its column-generation bound), and the excess
over the LP optimum of the same instance, (objective - LP) / |LP|, where LP is the best
optimal ``F3-latency-lp`` value of that instance (any backend): the integrality gap the
unsplittable MILP pays over the splittable relaxation; and the excess over the proven MILP
optimum of the same instance, (objective - opt) / |opt|, opt = the best optimal
``F3-latency-milp`` value by an exact pair (arc MILP or branch-and-price): the true gap of
price-and-branch where its own gap is only to the CG bound.

F4 plots solve time (left) and build + solve time (right) against the number of jobs, log-log,
one line per pair (colour: LP/MILP; line style and marker: arc form, column generation /
price-and-branch, branch-and-price; hollow marker: not solved, drawn at the time limit for a
stopped run).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from dnnsplit.results import excess
from dnnsplit.tables import register_table
from dnnsplit.tables._render import Context, fmt_num, fmt_pct, time_panels
from dnnsplit.tables._stats import STATUS_NOTE, per_instance

JOBS_SETS = ("multi-jobs",)
FORMULATIONS = ("F3-latency-lp", "F3-latency-milp")
LP_FORMULATION = "F3-latency-lp"
MILP_FORMULATION = "F3-latency-milp"
PATH_BACKENDS = ("colgen", "colgen-bp")
BRANCH_AND_PRICE = "colgen-bp"
METHODS = ("LP", "arc MILP", "price-and-branch", "branch-and-price")  # row groups, in this order


def form_of(backend: str) -> str:
    """'path' for the column-generation backends, 'arc' for the others."""
    return "path" if backend in PATH_BACKENDS else "arc"


def method_of(formulation: str, backend: str) -> str:
    """The row group: 'LP' (either form), else 'arc MILP', 'price-and-branch' or 'branch-and-price'."""
    if problem_label(formulation) == "LP":
        return "LP"
    if backend == BRANCH_AND_PRICE:
        return "branch-and-price"
    return "price-and-branch" if form_of(backend) == "path" else "arc MILP"


def problem_label(formulation: str) -> str:
    return "LP" if formulation.endswith("-lp") else "MILP"


def jobs_rows(long: pd.DataFrame) -> pd.DataFrame:
    """The records T4/F4 use (sets ``JOBS_SETS``, formulations ``FORMULATIONS``, a job count)."""
    rows = long[long["set"].isin(JOBS_SETS) & long["formulation"].isin(FORMULATIONS) & long["size_jobs"].notna()]
    return rows.assign(jobs=rows["size_jobs"].astype(int), value=rows["evaluated_objective"].fillna(rows["objective"]))


def _status(statuses: pd.Series) -> str:
    counts = statuses.value_counts()
    if len(counts) == 1:
        return str(counts.index[0])
    return f"{int(counts.get('optimal', 0))}/{len(statuses)} optimal"


def multi_jobs_table(long: pd.DataFrame) -> pd.DataFrame:
    """The T4 rows with raw numbers (tests check them against an independent computation)."""
    rows = jobs_rows(long)
    if rows.empty:
        return pd.DataFrame()
    lp = rows[(rows["formulation"] == LP_FORMULATION) & (rows["status"] == "optimal") & rows["value"].notna()]
    lp_best = lp.groupby("instance_hash")["value"].max()  # the LP optimum (backends agree up to tolerance)
    exact = rows[(rows["formulation"] == MILP_FORMULATION) & (rows["status"] == "optimal") & (rows["kind"] == "exact")
                 & rows["value"].notna()]
    opt_best = exact.groupby("instance_hash")["value"].min()  # the proven MILP optimum
    pi = per_instance(rows, keys=("pair",))
    out = []
    for (jobs, pair), g in rows.groupby(["jobs", "pair"]):
        formulation, backend = pair.split("/", 1)
        times = pi[(pi["pair"] == pair) & pi["instance_hash"].isin(g["instance_hash"].unique())]
        ok = g[g["status"].isin(("optimal", "feasible")) & g["value"].notna()]
        excesses = [
            excess(v, lp_best[h]) for h, v in zip(ok["instance_hash"], ok["value"]) if h in lp_best.index
        ]
        over_opt = [excess(v, opt_best[h]) for h, v in zip(ok["instance_hash"], ok["value"])
                    if h in opt_best.index and problem_label(formulation) == "MILP"]
        out.append(
            {
                "jobs": int(jobs),
                "pair": pair,
                "form": form_of(backend),
                "problem": problem_label(formulation),
                "method": method_of(formulation, backend),
                "instances": int(g["instance_hash"].nunique()),
                "status": _status(g["status"]),
                "median solve (s)": float(times["solve"].median()),
                "median build (s)": float(times["build"].median()),
                "objective": float(ok["value"].median()) if not ok.empty else math.nan,
                "gap %": float(ok["gap"].median()) if ok["gap"].notna().any() else math.nan,
                "over LP %": float(np.median(excesses)) if excesses else math.nan,
                "over optimum %": float(np.median(over_opt)) if over_opt else math.nan,
            }
        )
    frame = pd.DataFrame(out)
    frame["_m"] = frame["method"].map(METHODS.index)
    return frame.sort_values(["jobs", "_m", "form", "pair"]).drop(columns="_m").reset_index(drop=True)


@register_table("T4", "Solve time and gap against the number of jobs", order=40)
def t4(long: pd.DataFrame, ctx: Context) -> list[Path]:
    frame = multi_jobs_table(long)
    if frame.empty:
        return ctx.skip(f"no {'/'.join(FORMULATIONS)} record on the set(s) {', '.join(JOBS_SETS)}")
    caption = ctx.caption(
        "Multi-job routing (rate-weighted latency) against the number of jobs on one network and one model shape: "
        "arc form (HiGHS on the full multi-commodity model) against path form (column generation), splittable LP "
        "against unsplittable MILP; the MILP in three row groups: arc MILP, price-and-branch (colgen: an integer "
        "master over the generated columns, a heuristic with the CG bound) and branch-and-price (colgen-bp: exact). "
        "Times: median over instances of the per-instance median over repeats; a run that ended counts with its "
        "measured time whatever its status (optimal, feasible, infeasible, no solution, error), only a run stopped "
        "by the time or memory limit is charged the time limit. Status: the most common over the instances and "
        "repeats ('k/n optimal' when mixed). Objective, gap and excesses: over runs with a solution (optimal or "
        "feasible; a stopped run's incumbent is not counted). Gap: |objective - bound|/|objective| reported by the "
        "run (median; price-and-branch's bound is the CG bound). Over LP: "
        f"(objective - LP optimum)/LP optimum on the same instance, LP = best optimal {LP_FORMULATION}. Over optimum: "
        f"(objective - opt)/opt, opt = best proven optimum of {MILP_FORMULATION} by an exact pair (price-and-branch's "
        f"true gap). {STATUS_NOTE}",
        jobs_rows(long),
    )
    formats = {"gap %": fmt_pct, "over LP %": fmt_pct, "over optimum %": fmt_pct, "median solve (s)": fmt_num,
               "objective": lambda v: fmt_num(v, 5)}
    return ctx.write_table("t4_multi_jobs", frame, caption, formats)


@register_table("F4", "Solve time against the number of jobs", order=140)
def f4(long: pd.DataFrame, ctx: Context) -> list[Path]:
    rows = jobs_rows(long)
    if rows.empty:
        return ctx.skip(f"no {'/'.join(FORMULATIONS)} record on the set(s) {', '.join(JOBS_SETS)}")
    pi = per_instance(rows, keys=("pair",))
    pi = pi.merge(rows.drop_duplicates("instance_hash")[["instance_hash", "jobs"]], on="instance_hash")
    pairs = sorted(pi["pair"].unique())
    colors = {"LP": "tab:blue", "MILP": "tab:red"}
    styles = {"arc": ("-", "o"), "path": ("--", "s"), BRANCH_AND_PRICE: (":", "^")}

    def style(pair: str) -> tuple[str, str, str]:
        formulation, backend = pair.split("/", 1)
        linestyle, marker = styles[backend if backend == BRANCH_AND_PRICE else form_of(backend)]
        return colors[problem_label(formulation)], linestyle, marker

    fig = time_panels(pi, "jobs", pairs, style, "number of jobs", figsize=(11, 4.4), marker_size=24)
    caption = ctx.caption(
        "Solve time (left) and build + solve time (right) against the number of jobs, log-log, one line per pair "
        "(colour: LP or MILP; solid, circles: arc form; dashed, squares: path form by column generation, the MILP "
        "by price-and-branch; dotted, triangles: branch-and-price); hollow markers: not solved (a stopped run drawn "
        "at the time limit, a run that ended at its measured time)",
        rows,
    )
    return ctx.save_figure("f4_multi_jobs", fig, caption)
