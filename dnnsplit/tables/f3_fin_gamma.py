"""F3: FIN's gap to the exact optimum and its run time against gamma (figure and table).

Records: formulation "fin" with a fixed-gamma backend ``g<gamma>`` (``fin/g10`` ... ``fin/g100``;
``fin/levels`` takes gamma as a solver option the records do not keep, so it is left out).
Reference per instance: as in T6 (``t6_heuristic_gap.reference_values``): the best optimal
``F3-exit-select-milp`` record (minimum energy under the deadline and the accuracy target;
capacitated, which does not bind on the single-job "fin" set), else the F3-exit-select-lp
optimum or a time-limited MILP's bound as a lower bound. Gap (H - ref)/|ref| on the evaluated
objective. FIN returns only deadline-feasible deployments; with the rounding of arc latencies
up to multiples of T/gamma it can find none ("infeasible"), which does not prove infeasibility.

Table ``f3_fin_gamma``: per gamma, instances run, with a deployment, with a reference, median
and worst gap, median run time. Figure: gap against gamma per instance (thin) and the median
(thick), left; median run time against gamma, right; log gamma axis.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from dnnsplit.results import excess
from dnnsplit.tables import register_table
from dnnsplit.tables._render import Context, fmt_num, fmt_pct
from dnnsplit.tables.t6_heuristic_gap import reference_of, reference_values

FIN = "fin"
GAMMA_BACKEND = re.compile(r"^g(\d+)$")


def fin_rows(long: pd.DataFrame) -> pd.DataFrame:
    """FIN records with a fixed gamma, with columns gamma, value, ref, ref_source and gap."""
    rows = long[(long["formulation"] == FIN) & long["backend"].str.fullmatch(GAMMA_BACKEND.pattern)]
    if rows.empty:
        return rows
    ref = reference_values(long, reference_of(FIN, long), str(rows["objective_name"].iloc[0]))
    rows = rows.assign(
        gamma=rows["backend"].map(lambda b: int(GAMMA_BACKEND.match(b).group(1))),
        value=rows["evaluated_objective"].fillna(rows["objective"]).where(rows["status"].isin(("optimal", "feasible"))),
        ref=rows["instance_hash"].map(ref["value"]) if len(ref) else math.nan,
        ref_source=rows["instance_hash"].map(ref["source"]) if len(ref) else None,
    )
    return rows.assign(gap=excess(rows["value"], rows["ref"]))


def fin_gamma_table(long: pd.DataFrame) -> pd.DataFrame:
    """One row per gamma (raw numbers)."""
    rows = fin_rows(long)
    if rows.empty:
        return pd.DataFrame()
    out = []
    for gamma, g in rows.groupby("gamma"):
        per_inst = g.groupby("instance_hash").agg(gap=("gap", "median"), time=("solve_time", "median"),
                                                   found=("value", lambda s: s.notna().any()))
        gaps = per_inst["gap"].dropna().to_numpy(dtype=float)
        out.append(
            {
                "gamma": int(gamma),
                "instances": len(per_inst),
                "deployment found": int(per_inst["found"].sum()),
                "with reference": len(gaps),
                "median gap %": float(np.median(gaps)) if len(gaps) else math.nan,
                "worst gap %": float(gaps.max()) if len(gaps) else math.nan,
                "median time (s)": float(per_inst["time"].median()),
            }
        )
    return pd.DataFrame(out).sort_values("gamma").reset_index(drop=True)


@register_table("F3", "FIN gap and run time against gamma", order=130)
def f3(long: pd.DataFrame, ctx: Context) -> list[Path]:
    import matplotlib.pyplot as plt

    frame = fin_gamma_table(long)
    if frame.empty:
        return ctx.skip("no fin/g<gamma> record")
    rows = fin_rows(long)
    used = long[(long["formulation"] == FIN) | long["formulation"].isin(("F3-exit-select-milp", "F3-exit-select-lp"))]
    used = used[used["instance_hash"].isin(rows["instance_hash"])]
    bounds = int((rows.drop_duplicates("instance_hash")["ref_source"] == "bound").sum())
    note = f" On {bounds} instance(s) the reference is a lower bound, not the optimum." if bounds else ""
    caption = ctx.caption(
        "FIN (latency-level graph, arc latencies rounded up to multiples of T/gamma) against gamma: gap to the exact "
        "minimum energy under the deadline and the accuracy target (F3-exit-select-milp, optimal) in percent, "
        "(FIN - optimum)/optimum per instance (median over repeats), then median and worst over instances; "
        "deployment found: FIN found a path within the deadline levels (status feasible; otherwise no solution, "
        "which is no proof of infeasibility); run time: median over every run, each at its measured time." + note,
        used,
    )
    paths = ctx.write_table("f3_fin_gamma", frame, caption,
                            {"median gap %": fmt_pct, "worst gap %": fmt_pct, "median time (s)": fmt_num})
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    for h, g in rows.groupby("instance_hash"):
        per = g.groupby("gamma")["gap"].median().dropna()
        a1.plot(per.index, 100 * per.to_numpy(), color="0.6", linewidth=0.8, marker=".", markersize=3)
    ok = frame[frame["median gap %"].notna()]
    a1.plot(ok["gamma"], 100 * ok["median gap %"], color="black", linewidth=2, marker="o", label="median")
    a1.plot(ok["gamma"], 100 * ok["worst gap %"], color="tab:red", linewidth=1.2, linestyle="--", marker="v", label="worst")
    none = frame[frame["deployment found"] == 0]["gamma"].tolist()
    if none:  # said in the legend, below the axes, where it hides no point
        a1.plot([], [], linestyle="none", label=f"no deployment found at gamma = {', '.join(map(str, none))}")
    a1.set(xscale="log", xlabel="gamma", ylabel="gap to the optimum (%)", title="FIN gap (grey: one instance)")
    # the legend goes below the axes: inside, it hid the worst-case point
    a1.legend(fontsize=8, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3)
    a2.plot(frame["gamma"], frame["median time (s)"], color="black", marker="o")
    a2.set(xscale="log", yscale="log", xlabel="gamma", ylabel="run time (s, median)", title="FIN run time")
    gammas = frame["gamma"].tolist()
    for ax in (a1, a2):
        ax.set_xlim(gammas[0] / 1.3, gammas[-1] * 1.3)
        ax.set_xticks(gammas, [str(g) for g in gammas])
        ax.minorticks_off() if ax is a1 else ax.set_xticks([], minor=True)
        ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    return paths + ctx.save_figure("f3_fin_gamma", fig, caption)
