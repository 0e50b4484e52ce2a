"""LP-relaxation gap of each formulation, (objective - LP relaxation) / |objective|.

Rows with status optimal and both an objective and an LP-relaxation value. Per instance the
gap is the median over the formulation's backends and repeats (the LP value is a property of
the formulation; backends should agree); per (set, formulation) the table gives the mean,
median and maximum over instances and how many LP optima were integral (``lp_integral``).
A ``...-milp`` record without an LP value (the F3 arc-form MILPs) takes the optimum of its
splittable ``...-lp`` sibling on the same instance: the same constraints with continuous flows,
i.e. its LP relaxation (the least optimal value over backends and repeats), and that LP's
integrality.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dnnsplit.results import excess
from dnnsplit.tables import register_table
from dnnsplit.tables._render import Context, fmt_pct, set_sort_key


def with_sibling_lp(long: pd.DataFrame) -> pd.DataFrame:
    """Fill ``lp_relaxation`` of MILP records from optimal records of their registered
    ``relaxation`` (the splittable X-lp of an X-milp) on the same instance."""
    lp = long[(long["status"] == "optimal") & long["objective"].notna() & long["formulation"].str.endswith("-lp")]
    if lp.empty:
        return long
    best = lp.groupby(["formulation", "instance_hash"])["objective"].min()
    missing = long["lp_relaxation"].isna() & long["relaxation"].notna()
    if not missing.any():
        return long
    integral = lp.groupby(["formulation", "instance_hash"])["lp_integral"].agg(
        lambda v: bool(v.dropna().all()) if v.notna().any() else None)
    keys = list(zip(long.loc[missing, "relaxation"], long.loc[missing, "instance_hash"]))
    out = long.copy()
    out["lp_integral"] = out["lp_integral"].astype(object)
    out.loc[missing, "lp_relaxation"] = [float(best.get(k, float("nan"))) for k in keys]
    out.loc[missing, "lp_integral"] = pd.Series([integral.get(k) for k in keys], index=out.index[missing], dtype=object)
    return out


def lp_gap_table(long: pd.DataFrame) -> pd.DataFrame:
    long = with_sibling_lp(long)
    rows = long[(long["status"] == "optimal") & long["objective"].notna() & long["lp_relaxation"].notna()
                & (long["problem"] != "llm")]  # LLM throughput is maximised: its LP gaps are in T8
    if rows.empty:
        return pd.DataFrame()
    rows = rows.assign(_gap=-excess(rows["lp_relaxation"], rows["objective"]))  # (objective - LP) / |objective|
    out = []
    for (set_name, formulation), g in rows.groupby(["set", "formulation"]):
        per_inst = g.groupby("instance_hash")["_gap"].median()
        integral = g.groupby("instance_hash")["lp_integral"].agg(lambda s: s.dropna().all() if s.notna().any() else None)
        known = integral.dropna()
        out.append(
            {
                "set": set_name,
                "formulation": formulation,
                "backends": ", ".join(sorted(g["backend"].unique())),
                "instances": len(per_inst),
                "mean gap %": float(per_inst.mean()),
                "median gap %": float(per_inst.median()),
                "max gap %": float(per_inst.max()),
                "LP integral": f"{int(known.sum())}/{len(known)}" if len(known) else "-",
            }
        )
    frame = pd.DataFrame(out)
    frame["_o"] = frame["set"].map(set_sort_key)
    return frame.sort_values(["_o", "formulation"]).drop(columns="_o").reset_index(drop=True)


@register_table("T2", "LP-relaxation gap per formulation", order=20)
def t2(long: pd.DataFrame, ctx: Context) -> list[Path]:
    frame = lp_gap_table(long)
    if frame.empty:
        return ctx.skip("no optimal record with an LP-relaxation value")
    filled = with_sibling_lp(long)
    used = filled[filled["lp_relaxation"].notna() & (filled["status"] == "optimal") & (filled["problem"] != "llm")]
    caption = ctx.caption(
        "LP-relaxation gap (objective - LP relaxation)/|objective| in percent, per instance set and formulation "
        "(per instance: median over backends and repeats; then mean, median and maximum over instances). "
        "LP integral: instances whose LP optimum was integral / instances where that is known. "
        "F3 arc-form MILPs: LP relaxation = optimum of the splittable -lp variant on the same instance. Only optimal "
        "runs count (a gap needs the optimum); infeasible, no solution, stopped (time or memory limit) and error runs "
        "are left out",
        used,
    )
    pct = {c: fmt_pct for c in ("mean gap %", "median gap %", "max gap %")}
    return ctx.write_table("t2_lp_gap", frame, caption, pct)
