"""T1: solve time per instance set for every pair, with solved counts and speed-up over F1-weak.

Per (set, pair): instances run, instances solved (every repeat solved), median and shifted
geometric mean (shift 10 s) of the per-instance median penalised solve time, median build
time, the repeat spread (median over instances of (max - min) / median across repeats), and the
speed-up over the baseline formulation ``BASELINE`` on the same backend where that pair ran,
else on ``FALLBACK_BACKEND``: the geometric mean over common instances of t_base / t_pair, for
solve time and for build + solve (not for heuristic pairs, which solve a different problem).
Statistics as in ``_stats``.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from dnnsplit.tables import register_table
from dnnsplit.tables._render import Context, fmt_num, fmt_pct, fmt_ratio, set_sort_key
from dnnsplit.tables._stats import SHIFT, STATUS_NOTE, per_instance, shifted_geomean, speedup, status_text

BASELINE = "F1-weak"
FALLBACK_BACKEND = "highspy"


def baseline_pair(pair: str, pairs: set[str]) -> str | None:
    """F1-weak on the pair's backend if present, else F1-weak/highspy if present."""
    backend = pair.split("/", 1)[1]
    for candidate in (f"{BASELINE}/{backend}", f"{BASELINE}/{FALLBACK_BACKEND}"):
        if candidate in pairs:
            return candidate
    return None


def solve_time_table(long: pd.DataFrame) -> pd.DataFrame:
    """The T1 rows with raw numbers (tests check them against an independent computation)."""
    pi = per_instance(long)
    meta = long.drop_duplicates("pair").set_index("pair")
    runs = {key: g for key, g in long.groupby(["set", "pair"])}
    rows = []
    for set_name in sorted(pi["set"].unique(), key=set_sort_key):
        in_set = pi[pi["set"] == set_name]
        pairs = set(in_set["pair"])
        by_pair = {p: g.set_index("instance_hash") for p, g in in_set.groupby("pair")}
        for pair in sorted(pairs):
            g = by_pair[pair]
            base = baseline_pair(pair, pairs) if meta.loc[pair, "kind"] != "heuristic" else None
            s_up = t_up = math.nan
            common = 0
            if base is not None:
                s_up, common = speedup(by_pair[base]["solve"], g["solve"])
                t_up, _ = speedup(by_pair[base]["total"], g["total"])
            rows.append(
                {
                    "set": set_name,
                    "pair": pair,
                    "kind": meta.loc[pair, "kind"],
                    "instances": len(g),
                    "solved": int(g["solved"].sum()),
                    "statuses": status_text(runs[(set_name, pair)]),
                    "repeats": int(g["repeats"].max()),
                    "median solve (s)": float(g["solve"].median()),
                    f"sgm{SHIFT:g} solve (s)": shifted_geomean(g["solve"], SHIFT),
                    "median build (s)": float(g["build"].median()),
                    "repeat spread": float(g["spread"].median()) if g["spread"].notna().any() else math.nan,
                    "speed-up solve": s_up,
                    "speed-up build+solve": t_up,
                    "baseline": f"{base} ({common} inst.)" if base is not None else "-",
                }
            )
    return pd.DataFrame(rows)


@register_table("T1", "Solve time per instance set and pair", order=10)
def t1(long: pd.DataFrame, ctx: Context) -> list[Path]:
    if long.empty:
        return ctx.skip("no records")
    frame = solve_time_table(long)
    formats = {
        "solved": lambda v: str(int(v)),
        "repeat spread": lambda v: "-" if pd.isna(v) else f"{fmt_pct(v, 0)} %",
        "speed-up solve": fmt_ratio,
        "speed-up build+solve": fmt_ratio,
        "median solve (s)": fmt_num,
    }
    caption = ctx.caption(
        "Solve time per instance set and (formulation/backend) pair: median and shifted geometric mean "
        f"(shift {SHIFT:g} s) over instances of the per-instance median over repeats; a run that ended counts with "
        "its measured time whatever its status (optimal, infeasible, no solution, error), a stopped run (time limit, "
        f"memory limit) at the time limit. Solved: instances solved in every repeat (optimal; infeasible, proven by "
        f"an exact pair; feasible for a heuristic); the status columns count instances by their first repeat's "
        f"status. {STATUS_NOTE} Speed-up: geometric mean over common instances of "
        f"the {BASELINE} time (same backend where it ran, else {BASELINE}/{FALLBACK_BACKEND}) over the pair's time "
        f"(exact pairs only; a lower bound where {BASELINE} hit the time limit). "
        "Repeat spread: median over instances of (max - min)/median across repeats",
        long,
    )
    return ctx.write_table("t1_solve_time", frame, caption, formats)
