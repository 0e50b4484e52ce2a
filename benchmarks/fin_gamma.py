"""FIN gap to the exact optimum and run time against gamma (DESIGN.md section 4, FIN-style baseline).

Standalone script (not collected by pytest)::

    .venv/bin/python benchmarks/fin_gamma.py                     # default instances and gammas
    .venv/bin/python benchmarks/fin_gamma.py --quick             # 2 instances, 4 gammas
    .venv/bin/python benchmarks/fin_gamma.py --gammas 5 10 20 --out fin.json --plot fin.png

Instances: deterministic single-job early-exit instances from the generator (``INSTANCES``:
family, seed, nodes, synthetic layers, exits, deadline factor, relative accuracy target). The
deadline factors (x the generator's reference latency) sit between the least latency and the
latency of the least-energy deployment, so the deadline binds. For
each, the exact optimum of lambda * E[energy] under the deadline and the accuracy target comes
from ``heuristics.fin.exact_energy_deadline`` (bi-objective label-setting, no
rounding); where ``F3-exit-select-milp/highspy`` is registered it is solved too and reported
(it is capacitated; on these single-job instances the capacities do not bind unless it says
so). Then FIN (``fin/levels`` with ``raw={"gamma": g}``) runs for every gamma, ``--repeat``
times (the median wall time is kept).

Gap: (FIN - exact) / exact (``dnnsplit.results.excess``); FIN never goes below the
exact optimum and returns only deadline-feasible deployments, so the gap is >= 0 (asserted).
It need not fall monotonically in gamma: rounding grids for different gamma are not nested.

Output: a JSON document (``--out``, default ``fin_gamma.json``) with the machine, the versions
and one record per (instance, gamma); a Markdown table on stdout; optionally a plot (gap and
time against gamma, log x axis).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dnnsplit import catalogue as registry  # noqa: E402
from dnnsplit.options import SolverOptions  # noqa: E402
from dnnsplit.results import Status  # noqa: E402
from dnnsplit.results import excess as gap_to  # noqa: E402
from heuristics.fin import exact_energy_deadline  # noqa: E402
from instances.evaluate import evaluate  # noqa: E402
from instances.generate import generate  # noqa: E402
from instances.model import Instance  # noqa: E402

# (family, seed, nodes, layers, exits, deadline_factor, accuracy_target_rel)
INSTANCES: list[tuple[str, int, int, int, int, float, float]] = [
    ("hierarchical", 101, 8, 8, 2, 1.2, 0.95),
    ("hierarchical", 102, 10, 10, 3, 1.4, 0.95),
    ("erdos_renyi", 103, 8, 8, 2, 1.15, 0.95),
    ("waxman", 104, 10, 8, 3, 1.05, 0.95),
    ("hierarchical", 107, 20, 16, 3, 1.3, 0.95),
]
GAMMAS = [5, 10, 20, 50, 100, 200, 500]


def build(spec: tuple) -> Instance:
    family, seed, nodes, layers, exits, factor, acc = spec
    return generate(family, seed=seed, nodes=nodes, layers=layers, exits=exits, deadline_factor=factor,
                    accuracy_target_rel=acc, name=f"fin-{family}-n{nodes}-L{layers}-x{exits}-f{factor}-s{seed}")


def measure(inst: Instance, gammas: list[int], repeat: int) -> list[dict[str, Any]]:
    t0 = time.perf_counter()
    exact, route = exact_energy_deadline(inst)
    exact_time = time.perf_counter() - t0
    job = inst.jobs[0]
    exact_latency = None if route is None else evaluate(inst, {0: (route,)}).job_latency[0]
    f3 = None
    f3_specs = [s for s in registry.specs(problem="multi", kind="exact") if s.key == "F3-exit-select-milp/highspy"]
    if f3_specs:
        r = registry.run(f3_specs[0], inst, SolverOptions(time_limit=120))
        f3 = {"status": r.status.value, "objective": r.evaluated_objective, "wall_time": r.wall_time}
    common = {
        "instance": inst.name, "instance_hash": inst.hash, "sizes": inst.sizes, "deadline": job.deadline,
        "accuracy_target": job.accuracy_target, "exits": len(inst.model_of(job).exits),
        "exact_objective": exact, "exact_latency": exact_latency, "exact_time": exact_time,
        "exact_deadline_slack": None if exact_latency is None else (job.deadline - exact_latency) / job.deadline,
        "f3_exit_select": f3,
    }
    spec = registry.get("fin", "levels")
    out = []
    for g in gammas:
        runs = [registry.run(spec, inst, SolverOptions(raw={"gamma": g})) for _ in range(repeat)]
        r = runs[0]
        rec = dict(common, gamma=g, status=r.status.value, objective=r.evaluated_objective,
                   wall_time=statistics.median(x.wall_time for x in runs), wall_times=[x.wall_time for x in runs],
                   latency=r.extra.get("latency"), levels_used=r.extra.get("levels_used"),
                   labels=r.extra.get("labels"), active_exits=r.extra.get("active_exits"), message=r.message)
        rec["gap"] = gap_to(r.evaluated_objective, exact) if r.status is Status.FEASIBLE and exact < float("inf") else None
        if rec["gap"] is not None:
            assert rec["gap"] >= -1e-9, f"FIN below the exact optimum on {inst.name} at gamma {g}"
            assert rec["latency"] <= job.deadline * (1 + 1e-9)
        out.append(rec)
    return out


def table(records: list[dict[str, Any]], gammas: list[int]) -> str:
    insts = list(dict.fromkeys(r["instance"] for r in records))
    by = {(r["instance"], r["gamma"]): r for r in records}
    head = "| instance | exact (J/s) | slack | exact s | " + " | ".join(f"g={g}" for g in gammas) + " |"
    lines = [head, "|" + "---|" * (4 + len(gammas))]
    for name in insts:
        first = by[name, gammas[0]]
        cells = []
        for g in gammas:
            r = by[name, g]
            gap = None if r["gap"] is None else max(r["gap"], 0.0)  # -1e-16 is a rounding tie
            cells.append("infeasible" if gap is None else f"{100 * gap:.2f}% / {r['wall_time']:.3f}s")
        slack = first["exact_deadline_slack"]
        lines.append(f"| {name} | {first['exact_objective']:.5g} | {'-' if slack is None else f'{100 * slack:.1f}%'} | "
                     f"{first['exact_time']:.3f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(records: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    for name in dict.fromkeys(r["instance"] for r in records):
        rs = [r for r in records if r["instance"] == name]
        ok = [r for r in rs if r["gap"] is not None]
        a1.plot([r["gamma"] for r in ok], [100 * r["gap"] for r in ok], marker="o", label=name)
        a2.plot([r["gamma"] for r in rs], [r["wall_time"] for r in rs], marker="o", label=name)
    gammas = sorted({r["gamma"] for r in records})
    a1.set(xscale="log", xlabel="gamma", ylabel="gap to exact optimum (%)", title="FIN gap (missing: no path)",
           xlim=(gammas[0] / 1.3, gammas[-1] * 1.3))
    a2.set(xscale="log", yscale="log", xlabel="gamma", ylabel="wall time (s)", title="FIN run time")
    a1.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=150)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--gammas", type=int, nargs="+", default=GAMMAS, help="gamma values (each 2..2000)")
    p.add_argument("--quick", action="store_true", help="first 2 instances, gammas 5 10 50 200")
    p.add_argument("--repeat", type=int, default=3, help="runs per (instance, gamma); the median time is kept")
    p.add_argument("--out", type=Path, default=Path("fin_gamma.json"), help="JSON output path")
    p.add_argument("--plot", type=Path, default=None, help="optional PNG: gap and time against gamma")
    args = p.parse_args(argv)
    specs = INSTANCES[:2] if args.quick else INSTANCES
    gammas = [5, 10, 50, 200] if args.quick and args.gammas == GAMMAS else args.gammas
    records: list[dict[str, Any]] = []
    for spec in specs:
        records += measure(build(spec), gammas, args.repeat)
    import numpy
    import scipy

    doc = {
        "benchmark": "fin_gamma",
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "python": platform.python_version(),
                    "numpy": numpy.__version__, "scipy": scipy.__version__},
        "gammas": gammas,
        "records": records,
    }
    args.out.write_text(json.dumps(doc, indent=1, default=float))
    print(table(records, gammas))
    print("\ncells: gap to the exact optimum / median FIN wall time; slack: (T - latency of the exact optimum) / T")
    for r in records:
        if r["gamma"] == gammas[0] and r["f3_exit_select"]:
            f3 = r["f3_exit_select"]
            print(f"  {r['instance']}: F3-exit-select-milp/highspy {f3['status']} {f3['objective']} ({f3['wall_time']:.2f} s)"
                  f" vs exact labeller {r['exact_objective']:.6g} ({r['exact_time']:.2f} s)")
    if args.plot:
        plot(records, args.plot)
        print(f"plot: {args.plot}")
    print(f"records: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
