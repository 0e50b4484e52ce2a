"""T8 and F7: LLM pipeline placement (F5) -- formulations, Helix's own model and heuristics.

Records of problem "llm" (objective: throughput, tokens/s, maximised). Per instance, the
reference is the best known optimum: the largest evaluated objective of an exact record with
status optimal (F5-flow on any backend); where no record proved one, the best incumbent and the
least bound of the exact records are shown instead (and gaps are measured against the least
bound, an over-statement).

T8 (``t8_llm``), one row per (instance, exact pair, time limit): status, incumbent, bound and
the suite's gap |incumbent - bound| / incumbent (``dnnsplit.results.relative_gap``), the
incumbent's distance below the reference (reference - incumbent) / reference, the LP relaxation
and its gap (LP - reference) / reference (the LP-relaxation gap of a maximisation, as T2 gives it
for F1's minimisation), and the wall time of the whole call. T8 heuristics
(``t8_llm_heuristics``): each heuristic's throughput, its gap below the reference, its
pipelines' mean latency per token where the record has it, and its run time.

F7 (``f7_llm``): per instance, each exact pair's incumbent (filled) and bound (hollow) and
each heuristic's throughput, relative to the reference, log scale; the published case first.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from dnnsplit.results import relative_gap
from dnnsplit.tables import register_table
from dnnsplit.tables._render import Context, fmt_num, fmt_pct

PAIR_ORDER = ("F5-flow", "F5-flow-nodes", "F5-flow-plain", "F5-helix", "F5-helix-lpfile")
SET_ORDER = ("llm-helix", "llm")
FLOOR = 1e-3  # relative values below this are drawn at it (log scale)


def fmt_gap(v: object) -> str:
    """A fraction as a percentage; above 10^6 % (an incumbent near 0) as '> 1e6'."""
    if isinstance(v, (int, float)) and not math.isnan(v) and v > 1e4:
        return "> 1e6"
    return fmt_pct(v)


def _value(rows: pd.DataFrame) -> pd.Series:
    return rows["evaluated_objective"].fillna(rows["objective"])


def references(llm: pd.DataFrame) -> pd.DataFrame:
    """Per instance hash: ``value`` and ``source`` ("optimum", or "bound" where none is proven)."""
    exact = llm[llm["kind"] != "heuristic"]
    opt = exact[exact["status"] == "optimal"]
    best = _value(opt).groupby(opt["instance_hash"]).max()
    out = pd.DataFrame({"value": best, "source": "optimum"})
    bounds = exact[exact["bound"].notna()].groupby("instance_hash")["bound"].min()
    extra = bounds[~bounds.index.isin(best.index)]
    if len(extra):
        out = pd.concat([out, pd.DataFrame({"value": extra, "source": "bound"})])
    return out


def _order(frame: pd.DataFrame) -> pd.DataFrame:
    def pair_rank(pair: str) -> tuple[int, str]:
        f = pair.split("/", 1)[0]
        return (PAIR_ORDER.index(f) if f in PAIR_ORDER else len(PAIR_ORDER), pair)

    frame = frame.assign(_s=frame["set"].map(lambda s: SET_ORDER.index(s) if s in SET_ORDER else len(SET_ORDER)),
                         _p=frame["pair"].map(pair_rank))
    return frame.sort_values(["_s", "instance", "_p", "limit (s)"]).drop(columns=["_s", "_p"]).reset_index(drop=True)


def exact_table(long: pd.DataFrame) -> pd.DataFrame:
    llm = long[long["problem"] == "llm"]
    rows = llm[llm["kind"] != "heuristic"]
    if rows.empty:
        return pd.DataFrame()
    ref = references(llm)
    out = []
    for (set_name, h, pair, limit), g in rows.groupby(["set", "instance_hash", "pair", "time_limit"], dropna=False):
        r = g.iloc[0] if len(g) == 1 else g.sort_values("repeat").iloc[0]
        value = r["evaluated_objective"] if pd.notna(r["evaluated_objective"]) else r["objective"]
        reference = float(ref.loc[h, "value"]) if h in ref.index else math.nan
        lp = r["lp_relaxation"]
        out.append({
            "set": set_name, "instance": r["instance_id"], "nodes": r["size_nodes"], "pair": pair, "limit (s)": limit,
            "status": r["status"], "incumbent": value, "bound": r["bound"],
            "gap %": relative_gap(None if pd.isna(value) else float(value), None if pd.isna(r["bound"]) else float(r["bound"])),
            "below best %": (reference - value) / reference if pd.notna(value) and reference > 0 else math.nan,
            "LP relaxation": lp,
            "LP gap %": (lp - reference) / reference if pd.notna(lp) and reference > 0 else math.nan,
            "reference": ref.loc[h, "source"] if h in ref.index else "-",
            "time (s)": r["wall_time"],
        })
    return _order(pd.DataFrame(out))


def heuristic_table(long: pd.DataFrame) -> pd.DataFrame:
    llm = long[long["problem"] == "llm"]
    rows = llm[llm["kind"] == "heuristic"]
    if rows.empty:
        return pd.DataFrame()
    ref = references(llm)
    out = []
    for (set_name, h, pair), g in rows.groupby(["set", "instance_hash", "pair"]):
        r = g.sort_values("repeat").iloc[0]
        value = r["evaluated_objective"] if pd.notna(r["evaluated_objective"]) else r["objective"]
        reference = float(ref.loc[h, "value"]) if h in ref.index else math.nan
        out.append({
            "set": set_name, "instance": r["instance_id"], "nodes": r["size_nodes"], "pair": pair,
            "limit (s)": r["time_limit"], "status": r["status"], "throughput": value,
            "below best %": (reference - value) / reference if pd.notna(value) and reference > 0 else math.nan,
            "reference": ref.loc[h, "source"] if h in ref.index else "-",
            "time (s)": r["wall_time"],
        })
    return _order(pd.DataFrame(out))


@register_table("T8", "LLM pipeline placement: F5-flow, Helix's MILP and its LP file, heuristics", order=80)
def t8(long: pd.DataFrame, ctx: Context) -> list[Path]:
    exact, heur = exact_table(long), heuristic_table(long)
    if exact.empty and heur.empty:
        return ctx.skip("no LLM (problem llm) records")
    written: list[Path] = []
    used = long[long["problem"] == "llm"]
    nums = {c: fmt_num for c in ("incumbent", "bound", "LP relaxation", "throughput", "time (s)")}
    pct = {c: fmt_gap for c in ("gap %", "below best %", "LP gap %")}
    if not exact.empty:
        caption = ctx.caption(
            "LLM pipeline placement (throughput in tokens/s, maximised): per instance, exact pair and time limit, the "
            "status, the incumbent (evaluated by the LLM evaluator), the proven upper bound and the gap "
            "|incumbent - bound| / incumbent ('> 1e6': an incumbent near 0); below best: (reference - incumbent) / reference, the reference being "
            "the best proven optimum of the instance (F5-flow), else the least bound ('bound'); the LP relaxation and "
            "its gap (LP - reference) / reference; the wall time of the whole call (LP relaxation, then the MILP in "
            "the time left). F5-helix: the literature's MILP reconstructed from Helix; F5-helix-lpfile: Helix's own "
            "LP file of the published case; one thread",
            used[used["kind"] != "heuristic"])
        written += ctx.write_table("t8_llm", exact, caption, {**nums, **pct})
    if not heur.empty:
        caption = ctx.caption(
            "LLM pipeline placement, heuristics: throughput (tokens/s, evaluated) of the single best pipeline "
            "(bottleneck search), Petals-style span selection (greedy; with rebalancing; aligned spans) and the "
            "PipeEdge-style DP, and the gap below the reference (the best proven optimum, F5-flow; else the least "
            "bound)", used[used["kind"] == "heuristic"])
        written += ctx.write_table("t8_llm_heuristics", heur, caption, {**nums, **pct})
    return written


@register_table("F7", "LLM placement: what each method finds and proves, relative to the optimum", order=170)
def f7(long: pd.DataFrame, ctx: Context) -> list[Path]:
    import matplotlib.pyplot as plt

    llm = long[long["problem"] == "llm"]
    if llm.empty:
        return ctx.skip("no LLM (problem llm) records")
    ref = references(llm)
    llm = llm[llm["instance_hash"].isin(ref.index)]
    if llm.empty:
        return ctx.skip("no LLM instance with a reference value")
    inst = (llm.drop_duplicates("instance_hash")
            .assign(_s=lambda d: d["set"].map(lambda s: SET_ORDER.index(s) if s in SET_ORDER else 9))
            .sort_values(["_s", "instance_id"]))
    x = {h: i for i, h in enumerate(inst["instance_hash"])}
    pairs = sorted(llm["pair"].unique(), key=lambda p: (p.split("/")[0] not in PAIR_ORDER,
                                                        PAIR_ORDER.index(p.split("/")[0]) if p.split("/")[0] in PAIR_ORDER else 0, p))
    limits = sorted(llm["time_limit"].dropna().unique())
    cmap = plt.get_cmap("tab20")
    fig, ax = plt.subplots(figsize=(max(8.0, 1.3 * len(x)), 5.2))
    width = 0.8 / max(len(pairs), 1)
    for k, pair in enumerate(pairs):
        rows = llm[llm["pair"] == pair]
        color = cmap(k % 20)
        for limit in limits if rows["kind"].iloc[0] != "heuristic" else [None]:
            sel = rows if limit is None else rows[rows["time_limit"] == limit]
            if sel.empty:
                continue
            shift = (k - len(pairs) / 2) * width + (0.0 if limit is None or limit == limits[0] else width / 3)
            xs = np.array([x[h] for h in sel["instance_hash"]]) + shift
            refs = np.array([float(ref.loc[h, "value"]) for h in sel["instance_hash"]])
            value = np.clip(_value(sel).to_numpy(dtype=float) / refs, FLOOR, None)
            marker = "o" if limit is None or limit == limits[0] else "s"
            label = pair if limit is None else f"{pair} ({limit:g} s)"
            ax.scatter(xs, np.nan_to_num(value, nan=FLOOR), color=color, marker=marker, s=28, label=label, zorder=3)
            if sel["kind"].iloc[0] != "heuristic":
                bound = sel["bound"].to_numpy(dtype=float) / refs
                ok = np.isfinite(bound)
                ax.scatter(xs[ok], bound[ok], facecolors="none", edgecolors=[color], marker=marker, s=40, zorder=3)
    ax.set_yscale("log")
    ax.axhline(1.0, color="0.4", linewidth=0.8)
    ax.set_xticks(range(len(x)))
    ax.set_xticklabels([n.replace("llm-", "").replace("-llama", "\nllama") for n in inst["instance_id"]], fontsize=7)
    ax.set_ylabel("value / best known optimum (log)")
    ax.set_title("F5: incumbent (filled) and bound (hollow) of each exact pair, throughput of each heuristic")
    ax.legend(fontsize=6, ncol=3, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    caption = ctx.caption(
        "LLM pipeline placement: per instance, each exact pair's incumbent (filled) and proven upper bound (hollow) "
        "and each heuristic's throughput, divided by the instance's best known optimum (F5-flow's proven optimum, "
        "else the least bound), log scale; circles: the shorter time limit, squares: the longer one; values below "
        f"{FLOOR:g} drawn at {FLOOR:g}", llm)
    return ctx.save_figure("f7_llm", fig, caption)
