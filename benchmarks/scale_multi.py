"""F3 at scale: column generation (path form) against the arc form, splittable latency LP.

Standalone script (not collected by pytest)::

    .venv/bin/python benchmarks/scale_multi.py --out scale_multi.json          # full, ~30 min
    .venv/bin/python benchmarks/scale_multi.py --quick --out /tmp/q.json       # ~2 min

Problem: ``F3-latency-lp`` (rate-weighted mean latency, splittable flows, node and link
capacities C1/C2 with kappa = 0.9), DESIGN.md section 3, F3.

Instances (``instance``): ``instances.generate.generate("erdos_renyi", seed=1, nodes=100,
layers=50, jobs=J, rate_range=[1, 4] x sqrt(1000 / J))``: one 100-node network (1036 links,
85 compute nodes) and 50-layer synthetic chains; J jobs with random device sources. At J = 1000
the rates are U[1, 4] /s; smaller J get proportionally higher rates (factor sqrt(1000/J)) so
that capacities bind at every size (the record keeps colgen's iteration count and the number of
resources at the cap as evidence) while the instance stays feasible (with the full factor
1000/J, i.e. the same total load, J <= 100 is infeasible).

Part 1 (``target``), J = 1000 (57 M layered arcs):
- ``F3-latency-lp/colgen`` with ``mip_gap`` = 0.01 (stop at a proven 1 % Lagrangian gap) and
  with the default tolerance 1e-4: wall time, CG iterations, columns, proven gap, master and
  pricing time;
- the arc form ``F3-latency-lp/highspy``: its size (columns, rows, nonzeros: computed exactly
  from the layered graphs without building it) and a memory estimate from the peak RSS measured
  on the sweep sizes (least-squares lines in layered arcs, for the build alone and for build +
  solve), then one attempt in a child process that the parent kills when its resident memory
  passes ``--rss-limit-gib`` (default 16 GiB; the address-space limit ``--mem-limit-gib``, default
  32 GiB on top of the child after generating the instance, is only a backstop: HiGHS's address
  space runs several GiB above its resident memory), so the machine's memory is never exhausted;
  the record says how it ended. Children run in the suite's one harness
  (``dnnsplit.campaign.child``).

Part 2 (``sweep``): J in ``--jobs`` (default 10 30 100 200 300) on the same network and shape: the
arc form (HiGHS default LP algorithm: dual simplex; IPM with crossover was 30x slower on J = 30)
with ``--arc-time-limit`` (default 600 s), colgen with mip_gap 1e-4 (near-exact, the fair
comparison with the exact arc LP) and with 0.01. Once the arc form fails (time limit, memory)
larger J are not tried with it; then ``--bisect`` extra sizes (default 1, geometric midpoints)
narrow down the largest J the arc form solves within the limit. Every solver run is a child
process (fresh memory; its peak RSS is recorded; the same memory limits; a hard kill at time
limit + 300 s).
Objectives are cross-checked: the arc optimum must lie in colgen's [proven bound, value].

Output: JSON (``--out``) with the machine (``dnnsplit.machine.describe``), parameters and every
record; a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

FAMILY, SEED, NODES, LAYERS = "erdos_renyi", 1, 100, 50
TARGET_JOBS = 1000
RATE = (1.0, 4.0)
FORMULATION = "F3-latency-lp"
HEADROOM_S = 300.0  # a child is killed at its time limit plus this (build, decomposition)
GIB = 2**30


def instance(jobs: int) -> Any:
    from instances.generate import generate

    f = math.sqrt(TARGET_JOBS / jobs)
    return generate(FAMILY, seed=SEED, nodes=NODES, layers=LAYERS, jobs=jobs,
                    rate_range=[RATE[0] * f, RATE[1] * f])


# ----------------------------------------------------------------------------- child process


def measured(task: dict, stage: Any) -> dict:
    """In the child (``dnnsplit.campaign.child``): generate the instance, then the measured solve
    (or the arc form's build alone); returns a JSON-ready record."""
    from dnnsplit import catalogue
    from dnnsplit.options import SolverOptions
    from instances.evaluate import evaluate

    backend, jobs, time_limit, mip_gap = task["backend"], task["jobs"], task["time_limit"], task["mip_gap"]
    rec: dict[str, Any] = {"backend": backend, "jobs": jobs, "time_limit": time_limit, "mip_gap": mip_gap,
                           "mem_limit_gib": task["mem_gib"]}
    t0 = time.perf_counter()
    inst = instance(jobs)
    rec.update(instance=inst.name, layered_arcs=inst.sizes["layered_arcs"], generate_s=time.perf_counter() - t0)
    stage("ready")
    if backend == "build":  # the arc form's arrays and sparse model only, no solver
        from formulations.f3.arc import build_arrays
        from formulations.f3.model import VARIANTS, F3Data

        t1 = time.perf_counter()
        model = build_arrays(F3Data(inst, VARIANTS[FORMULATION]))[0].build()
        rec.update(status="built", build=time.perf_counter() - t1, n_cols=model.num_cols,
                   n_rows=model.num_rows, nnz=int(model.A.nnz))
        return rec
    opts = SolverOptions(time_limit=time_limit, mip_gap=mip_gap) if backend == "colgen" else SolverOptions(time_limit=time_limit)
    try:
        r = catalogue.run(catalogue.get(FORMULATION, backend), inst, opts)
    except MemoryError as exc:
        rec.update(status="memory_out", message=f"MemoryError {exc!s:.200}")
        return rec
    e = r.extra
    rec.update(status=r.status.value, objective=r.objective, bound=r.bound, gap=r.gap,
               wall=r.wall_time, build=r.build_time, solve=r.solve_time, iterations=r.iterations,
               message=r.message)
    if backend == "colgen":
        rec.update(cg_iterations=e.get("cg_iterations"), columns=e.get("columns"),
                   master_time=e.get("master_time"), pricing_time=e.get("pricing_time"),
                   cg_gap=e.get("cg_gap"), bound_history=e.get("bound_history"))
    else:
        rec.update(n_cols=e.get("n_cols"), n_rows=e.get("n_rows"), nnz=e.get("nnz"))
    if r.decision is not None:
        ev = evaluate(inst, r.decision)
        kappa = inst.utilisation_cap
        bw = inst.network.bandwidth
        rec["nodes_at_cap"] = int(np.sum(ev.node_load >= kappa * (1 - 1e-6)))
        rec["links_at_cap"] = int(np.sum(ev.link_load / bw >= kappa * (1 - 1e-6)))
        rec["evaluated_objective"] = r.evaluated_objective
    return rec


RSS_LIMIT_GIB = 16.0  # the parent kills a child whose resident memory passes this (--rss-limit-gib)


def run_child(backend: str, jobs: int, time_limit: float, mip_gap: float | None = None,
              mem_gib: float | None = None) -> dict:
    """Run :func:`measured` in a fresh interpreter through the suite's one child harness
    (``dnnsplit.campaign.child``): the address space may grow by ``mem_gib`` after the instance is
    generated (a backstop), the parent kills it when its resident memory passes RSS_LIMIT_GIB (the
    real memory limit: address space overstates use) or at time limit + HEADROOM_S. Peak memory is
    the harness's: the resident high-water mark from the start of the measured work. A crash or a
    kill becomes a record too."""
    import multiprocessing as mp

    from dnnsplit.campaign.child import Limits, classify_exit, run_in_child

    base = {"backend": backend, "jobs": jobs, "time_limit": time_limit, "mem_limit_gib": mem_gib,
            "rss_limit_gib": RSS_LIMIT_GIB}
    task = {"backend": backend, "jobs": jobs, "time_limit": time_limit, "mip_gap": mip_gap, "mem_gib": mem_gib}
    limits = Limits(wall=time_limit + HEADROOM_S, address_space=None if mem_gib is None else int(mem_gib * GIB),
                    resident=int(RSS_LIMIT_GIB * GIB), ready_timeout=HEADROOM_S)
    with tempfile.TemporaryDirectory(prefix="scale_multi_") as tmp:
        out = run_in_child(mp.get_context("spawn"), measured, task, limits, Path(tmp))
    peak = max(out.peak_rss or 0, out.sampled_peak_rss or 0) / GIB
    if out.value is not None:
        return {**out.value, "child_wall": out.wall, "peak_rss_gib": peak}
    if out.killed == "memory":
        return {**base, "status": "memory_out", "child_wall": out.wall, "peak_rss_gib": peak,
                "message": f"killed: resident memory passed {RSS_LIMIT_GIB:g} GiB"}
    if out.killed == "time":
        return {**base, "status": "killed", "child_wall": out.wall, "peak_rss_gib": peak,
                "message": f"killed after {time_limit + HEADROOM_S:.0f} s"}
    if out.failure is not None:
        return {**base, **out.failure, "child_wall": out.wall, "peak_rss_gib": peak}
    status, message = classify_exit(out.exitcode, out.killed is not None, out.log)
    return {**base, "status": "memory_out" if status == "memory_out" else "crashed", "returncode": out.exitcode,
            "child_wall": out.wall, "peak_rss_gib": peak, "message": message}


# ----------------------------------------------------------------------------- sizes, memory model


def arc_sizes(jobs: int) -> dict:
    """Exact size of the arc form without building it (``formulations/f3/arc.py``: one layered graph per job,
    F3.1 two entries per arc + one per y; F3.2 one per job; C1/C2 one per arc with a load)."""
    from formulations.f3.model import VARIANTS, F3Data

    variant = VARIANTS[FORMULATION]
    d = F3Data(instance(jobs), variant)
    cols = rows = nnz = 0
    for opts in d.options:
        for t in opts:
            cols += t.num_arcs + 1  # f per arc, y per configuration
            rows += t.num_vertices  # F3.1
            nnz += 2 * t.num_arcs + 2 + 1 + t.R.nnz  # F3.1 (arcs, y), F3.2 (y), C1/C2 loads
    net = d.instance.network
    rows += jobs + len(net.compute_nodes) + net.num_links  # F3.2, C1, C2
    return {"jobs": jobs, "n_cols": cols, "n_rows": rows, "nnz": nnz}


def fit_memory(points: list[tuple[int, float]], arcs: int) -> dict | None:
    """Least-squares line peak_rss = a + b x layered_arcs over the solved sweep sizes."""
    if len(points) < 2:
        return None
    x = np.array([p[0] for p in points], float)
    y = np.array([p[1] for p in points], float)
    b, a = np.polyfit(x, y, 1)
    return {"intercept_gib": float(a), "bytes_per_arc": float(b * GIB), "points": points,
            "predicted_gib": float(a + b * arcs)}


# ----------------------------------------------------------------------------- parts


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def sweep(jobs_list: list[int], arc_limit: float, bisect: int, mem_gib: float, cg_limit: float) -> list[dict]:
    rows: dict[int, dict] = {}
    arc_failed_at: int | None = None

    def one(j: int, try_arc: bool) -> None:
        row: dict[str, Any] = {"jobs": j}
        for gap, key in ((1e-4, "colgen"), (0.01, "colgen_1pct")):
            log(f"sweep J={j} colgen gap={gap}")
            row[key] = run_child("colgen", j, cg_limit, gap, mem_gib)
        row["layered_arcs"] = row["colgen"].get("layered_arcs")
        if try_arc:
            log(f"sweep J={j} arc form: build only")
            row["arc_build"] = run_child("build", j, arc_limit, None, mem_gib)
            log(f"sweep J={j} arc form (limit {arc_limit:.0f} s)")
            row["arc"] = run_child("highspy", j, arc_limit, None, mem_gib)
        else:
            row["arc"] = {"status": "not_tried", "message": f"the arc form already failed at J={arc_failed_at}"}
        a, c = row["arc"], row["colgen"]
        if a.get("status") == "optimal" and c.get("wall"):
            row["ratio"] = a["wall"] / c["wall"]  # whole solve call each: build, solve, decision
        elif a.get("status") in ("time_limit", "killed") and c.get("wall"):
            row["ratio_at_least"] = (a.get("child_wall") or arc_limit) / c["wall"]
        if a.get("status") == "optimal" and c.get("bound") is not None:
            row["objectives_agree"] = bool(c["bound"] * (1 - 1e-6) - 1e-9 <= a["objective"] <= c["objective"] * (1 + 1e-6) + 1e-9)
        rows[j] = row

    for j in jobs_list:
        one(j, arc_failed_at is None)
        if arc_failed_at is None and rows[j]["arc"].get("status") != "optimal":
            arc_failed_at = j
    for _ in range(bisect):
        solved = [j for j, r in rows.items() if r["arc"].get("status") == "optimal"]
        failed = [j for j, r in rows.items() if r["arc"].get("status") not in ("optimal", "not_tried")]
        if not solved or not failed:
            break
        lo, hi = max(solved), min(failed)
        mid = int(round(math.sqrt(lo * hi)))
        if mid in rows or mid <= lo or mid >= hi:
            break
        one(mid, True)
    return [rows[j] for j in sorted(rows)]


def target(jobs: int, arc_limit: float, mem_gib: float, cg_limit: float, sweep_rows: list[dict],
           attempt_arc: bool) -> dict:
    out: dict[str, Any] = {"jobs": jobs}
    log(f"target J={jobs} colgen gap=0.01")
    out["colgen_1pct"] = run_child("colgen", jobs, cg_limit, 0.01, mem_gib)
    out["layered_arcs"] = out["colgen_1pct"].get("layered_arcs")
    log(f"target J={jobs} arc-form size")
    out["arc_sizes"] = arc_sizes(jobs)
    pts = [(r["layered_arcs"], r["arc"]["peak_rss_gib"]) for r in sweep_rows
           if r["arc"].get("status") == "optimal" and r["arc"].get("peak_rss_gib")]
    out["arc_memory_fit"] = fit_memory(pts, out["layered_arcs"] or 0)
    pts = [(r["layered_arcs"], r["arc_build"]["peak_rss_gib"]) for r in sweep_rows
           if r.get("arc_build", {}).get("status") == "built"]
    out["arc_build_memory_fit"] = fit_memory(pts, out["layered_arcs"] or 0)
    if attempt_arc:
        log(f"target J={jobs} arc form under RSS {RSS_LIMIT_GIB:g} GiB, RLIMIT_AS {mem_gib:g} GiB (limit {arc_limit:.0f} s)")
        out["arc"] = run_child("highspy", jobs, arc_limit, None, mem_gib)
    return out


# ----------------------------------------------------------------------------- report


def fmt_s(x: float | None) -> str:
    return "-" if x is None else (f"{x:.2f}" if x < 10 else f"{x:.0f}")


def arc_cell(a: dict) -> str:
    st = a.get("status")
    if st == "optimal":
        return f"{fmt_s(a.get('build'))} + {fmt_s(a.get('solve'))} s, {a.get('peak_rss_gib', 0):.1f} GiB, optimal"
    if st == "not_tried":
        return "not tried"
    wall = a.get("child_wall")
    mem = f", {a['peak_rss_gib']:.1f} GiB" if a.get("peak_rss_gib") else ""
    return f"{st} after {fmt_s(wall)} s{mem}"


def cg_cell(c: dict) -> str:
    if c.get("status") not in ("optimal", "time_limit", "feasible"):
        return str(c.get("status"))
    gap = c.get("gap")
    return (f"{fmt_s(c.get('wall'))} s, {c.get('cg_iterations')} it, {c.get('columns')} cols, "
            f"gap {'-' if gap is None else f'{100 * gap:.2g}%'}")


def table(result: dict) -> str:
    lines = ["| jobs | layered arcs | arc form: build + solve, peak RSS, status | colgen gap 1e-4 | colgen gap 1 % | arc / colgen(1e-4) | at cap (nodes/links) |",
             "|---:|---:|---|---|---|---:|---|"]
    for r in result["sweep"]:
        ratio = f"{r['ratio']:.0f}x" if r.get("ratio") else (f">= {r['ratio_at_least']:.0f}x" if r.get("ratio_at_least") else "-")
        c = r["colgen"]
        lines.append(f"| {r['jobs']} | {r['layered_arcs'] or 0:,} | {arc_cell(r['arc'])} | {cg_cell(c)} | "
                     f"{cg_cell(r['colgen_1pct'])} | {ratio} | {c.get('nodes_at_cap', '-')}/{c.get('links_at_cap', '-')} |")
    t = result.get("target")
    if t:
        c = t["colgen_1pct"]
        s = t["arc_sizes"]
        fit = t.get("arc_memory_fit")
        bfit = t.get("arc_build_memory_fit")
        est = f"est. peak {fit['predicted_gib']:.0f} GiB solving" if fit else ""
        est += f", {bfit['predicted_gib']:.0f} GiB building; " if bfit else "; "
        att = arc_cell(t["arc"]) if t.get("arc") else "not attempted"
        lines.append(f"| {t['jobs']} | {t['layered_arcs'] or 0:,} | {s['n_cols']:,} cols, {s['nnz']:,} nnz; {est}"
                     f"attempt: {att} | - | {cg_cell(c)} | - | {c.get('nodes_at_cap', '-')}/{c.get('links_at_cap', '-')} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    global RSS_LIMIT_GIB
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=Path("scale_multi.json"), help="JSON output path")
    p.add_argument("--quick", action="store_true",
                   help="sweep J = 10 30 (arc limit 120 s), target J = 100, no arc attempt at the target")
    p.add_argument("--jobs", type=int, nargs="+", default=[10, 30, 100, 200, 300], help="sweep sizes")
    p.add_argument("--target-jobs", type=int, default=TARGET_JOBS)
    p.add_argument("--arc-time-limit", type=float, default=600.0, help="HiGHS time limit for the arc form (s)")
    p.add_argument("--cg-time-limit", type=float, default=600.0, help="colgen time limit (s)")
    p.add_argument("--bisect", type=int, default=1, help="extra sweep sizes between the last arc success and failure")
    p.add_argument("--mem-limit-gib", type=float, default=32.0,
                   help="RLIMIT_AS of every child process (GiB; a backstop only: address space runs ~7 GiB "
                        "above resident memory, at 20 GiB it stopped J=245 at 12.9 GiB RSS)")
    p.add_argument("--rss-limit-gib", type=float, default=RSS_LIMIT_GIB,
                   help="kill a child whose resident memory passes this (GiB)")
    p.add_argument("--no-arc-attempt", action="store_true", help="estimate only, do not try the arc form at the target")
    args = p.parse_args(argv)
    RSS_LIMIT_GIB = args.rss_limit_gib
    if args.quick:
        args.jobs, args.arc_time_limit, args.target_jobs, args.bisect = [10, 30], 120.0, 100, 0
        args.no_arc_attempt = True
    from dnnsplit.machine import describe, summary, versions_summary

    t0 = time.perf_counter()
    result: dict[str, Any] = {
        "benchmark": "scale_multi", "formulation": FORMULATION, "machine": describe(),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "params": {"family": FAMILY, "seed": SEED, "nodes": NODES, "layers": LAYERS, "rate_range_at_1000": RATE,
                   "rate_factor": "sqrt(1000 / jobs)", "jobs": args.jobs, "target_jobs": args.target_jobs,
                   "arc_time_limit": args.arc_time_limit, "cg_time_limit": args.cg_time_limit,
                   "mem_limit_gib": args.mem_limit_gib, "rss_limit_gib": args.rss_limit_gib, "quick": args.quick},
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    result["sweep"] = sweep(args.jobs, args.arc_time_limit, args.bisect, args.mem_limit_gib, args.cg_time_limit)
    result["target"] = target(args.target_jobs, args.arc_time_limit, args.mem_limit_gib, args.cg_time_limit,
                              result["sweep"], not args.no_arc_attempt)
    solved = [r["jobs"] for r in result["sweep"] if r["arc"].get("status") == "optimal"]
    result["largest_arc_solved_jobs"] = max(solved) if solved else None
    result["total_wall_s"] = time.perf_counter() - t0
    args.out.write_text(json.dumps(result, indent=1, default=str))
    print(f"{summary()}; {versions_summary()}")
    print(table(result))
    print(f"largest J solved by the arc form within {args.arc_time_limit:.0f} s: {result['largest_arc_solved_jobs']}; "
          f"total {result['total_wall_s']:.0f} s; JSON: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
