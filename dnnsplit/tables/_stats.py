"""Statistics the tables share: solved, penalised time, medians, shifted geometric mean, speed-ups.

Conventions (written in paper_tables/README.md):

- statuses, SCIP-style: optimal, infeasible (proven), no solution (a heuristic ended without
  one), time limit, memory limit (``memory_out``), error; feasible is a heuristic's answer (or an
  exact run's incumbent without proof);
- solved: status "optimal", or "infeasible" for an exact pair (a proof), or "feasible" or
  "optimal" for a heuristic pair (kind "heuristic");
- charged time: the measured time of every run that ended (solved, infeasible, no solution,
  error), the time limit for a run that was stopped (time limit, memory limit), or the measured
  time where no limit is recorded;
- per instance, repeats are summarised by their median (time) and relative spread
  (max - min) / median; an instance counts as solved when every repeat was;
- shifted geometric mean with shift s = 10 s: exp(mean(log(t + s))) - s;
- speed-up of pair P over baseline B: geometric mean over the instances both ran of
  t_B / t_P, times floored at 1 microsecond (timer resolution).
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np
import pandas as pd

SHIFT = 10.0
TIME_FLOOR = 1e-6


def shifted_geomean(values: Iterable[float], shift: float = SHIFT) -> float:
    v = np.asarray(list(values), dtype=float)
    if v.size == 0:
        return math.nan
    return float(np.exp(np.mean(np.log(v + shift))) - shift)


def geomean(values: Iterable[float]) -> float:
    v = np.asarray(list(values), dtype=float)
    if v.size == 0:
        return math.nan
    return float(np.exp(np.mean(np.log(v))))


STOPPED = ("time_limit", "memory_out")  # runs charged at the time limit
STATUS_COLUMNS = {"optimal": "optimal", "feasible": "feasible", "infeasible": "infeasible",
                  "no_solution": "no solution", "time_limit": "time limit", "memory_out": "memory limit",
                  "error": "error"}
STATUS_NOTE = ("Statuses: optimal; feasible (a heuristic's answer, or an incumbent without proof); infeasible "
               "(proven); no solution (a heuristic ended without one: no proof); time limit and memory limit (the "
               "run was stopped); error.")


def solved_mask(df: pd.DataFrame) -> pd.Series:
    heuristic = df["kind"] == "heuristic"
    return ((df["status"] == "optimal") | (~heuristic & (df["status"] == "infeasible"))
            | (heuristic & (df["status"] == "feasible")))


def penalised(df: pd.DataFrame, column: str = "solve_time") -> pd.Series:
    """``column`` for runs that ended, the time limit (where known) for stopped ones."""
    stopped = df["status"].isin(STOPPED)
    value = df[column].astype(float)
    limit = df["time_limit"].astype(float)
    out = value.where(~stopped | limit.isna(), limit)
    return out.fillna(limit)


def status_counts(df: pd.DataFrame) -> dict[str, int]:
    """Instances per status (an instance's status: that of its first repeat), zeros included."""
    first = df.sort_values("repeat").drop_duplicates("instance_hash")
    counts = first["status"].value_counts()
    return {title: int(counts.get(status, 0)) for status, title in STATUS_COLUMNS.items()}


def status_text(df: pd.DataFrame) -> str:
    """'5 optimal, 1 infeasible, 1 time limit': the non-zero counts of ``status_counts``."""
    return ", ".join(f"{n} {title}" for title, n in status_counts(df).items() if n)


def per_instance(df: pd.DataFrame, keys: tuple[str, ...] = ("set", "pair")) -> pd.DataFrame:
    """One row per (keys..., instance): median penalised solve/build/total time over repeats."""
    work = df.assign(
        _solved=solved_mask(df),
        _solve=penalised(df, "solve_time"),
        _build=df["build_time"].astype(float),
    )
    work["_total"] = work["_solve"] + work["_build"].where(work["_solved"], 0.0)
    group_keys = [*keys, "instance_hash"]
    rows = []
    for key, g in work.groupby(group_keys, sort=False, dropna=False):
        t = g["_solve"].to_numpy(dtype=float)
        med = float(np.median(t))
        spread = float((t.max() - t.min()) / med) if len(t) > 1 and med > 0 else math.nan
        rows.append(
            {
                **dict(zip(group_keys, key)),
                "instance_id": g["instance_id"].iloc[0],
                "size_layered_arcs": g["size_layered_arcs"].iloc[0],
                "repeats": len(g),
                "solved": bool(g["_solved"].all()),
                "solve": med,
                "build": float(np.median(g["_build"].to_numpy(dtype=float))),
                "total": float(np.median(g["_total"].to_numpy(dtype=float))),
                "spread": spread,
            }
        )
    return pd.DataFrame(rows)


def speedup(base: pd.Series, other: pd.Series) -> tuple[float, int]:
    """Geometric mean of base/other over the common index, and how many instances that was."""
    common = base.index.intersection(other.index)
    if len(common) == 0:
        return math.nan, 0
    b = np.maximum(base.loc[common].to_numpy(dtype=float), TIME_FLOOR)
    o = np.maximum(other.loc[common].to_numpy(dtype=float), TIME_FLOOR)
    return geomean(b / o), len(common)
