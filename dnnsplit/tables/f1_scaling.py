"""F1: solve time against instance size (layered-graph arcs), log-log, one line per pair.

One figure per problem class present ("single": ``f1_scaling``; "multi": ``f1_scaling_multi``),
two panels each: solve time and build + solve time. A point is an instance's median charged
time over repeats (``_stats.penalised``: measured for a run that ended, the time limit for a
stopped one); hollow where it was not solved. Points are not joined: the sets are different
instance families, and a line through them in size order would read as one scaling curve.
Heuristic pairs are left out (their times are in T1).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dnnsplit.tables import register_table
from dnnsplit.tables._render import Context, time_panels
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
    written: list[Path] = []
    for problem, stem in (("single", "f1_scaling"), ("multi", "f1_scaling_multi")):
        pts = scaling_points(long, problem)
        if pts.empty:
            continue
        pairs = sorted(pts["pair"].unique())
        style = _styles(pairs)
        fig = time_panels(pts, "size_layered_arcs", pairs,
                          lambda p: (style[p]["color"], style[p]["linestyle"], style[p]["marker"]),
                          "layered-graph arcs (L+1)|A| + L|N_c|", figsize=(12, 4.8), marker_size=18, join=False)
        rows = long[(long["problem"] == problem) & (long["kind"] != "heuristic")]
        caption = ctx.caption(
            "Solve time (left) and build + solve time (right) "
            f"against the number of layered-graph arcs, {problem}-job instances, one point per instance and exact pair "
            "(median over repeats; colour: backend, marker: formulation); hollow markers: not solved (a stopped run "
            "drawn at the time limit, one that ended without a proof at its measured time)",
            rows,
        )
        written += ctx.save_figure(stem, fig, caption)
    if not written:
        return ctx.skip("no record of an exact pair with instance sizes")
    return written
