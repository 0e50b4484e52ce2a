"""Branch-and-price (``colgen-bp``) measured: jobs sweep, pricing speed, scale case.

Standalone script (not collected by pytest); every figure of the README's branch-and-price
section comes from one of these commands (run them with ``nice -n 10`` on a shared machine)::

    .venv/bin/python benchmarks/branch_price.py sweep --out /tmp/bp_sweep.json            # T4's jobs sweep
    .venv/bin/python benchmarks/branch_price.py sweep --jobs 50 100 --pairs colgen-bp     # a part of it
    .venv/bin/python benchmarks/branch_price.py pricing --out /tmp/bp_pricing.json        # 1,000-job CG
    .venv/bin/python benchmarks/branch_price.py scale --out /tmp/bp_scale.json            # 10,000 jobs

``sweep``: the "multi-jobs" default set (T4/F4: one 30-node hierarchical network, 10-layer
chains, 50-1,000 jobs, binding capacities), ``F3-latency-milp`` on each pair of ``--pairs``
(default: colgen-bp = branch-and-price, highspy = the arc-form MILP, colgen = price-and-branch)
with ``--time-limit`` (default 600 s) each: status, objective, proven bound and gap, nodes and
open nodes, wall time and branch-and-price's time split (master LP, pricing, column building,
branching, heuristics).

``pricing``: ``benchmarks/scale_multi.py``'s 1,000-job instance (100-node Erdos-Renyi network,
50-layer chains, 57 M layered arcs) by ``F3-latency-lp/colgen`` with mip_gap 0.01, as in the
README's scale table (7.7 s there before the compiled price-and-extract pass): wall time, CG
iterations, columns, proven gap, master, pricing and column time.

``scale``: the same network and model shape at ``--jobs`` (default 10,000) jobs with the
1,000-job case's total load (``scale_instance``; binding capacities): the LP bound by column
generation to a proven 1 % (``F3-latency-lp/colgen``, mip_gap 0.01), then ``F3-latency-milp``
by colgen-bp with ``--time-limit`` (default 600 s): incumbent, bound, proven gap, nodes, time split.

Every run is in this process (after one JIT warm-up, which is not timed); the output JSON
carries the machine (``dnnsplit.machine.describe``) and every record; a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SPLIT = ("master_time", "pricing_time", "column_time", "branching_time", "heuristic_time")
COUNTS = ("nodes", "open_nodes", "max_depth", "columns", "cg_iterations", "pruned_nodes", "integral_nodes",
          "enumerated_nodes", "infeasible_nodes")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def solve(formulation: str, backend: str, inst: Any, **options: Any) -> dict:
    """One run, as a JSON-ready record (the result's fields, the time split, the counters)."""
    from dnnsplit import catalogue
    from dnnsplit.options import SolverOptions

    t0 = time.perf_counter()
    r = catalogue.run(catalogue.get(formulation, backend), inst, SolverOptions(**options))
    wall = time.perf_counter() - t0
    e = r.extra or {}
    rec = {"instance": inst.name, "jobs": len(inst.jobs), "pair": f"{formulation}/{backend}", "options": options,
           "status": r.status.value, "objective": r.objective, "evaluated_objective": r.evaluated_objective,
           "bound": r.bound, "gap": r.gap, "nodes": r.nodes, "wall": wall, "build": r.build_time,
           "solve": r.solve_time, "message": r.message}
    rec.update({k: e.get(k) for k in (*SPLIT, *COUNTS) if k in e})
    if "bb_trace" in e:
        rec["bb_trace"] = e["bb_trace"]
        rec["incumbent_history"] = e.get("incumbent_history")
    return rec


def sweep(jobs: list[int] | None, pairs: list[str], time_limit: float) -> list[dict]:
    from instances.defaults import default_set

    out = []
    for inst in default_set("multi-jobs"):
        if jobs and len(inst.jobs) not in jobs:
            continue
        for backend in pairs:
            opts: dict[str, Any] = {"time_limit": time_limit}
            if backend == "highspy":
                opts["mip_gap"] = 1e-9
            rec = solve("F3-latency-milp", backend, inst, **opts)
            log(row(rec))
            out.append(rec)
    return out


def pricing(jobs: int) -> list[dict]:
    from benchmarks.scale_multi import instance

    inst = instance(jobs)
    rec = solve("F3-latency-lp", "colgen", inst, mip_gap=0.01)
    log(row(rec))
    return [rec]


def scale_instance(jobs: int, load: float = 1.0) -> Any:
    """``scale_multi``'s network and model shape with the 1,000-job case's total load spread over
    ``jobs`` jobs (rates x 1000 / jobs): capacities bind as they do at 1,000 jobs, and the instance
    stays feasible (``scale_multi.instance`` scales rates by sqrt(1000 / jobs), which at 10,000 jobs
    is 3.2 x that load)."""
    from benchmarks.scale_multi import FAMILY, LAYERS, NODES, RATE, SEED, TARGET_JOBS
    from instances.generate import generate

    f = load * TARGET_JOBS / jobs  # load: a fraction of that total load
    return generate(FAMILY, seed=SEED, nodes=NODES, layers=LAYERS, jobs=jobs, rate_range=[RATE[0] * f, RATE[1] * f])


def scale(jobs: int, time_limit: float, load: float = 1.0) -> list[dict]:
    t0 = time.perf_counter()
    inst = scale_instance(jobs, load)
    log(f"generated {inst.name} in {time.perf_counter() - t0:.1f} s")
    out = [solve("F3-latency-lp", "colgen", inst, mip_gap=0.01, time_limit=time_limit)]
    log(row(out[-1]))
    out.append(solve("F3-latency-milp", "colgen-bp", inst, time_limit=time_limit))
    log(row(out[-1]))
    return out


def _s(x: Any) -> str:
    return "-" if x is None else f"{x:.2f}"


def row(r: dict) -> str:
    gap = "-" if r["gap"] is None else f"{100 * r['gap']:.4g} %"
    split = " / ".join(_s(r.get(k)) for k in SPLIT)
    return (f"| {r['jobs']} | {r['pair']} | {r['status']} | {r['objective']} | {r['bound']} | {gap} | "
            f"{r.get('nodes')} | {r.get('open_nodes', '-')} | {r['wall']:.1f} | {split} |")


HEADER = ("| jobs | pair | status | objective | bound | proven gap | nodes | open | wall (s) | "
          "master / pricing / columns / branching / heuristics (s) |\n|" + " --- |" * 10)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="what", required=True)
    s = sub.add_parser("sweep", help="T4's jobs sweep: colgen-bp against the arc MILP and price-and-branch")
    s.add_argument("--jobs", type=int, nargs="*", help="job counts of the multi-jobs set (default: all)")
    s.add_argument("--pairs", nargs="+", default=["colgen-bp", "highspy", "colgen"], help="backends of F3-latency-milp")
    s.add_argument("--time-limit", type=float, default=600.0)
    q = sub.add_parser("pricing", help="the 1,000-job column generation (pricing time)")
    q.add_argument("--jobs", type=int, default=1000)
    c = sub.add_parser("scale", help="10,000 jobs x 100 nodes x 50 layers")
    c.add_argument("--jobs", type=int, default=10_000)
    c.add_argument("--time-limit", type=float, default=600.0)
    c.add_argument("--load", type=float, default=1.0,
                   help="fraction of the 1,000-job case's total load (1.0: infeasible at 10,000 jobs, proven)")
    for sp in (s, q, c):
        sp.add_argument("--out", type=Path, help="JSON output")
    args = p.parse_args(argv)

    from dnnsplit.graph.shortest import warm_up_jit
    from dnnsplit.machine import describe

    warm_up_jit()
    log(HEADER)
    if args.what == "sweep":
        records = sweep(args.jobs, args.pairs, args.time_limit)
    elif args.what == "pricing":
        records = pricing(args.jobs)
    else:
        records = scale(args.jobs, args.time_limit, args.load)
    print(HEADER)
    for r in records:
        print(row(r))
    if args.out:
        args.out.write_text(json.dumps({"machine": describe(), "command": sys.argv, "records": records}, indent=1,
                                       default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
