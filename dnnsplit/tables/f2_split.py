"""F2: chosen split point and latency against uplink bandwidth, one panel per measured DNN.

From the profile instances (see ``t3_profiles``): left axis, end-to-end latency (log) of the
optimum and of each simple split present; right axis, the number of layers the optimum
runs on the device, wherever in the chain (0: everything leaves the device; L: nothing does),
the same count as T3's "layers on device".
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from dnnsplit.tables import register_table
from dnnsplit.tables._render import Context
from dnnsplit.tables.t3_profiles import OPTIMAL_FORMULATION, SIMPLE_SPLITS, layers_on_source, profile_rows

COLORS = {OPTIMAL_FORMULATION: "black", "local-only": "tab:blue", "best-remote": "tab:orange", "two-way-split": "tab:green"}


@register_table("F2", "Split point and latency against bandwidth per DNN", order=120)
def f2(long: pd.DataFrame, ctx: Context) -> list[Path]:
    import matplotlib.pyplot as plt

    rows = profile_rows(long)
    rows = rows[rows["status"].isin(("optimal", "feasible")) & rows["latency"].notna()]
    opt = rows[(rows["formulation"] == OPTIMAL_FORMULATION) & (rows["status"] == "optimal")]
    if opt.empty:
        return ctx.skip(f"no optimal {OPTIMAL_FORMULATION} record on a profile instance")
    dnns = sorted(opt["dnn"].unique())
    ncols = min(4, len(dnns))
    nrows = math.ceil(len(dnns) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 2.9 * nrows), squeeze=False)
    for ax in axes.flat[len(dnns):]:
        ax.set_visible(False)
    for ax, dnn in zip(axes.flat, dnns):
        d = rows[rows["dnn"] == dnn]
        for formulation in (OPTIMAL_FORMULATION, *SIMPLE_SPLITS):
            f = d[d["formulation"] == formulation]
            if formulation == OPTIMAL_FORMULATION:
                f = f[f["status"] == "optimal"]
            if f.empty:
                continue
            best = f.groupby("bandwidth_mbps")["latency"].min().sort_index()
            label = "optimum" if formulation == OPTIMAL_FORMULATION else SIMPLE_SPLITS[formulation]
            ax.plot(best.index, 1e3 * best.to_numpy(), marker="o", markersize=3, linewidth=2 if formulation == OPTIMAL_FORMULATION else 1,
                    color=COLORS.get(formulation), label=label, linestyle="-" if formulation == OPTIMAL_FORMULATION else "--")
        o = opt[opt["dnn"] == dnn]
        chosen = o.loc[o.groupby("bandwidth_mbps")["latency"].idxmin()].sort_values("bandwidth_mbps")
        k = chosen["placement"].map(layers_on_source)
        ax2 = ax.twinx()
        ax2.step(chosen["bandwidth_mbps"], k, where="mid", color="tab:red", alpha=0.6, linewidth=1.2, label="layers on device")
        layers = max((len(p["tiers"]) for p in chosen["placement"] if isinstance(p, dict)), default=1)
        ax2.set_ylim(-0.5, layers + 0.5)
        ax2.tick_params(axis="y", labelsize=7, colors="tab:red")
        ax2.set_ylabel("layers on device", fontsize=8, color="tab:red")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"{dnn} (L={layers})", fontsize=9)
        ax.tick_params(labelsize=7)
        ax.grid(True, which="both", alpha=0.3)
    for ax in axes[:, 0]:
        ax.set_ylabel("latency (ms)", fontsize=8)
    for ax in axes[-1, :]:
        ax.set_xlabel("uplink (Mbit/s)", fontsize=8)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    handles.append(plt.Line2D([], [], color="tab:red", alpha=0.6))
    labels.append("layers on the device (right axis)")
    fig.legend(handles, labels, loc="upper center", ncol=len(labels), fontsize=8, frameon=False, bbox_to_anchor=(0.5, 1.02))
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    caption = ctx.caption(
        f"Latency of the optimal split ({OPTIMAL_FORMULATION}) and of the simple splits against the uplink "
        "bandwidth, one panel per measured DNN; red steps (right axis): layers the optimum runs on the device. Only optimal F2 runs and feasible simple-split runs are drawn",
        rows[rows["formulation"].isin([OPTIMAL_FORMULATION, *SIMPLE_SPLITS])],
    )
    return ctx.save_figure("f2_split", fig, caption)
