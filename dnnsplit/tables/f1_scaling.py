"""F1: solve time against instance size (layered-graph arcs), log-log, one line per pair.

One figure per problem class present ("single": ``f1_scaling``; "multi": ``f1_scaling_multi``),
two panels each: solve time and build + solve time. A point is an instance's median penalised
time over repeats (hollow where it was not solved: drawn at the time limit); instances of equal
size are merged by their median. Heuristic pairs are left out (their times are in T1).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pandas as pd

from dnnsplit.tables import register_table
from dnnsplit.tables._render import Context
from dnnsplit.tables._stats import per_instance

LINESTYLES = ("-", "--", ":", "-.")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def _styles(pairs: list[str]) -> dict[str, dict]:
    import matplotlib

    formulations = sorted({p.split("/", 1)[0] for p in pairs})
    backends = sorted({p.split("/", 1)[1] for p in pairs})
    cmap = matplotlib.colormaps["tab10"]
    color = {b: cmap(i % 10) for i, b in enumerate(backends)}
    form_style = {f: (LINESTYLES[i % len(LINESTYLES)], MARKERS[i % len(MARKERS)]) for i, f in enumerate(formulations)}
    return {p: {"color": color[p.split("/", 1)[1]], "linestyle": form_style[p.split("/", 1)[0]][0],
                "marker": form_style[p.split("/", 1)[0]][1]} for p in pairs}


def scaling_points(long: pd.DataFrame, problem: str) -> pd.DataFrame:
    rows = long[(long["problem"] == problem) & (long["kind"] != "heuristic") & long["size_layered_arcs"].notna()]
    if rows.empty:
        return pd.DataFrame()
    return per_instance(rows, keys=("pair",))


@register_table("F1", "Solve time against instance size", order=110)
def f1(long: pd.DataFrame, ctx: Context) -> list[Path]:
    import matplotlib.pyplot as plt

    written: list[Path] = []
    for problem, stem in (("single", "f1_scaling"), ("multi", "f1_scaling_multi")):
        pts = scaling_points(long, problem)
        if pts.empty:
            continue
        pairs = sorted(pts["pair"].unique())
        style = _styles(pairs)
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), sharey=True)
        for ax, col, title in ((axes[0], "solve", "solve time"), (axes[1], "total", "build + solve time")):
            for pair in pairs:
                g = pts[pts["pair"] == pair]
                agg = g.groupby("size_layered_arcs").agg(t=(col, "median"), solved=("solved", "all")).reset_index()
                agg = agg.sort_values("size_layered_arcs")
                x = agg["size_layered_arcs"].astype(float)
                st = style[pair]
                ax.plot(x, agg["t"], color=st["color"], linestyle=st["linestyle"], linewidth=1.2, label=pair)
                for solved, face in ((True, st["color"]), (False, "none")):
                    m = agg["solved"] == solved
                    ax.scatter(x[m], agg["t"][m], marker=st["marker"], s=22, facecolors=face, edgecolors=st["color"], linewidths=1)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("layered-graph arcs (L+1)|A| + L|N_c|")
            ax.set_title(title)
            ax.grid(True, which="both", alpha=0.3)
        axes[0].set_ylabel("seconds (median over repeats)")
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
        fig.tight_layout()
        rows = long[(long["problem"] == problem) & (long["kind"] != "heuristic")]
        caption = ctx.caption(
            "Solve time (left) and build + solve time (right) "
            f"against the number of layered-graph arcs, {problem}-job instances, one line per exact pair (colour: "
            "backend, line style: formulation); hollow markers: not solved, drawn at the time limit",
            rows,
        )
        written += ctx.save_figure(stem, fig, caption)
    if not written:
        return ctx.skip("no record of an exact pair with instance sizes")
    return written
