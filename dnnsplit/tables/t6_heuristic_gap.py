"""T6: each heuristic's gap to the exact optimum (median, 90th percentile, worst) and run time, per instance set.

Heuristic pairs: records of kind "heuristic" (the literature baselines, and the
price-and-branch MILPs of the path form, ``F3-*-milp/colgen``, which are exact only when they
prove optimality). Reference of a heuristic formulation: the ``reference`` its records carry
(from its registration, ``SolverSpec.reference``; for records without one, the registry's):
F2 for the single-job splits, F3-latency-milp for greedy and DINA, F3-exit-select-milp for FIN,
and the formulation itself for the colgen MILPs (their reference is the same model solved to
optimality by another backend).

Per instance, the reference value is, in this order:

1. "optimum": the best evaluated objective of a reference-formulation record with status
   optimal (any backend);
2. "bound": otherwise the largest valid lower bound found: the optimal objective of the
   reference's LP relaxation (its registered ``relaxation``: F3-latency-lp, computed by the arc
   form or by column generation, for F3-latency-milp; F3-exit-select-lp for F3-exit-select-milp) or the
   ``bound`` field of a reference record that stopped early (time limit). The gap to a bound
   over-states the gap to the optimum.

Only records with the same objective name as the heuristic count as references. The gap of a
heuristic run is (H - ref) / max(|ref|, 1e-9) (``gap_to``) on the evaluated objective; per
instance the median over repeats. Per (set, pair): instances run, instances with a result
(status feasible or optimal), how many gaps were measured against an optimum and against a
bound, the median, 90th percentile (linear interpolation, numpy's default) and worst gap, and
the median run time (solve time, median over repeats, then over instances).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from dnnsplit.results import excess
from dnnsplit.tables import register_table
from dnnsplit.tables._render import Context, fmt_num, fmt_pct, set_sort_key
from dnnsplit.tables._stats import STATUS_NOTE, status_counts

OK = ("optimal", "feasible")


def _registered(formulation: str, field: str, long: pd.DataFrame) -> str | None:
    """``field`` ("reference" or "relaxation") of ``formulation`` as its records carry it."""
    got = long.loc[(long["formulation"] == formulation) & long[field].notna(), field]
    return str(got.iloc[0]) if len(got) else None


def reference_of(formulation: str, long: pd.DataFrame) -> str:
    return _registered(formulation, "reference", long) or formulation


def relaxation_of(formulation: str, long: pd.DataFrame) -> str | None:
    return _registered(formulation, "relaxation", long)


def _value(rows: pd.DataFrame) -> pd.Series:
    return rows["evaluated_objective"].fillna(rows["objective"])


def reference_values(long: pd.DataFrame, reference: str, objective_name: str) -> pd.DataFrame:
    """Per instance hash: ``value`` and ``source`` ("optimum" or "bound") of ``reference``."""
    same = long[(long["kind"] != "heuristic") | (long["status"] == "optimal")]
    same = same[same["objective_name"] == objective_name]
    exact = same[(same["formulation"] == reference) & (same["status"] == "optimal")]
    exact = exact.assign(_v=_value(exact))
    opt = exact[exact["_v"].notna()].groupby("instance_hash")["_v"].min()
    bounds = []
    lp = relaxation_of(reference, long)
    if lp is not None:
        lp_rows = same[(same["formulation"] == lp) & (same["status"] == "optimal")]
        bounds.append(_value(lp_rows).groupby(lp_rows["instance_hash"]).max())
    early = same[(same["formulation"] == reference) & (same["status"] != "optimal") & same["bound"].notna()]
    if not early.empty:
        bounds.append(early.groupby("instance_hash")["bound"].max())
    bound = pd.concat(bounds).dropna().groupby(level=0).max() if bounds else pd.Series(dtype=float)
    out = pd.DataFrame({"value": opt, "source": "optimum"})
    extra = bound[~bound.index.isin(opt.index)]
    if len(extra):
        out = pd.concat([out, pd.DataFrame({"value": extra, "source": "bound"})])
    return out


def heuristic_gap_table(long: pd.DataFrame) -> pd.DataFrame:
    """The T6 rows with raw numbers (tests check them against an independent computation)."""
    rows = long[(long["kind"] == "heuristic") & (long["problem"] != "llm")]  # LLM heuristics (maximised): T8
    if rows.empty:
        return pd.DataFrame()
    out = []
    refs: dict[tuple[str, str], pd.DataFrame] = {}
    for (set_name, pair), g in rows.groupby(["set", "pair"]):
        formulation = pair.split("/", 1)[0]
        reference = reference_of(formulation, long)
        objective_name = str(g["objective_name"].iloc[0])
        key = (reference, objective_name)
        if key not in refs:
            refs[key] = reference_values(long, reference, objective_name)
        ref = refs[key]
        ok = g[g["status"].isin(OK)].assign(_v=lambda d: _value(d))
        ok = ok[ok["_v"].notna()]
        per_inst = ok.groupby("instance_hash")["_v"].median()
        gaps, sources = [], []
        for h, v in per_inst.items():
            if h in ref.index:
                r = float(ref.loc[h, "value"])
                gaps.append(float(excess(v, r)))
                sources.append(ref.loc[h, "source"])
        times = g.groupby("instance_hash")["solve_time"].median()
        gaps_a = np.asarray(gaps, dtype=float)
        counts = status_counts(g)
        out.append(
            {
                "set": set_name,
                "pair": pair,
                "reference": reference,
                "instances": int(g["instance_hash"].nunique()),
                "with result": int(per_inst.size),
                "no solution": counts["no solution"],
                "stopped": counts["time limit"] + counts["memory limit"],
                "error": counts["error"],
                "vs optimum": int(sum(s == "optimum" for s in sources)),
                "vs bound": int(sum(s == "bound" for s in sources)),
                "median gap %": float(np.median(gaps_a)) if gaps else math.nan,
                "p90 gap %": float(np.percentile(gaps_a, 90)) if gaps else math.nan,
                "worst gap %": float(gaps_a.max()) if gaps else math.nan,
                "median time (s)": float(times.median()),
            }
        )
    frame = pd.DataFrame(out)
    frame["_o"] = frame["set"].map(set_sort_key)
    frame["_p"] = frame["pair"].map(_natural)
    return frame.sort_values(["_o", "_p"]).drop(columns=["_o", "_p"]).reset_index(drop=True)


def _natural(pair: str) -> tuple:
    """'fin/g10' < 'fin/g20' < 'fin/g100'."""
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", pair))


@register_table("T6", "Heuristic gap to the exact optimum and run time", order=60)
def t6(long: pd.DataFrame, ctx: Context) -> list[Path]:
    frame = heuristic_gap_table(long)
    if frame.empty:
        return ctx.skip("no heuristic records")
    heur = long[(long["kind"] == "heuristic") & (long["problem"] != "llm")]
    bounds = {relaxation_of(r, long) for r in frame["reference"]} - {None}
    used = long[long["instance_hash"].isin(heur["instance_hash"])
                & ((long["kind"] == "heuristic") | long["formulation"].isin({*frame["reference"], *bounds}))]
    caption = ctx.caption(
        "Gap of each heuristic, (heuristic - reference)/|reference| in percent on the evaluated objective, per "
        "instance set: median, 90th percentile and worst over instances, and the median run time. Reference: the "
        "exact optimum of the same instance and objective (F2 for the single-job splits, F3-latency-milp for greedy "
        "and DINA, F3-exit-select-milp for FIN, the same MILP by an exact backend for the price-and-branch colgen "
        "MILPs); where no optimum is known, the best lower bound (the LP relaxation, by the arc form or by column "
        "generation, or the best bound of a run stopped at the time limit), counted in 'vs bound': there the "
        "gap is an upper bound on the true gap. With result: instances where the heuristic returned a solution "
        "(feasible); no solution: where it ended without one (no proof of infeasibility); stopped: time or memory "
        "limit; the median time is over every run, each at its measured time. " + STATUS_NOTE,
        used,
    )
    formats = {c: fmt_pct for c in ("median gap %", "p90 gap %", "worst gap %")}
    formats["median time (s)"] = fmt_num
    return ctx.write_table("t6_heuristic_gap", frame, caption, formats)
