"""T5 and F5: energy against the accuracy target and the deadline, with and without early-exit selection.

Rows: records of the sets in ``EXIT_SETS`` (the "exits" default set: one multi-job base instance
with early exits, generated at every relative accuracy target x deadline factor) whose
formulation is in ``FORMULATIONS``: F3 with exit selection (MILP, and its LP relaxation) and
F3-energy (no exit selection: every exit inactive, the full network's accuracy). Objective:
sum_j lambda_j E[energy_j] (J/s), with every job's latency <= T_j and, with exit selection, its
expected accuracy >= A_j. The target (A_j / alpha_L) and the deadline factor (T_j / reference
latency) are the generator parameters ``accuracy_target_rel`` and ``deadline_factor``.

One table row per (target, deadline factor): for each formulation present, the energy (best
evaluated objective over its backends' optimal or feasible runs; '-' when none) and its status
(the best over backends: optimal > feasible > time limit > infeasible > other); the saving of
exit selection, (E[F3-energy-milp] - E[F3-exit-select-milp]) / E[F3-energy-milp].

F5 plots energy against the deadline factor, one colour per accuracy target; solid: exit
selection (MILP), dashed: no exit selection. Infeasible points are left out.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from dnnsplit.tables import register_table
from dnnsplit.tables._render import Context, fmt_num, fmt_pct
from dnnsplit.tables._stats import STATUS_NOTE

EXIT_SETS = ("exits",)
SELECT = "F3-exit-select-milp"
NO_EXITS = "F3-energy-milp"
FORMULATIONS = (SELECT, "F3-exit-select-lp", NO_EXITS)
TARGET_PARAM = "accuracy_target_rel"
DEADLINE_PARAM = "deadline_factor"
STATUS_RANK = ("optimal", "feasible", "time_limit", "infeasible", "no_solution", "memory_out", "error")


def _param(gen: object, name: str) -> float:
    if isinstance(gen, dict) and isinstance(gen.get("params"), dict):
        v = gen["params"].get(name)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return float(v)
    return math.nan


def exit_rows(long: pd.DataFrame) -> pd.DataFrame:
    """Records T5/F5 use, with columns target, deadline_factor and energy."""
    rows = long[long["set"].isin(EXIT_SETS) & long["formulation"].isin(FORMULATIONS)]
    rows = rows.assign(
        target=rows["generator"].map(lambda g: _param(g, TARGET_PARAM)),
        deadline_factor=rows["generator"].map(lambda g: _param(g, DEADLINE_PARAM)),
        energy=rows["evaluated_objective"].fillna(rows["objective"]),
    )
    return rows[rows["target"].notna() & rows["deadline_factor"].notna()]


def _best_status(statuses: pd.Series) -> str:
    present = set(statuses)
    for s in STATUS_RANK:
        if s in present:
            return s
    return str(statuses.iloc[0])


def energy_table(long: pd.DataFrame) -> pd.DataFrame:
    """The T5 rows with raw numbers: one per (target, deadline factor)."""
    rows = exit_rows(long)
    if rows.empty:
        return pd.DataFrame()
    present = [f for f in FORMULATIONS if (rows["formulation"] == f).any()]
    out = []
    for (target, factor), g in rows.groupby(["target", "deadline_factor"]):
        line: dict[str, object] = {"target (x alpha_L)": float(target), "deadline factor": float(factor)}
        energy: dict[str, float] = {}
        for f in present:
            h = g[g["formulation"] == f]
            ok = h[h["status"].isin(("optimal", "feasible")) & h["energy"].notna()]
            energy[f] = float(ok["energy"].min()) if not ok.empty else math.nan
            line[f"{f} (J/s)"] = energy[f]
            line[f"{f} status"] = _best_status(h["status"]) if not h.empty else "-"
        sel, base = energy.get(SELECT, math.nan), energy.get(NO_EXITS, math.nan)
        line["exit saving %"] = (base - sel) / base if base > 0 and not math.isnan(sel) else math.nan
        out.append(line)
    return pd.DataFrame(out).sort_values(["target (x alpha_L)", "deadline factor"]).reset_index(drop=True)


@register_table("T5", "Energy against accuracy target and deadline with early exits", order=50)
def t5(long: pd.DataFrame, ctx: Context) -> list[Path]:
    frame = energy_table(long)
    if frame.empty:
        return ctx.skip(f"no {'/'.join(FORMULATIONS)} record on the set(s) {', '.join(EXIT_SETS)} with a target and deadline factor")
    caption = ctx.caption(
        "Energy sum_j lambda_j E[energy_j] (J/s) of the multi-job early-exit instance at each accuracy target "
        "(x the full network's accuracy) and deadline factor (x each job's reference latency): F3 with exit "
        f"selection ({SELECT}; its LP relaxation F3-exit-select-lp) against no exit selection ({NO_EXITS}); "
        "best evaluated value over backends' optimal or feasible runs ('-' when none); status: the best over "
        "backends in the order optimal > feasible > time limit > infeasible (proven) > no solution > memory limit > "
        f"error. Exit saving: (E[{NO_EXITS}] - E[{SELECT}])/E[{NO_EXITS}]. " + STATUS_NOTE,
        exit_rows(long),
    )
    formats = {c: (lambda v: fmt_num(v, 4)) for c in frame.columns if c.endswith("(J/s)")}
    formats["exit saving %"] = fmt_pct
    return ctx.write_table("t5_energy_exits", frame, caption, formats)


@register_table("F5", "Energy against deadline per accuracy target", order=150)
def f5(long: pd.DataFrame, ctx: Context) -> list[Path]:
    import matplotlib
    import matplotlib.pyplot as plt

    frame = energy_table(long)
    if frame.empty or not any(c.startswith(f"{f} ") for c in frame.columns for f in (SELECT, NO_EXITS)):
        return ctx.skip(f"no {SELECT} or {NO_EXITS} record on the set(s) {', '.join(EXIT_SETS)}")
    cmap = matplotlib.colormaps["viridis"]
    targets = sorted(frame["target (x alpha_L)"].unique())
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    base_col = f"{NO_EXITS} (J/s)"
    # without exit selection the target plays no part: one line when every target gives the same values
    base = frame.pivot_table(index="deadline factor", columns="target (x alpha_L)", values=base_col) if base_col in frame else None
    shared = base is not None and base.notna().all().all() and bool((base.max(axis=1) - base.min(axis=1) <= 1e-9 * base.abs().max(axis=1)).all())
    if shared:
        ax.plot(base.index, base.iloc[:, 0], color="black", linestyle="--", marker="s", markersize=4,
                label="no exit selection (every target)")
    for i, target in enumerate(targets):
        g = frame[frame["target (x alpha_L)"] == target].sort_values("deadline factor")
        color = cmap(i / max(len(targets) - 1, 1) * 0.9)
        for f, ls, marker, label in ((SELECT, "-", "o", "exit selection"), (NO_EXITS, "--", "s", "no exit selection")):
            col = f"{f} (J/s)"
            if col not in g.columns or (f == NO_EXITS and shared):
                continue
            ax.plot(g["deadline factor"], g[col], color=color, linestyle=ls, marker=marker, markersize=4,
                    label=rf"$A = {target:g}\,\alpha_L$, {label}")
    ax.set_xlabel(r"deadline factor ($\times$ reference latency)")
    ax.set_ylabel(r"energy $\sum_j \lambda_j\, \mathbb{E}[E_j]$ (J/s)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    caption = ctx.caption(
        f"Energy against the deadline factor, one colour per accuracy target; solid: exit selection ({SELECT}), "
        f"dashed: no exit selection ({NO_EXITS}); points: optimal or feasible runs; infeasible, no solution, stopped (time or memory limit) and error runs are left out (their status is in T5)",
        exit_rows(long),
    )
    return ctx.save_figure("f5_energy_exits", fig, caption)
