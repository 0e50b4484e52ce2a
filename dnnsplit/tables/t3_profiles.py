"""T3: optimal split (F2) against simple splits for the measured DNN profiles, per bandwidth.

Rows come from instances whose generator parameters name a model and an uplink bandwidth
(the "profiles" default set: ``instance_generator["model"]`` and
``instance_generator["params"]["uplink_mbps"]``, see ``BANDWIDTH_PATH``). Records are joined on
the instance hash: the optimum is the best evaluated latency of ``OPTIMAL_FORMULATION`` records
with status optimal; each simple split is the evaluated latency of the formulation named in
``SIMPLE_SPLITS`` (registered by the single-job baselines module). Whatever of these the
results hold is shown; a missing one is a '-' column. The optimal split is read from the
record's placement (tier of each layer, run-length encoded); the gain is
(best simple split - optimum) / best simple split.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from dnnsplit.tables import register_table
from dnnsplit.tables._render import Context, fmt_num, fmt_pct, is_missing

OPTIMAL_FORMULATION = "F2"
# formulation name -> column title (all on the device; all on the best remote node; best
# split between the source device and one remote node)
SIMPLE_SPLITS = {"local-only": "local-only", "best-remote": "best-remote", "two-way-split": "two-way split"}
MODEL_PATH = ("model",)
BANDWIDTH_PATH = ("params", "uplink_mbps")  # Mbit/s
OK = ("optimal", "feasible")


def _get(d: Any, path: tuple[str, ...]) -> Any:
    for k in path:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def profile_rows(long: pd.DataFrame) -> pd.DataFrame:
    """Rows of profile instances, with columns dnn and bandwidth_mbps."""
    model = long["generator"].map(lambda g: _get(g, MODEL_PATH))
    bw = pd.to_numeric(long["generator"].map(lambda g: _get(g, BANDWIDTH_PATH)), errors="coerce")
    mask = model.notna() & bw.notna() & (bw > 0)
    out = long[mask].copy()
    out["dnn"] = model[mask]
    out["bandwidth_mbps"] = bw[mask].astype(float)
    out["latency"] = out["evaluated_objective"].fillna(out["objective"])
    return out


def split_segments(placement: Any) -> list[tuple[str, int, int]]:
    """[(tier, first layer, last layer), ...] of a record's placement (1-based layers)."""
    if not isinstance(placement, dict) or not placement.get("tiers"):
        return []
    tiers = placement["tiers"]
    segs: list[tuple[str, int, int]] = []
    for i, t in enumerate(tiers, 1):
        if segs and segs[-1][0] == t:
            segs[-1] = (t, segs[-1][1], i)
        else:
            segs.append((t, i, i))
    return segs


def describe_split(placement: Any) -> str:
    segs = split_segments(placement)
    if not segs:
        return "-"
    if len(segs) == 1:
        return f"all on {segs[0][0]}"
    return " -> ".join(f"{t} {a}-{b}" if a != b else f"{t} {a}" for t, a, b in segs)


def layers_on_source(placement: Any) -> int | None:
    """How many layers run on the source node (the device), wherever they are in the chain:
    the count the split string shows ("edge 1-33 -> device 34": 1)."""
    if not isinstance(placement, dict) or "nodes" not in placement:
        return None
    return sum(1 for n in placement["nodes"] if n == placement.get("source"))


def profile_table(long: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(table with raw numbers, the profile rows it used)."""
    rows = profile_rows(long)
    opt_rows = rows[(rows["formulation"] == OPTIMAL_FORMULATION) & (rows["status"] == "optimal") & rows["latency"].notna()]
    if opt_rows.empty:
        return pd.DataFrame(), rows
    out = []
    for inst, g in opt_rows.groupby("instance_hash"):
        best = g.loc[g["latency"].idxmin()]
        line: dict[str, Any] = {
            "DNN": best["dnn"],
            "uplink (Mbit/s)": best["bandwidth_mbps"],
            "layers": int(len(best["placement"]["tiers"])) if isinstance(best["placement"], dict) else pd.NA,
            "optimum (ms)": 1e3 * float(best["latency"]),
            "optimal split": describe_split(best["placement"]),
            "layers on device": layers_on_source(best["placement"]),
        }
        simple = []
        for formulation, title in SIMPLE_SPLITS.items():
            h = rows[(rows["instance_hash"] == inst) & (rows["formulation"] == formulation) & rows["status"].isin(OK)]
            value = 1e3 * float(h["latency"].min()) if not h.empty and h["latency"].notna().any() else math.nan
            line[f"{title} (ms)"] = value
            if not math.isnan(value):
                simple.append(value)
        best_simple = min(simple) if simple else math.nan
        line["best simple (ms)"] = best_simple
        line["gain %"] = (best_simple - line["optimum (ms)"]) / best_simple if simple and best_simple > 0 else math.nan
        out.append(line)
    frame = pd.DataFrame(out).sort_values(["DNN", "uplink (Mbit/s)"]).reset_index(drop=True)
    return frame, rows


@register_table("T3", "Optimal split against simple splits on the measured DNN profiles", order=30)
def t3(long: pd.DataFrame, ctx: Context) -> list[Path]:
    frame, rows = profile_table(long)
    if frame.empty:
        return ctx.skip(f"no optimal {OPTIMAL_FORMULATION} record on a profile instance (generator with model and uplink)")
    present = [f for f in SIMPLE_SPLITS if (rows["formulation"] == f).any()]
    missing = [f for f in SIMPLE_SPLITS if f not in present]
    note = f" Simple splits missing from the results: {', '.join(missing)}." if missing else ""
    caption = ctx.caption(
        f"End-to-end latency of the optimal split ({OPTIMAL_FORMULATION}) against all on the device (local-only), "
        "all on the best remote node (best-remote) and the best two-way device/remote split, per measured DNN and "
        "uplink bandwidth; gain: (best simple - optimum)/best simple in percent; optimal split: tier of each layer range; layers on device: how many layers of the optimum run on the source device, wherever in the chain. Statuses: the optimum is that of optimal F2 runs, a simple split the best of its feasible runs (a heuristic that found no solution shows '-')."
        + note,
        rows[rows["formulation"].isin([OPTIMAL_FORMULATION, *SIMPLE_SPLITS])],
    )
    formats = {"gain %": fmt_pct, "uplink (Mbit/s)": fmt_num, "layers on device": lambda v: "-" if is_missing(v) else str(int(v))}
    return ctx.write_table("t3_profiles", frame, caption, formats)
