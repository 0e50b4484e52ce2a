"""Speed of the single-job formulations: F1 (assignment MILP) against F2 (layered graph).

Standalone measurement script (not a pytest file; nothing here is asserted):

    .venv/bin/python -m benchmarks.speed_single [--quick] [--out speed_single.json]

Part 1, on ``instances.defaults.canonical("medium")``: build and solve time (median of
``--repeats`` runs, one thread) of F1-weak/highspy, F1-aggregated/highspy, F2/highspy (simplex),
F2/scipy-dijkstra, F2/layered-dijkstra and F2/ortools-mcf, and the ratios
F1-weak / F2-highspy and F1-weak / layered-dijkstra (build + solve), then the same ratios over a
sweep of network sizes and depths (hierarchical family, "decreasing" shape as in the canonical
sets; F1 runs under ``--f1-time-limit``, a ratio marked ">=" when F1 hit it).

Cold (``--skip cold`` to leave out): what a user gets from ``dnnsplit solve`` or a campaign, one
fresh process per solve (the campaign runner itself: fork server, untimed warm-up on its tiny
instance, then the measured solve of the medium instance, whose derived arrays - base graph,
compute-time table - are built inside the timed call and counted as build time): F1-weak/highspy
against F2/highspy and F2/layered-dijkstra, medians over ``--cold-repeats`` processes.

Part 2, one network of 1,000 nodes (Erdos-Renyi, p chosen for > 10^6 layered arcs) with a
150-layer chain: the engine's pass (``dnnsplit.graph``, compiled by numba) against scipy
Dijkstra on the materialised layered graph (build and
solve timed separately), and beside them the one-pass bound (``_jit.one_pass_bound``: the same
pair weights computed on the fly and one relaxation per arc, no queue), in ns per layered arc.
Peak memory two ways: tracemalloc peak of the call (Python and numpy allocations; not the
compiled pass's own O(|A|) work arrays, which numba allocates outside Python's allocator), and
the suite's one peak-memory definition in a fresh child process (``dnnsplit.campaign.child``:
the resident high-water mark after a reset at the start of the call, minus the resident memory
then).

Writes every figure to the JSON file and prints a table.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import multiprocessing as mp  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from typing import Any  # noqa: E402

PAIRS = [
    ("F1-weak", "highspy"),
    ("F1-aggregated", "highspy"),
    ("F2", "highspy"),
    ("F2", "scipy-dijkstra"),
    ("F2", "layered-dijkstra"),
    ("F2", "ortools-mcf"),
]
LARGE = dict(family="erdos_renyi", seed=1, nodes=1000, layers=150, p=0.0065)
LAYERED_METHODS = ("layered-jit",)
DEFAULT_METHOD = "layered-jit"


def versions() -> dict[str, str]:
    import highspy
    import numba
    import numpy
    import ortools
    import scipy

    return {
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "numba": numba.__version__,
        "highs": highspy.Highs().version(),
        "ortools": ortools.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
    }


def time_pair(formulation: str, backend: str, inst: Any, repeats: int, time_limit: float | None = None) -> dict:
    """Median build/solve/wall time over ``repeats`` runs (fewer when one run takes > 20 s)."""
    from dnnsplit import catalogue as registry
    from dnnsplit.options import SolverOptions

    spec = registry.get(formulation, backend)
    opts = SolverOptions(time_limit=time_limit) if time_limit and "time_limit" in spec.accepts else SolverOptions()
    runs = []
    for _ in range(repeats):
        r = registry.run(spec, inst, opts)
        runs.append(r)
        if r.wall_time > 20:
            break
    last = runs[-1]
    return {
        "pair": spec.key,
        "status": last.status.value,
        "objective": last.objective,
        "lp_relaxation": last.lp_relaxation,
        "build": statistics.median(r.build_time for r in runs),
        "solve": statistics.median(r.solve_time for r in runs),
        "wall": statistics.median(r.wall_time for r in runs),
        "runs": len(runs),
        "nodes": last.nodes,
        "iterations": last.iterations,
    }


def total(row: dict) -> float:
    return row["build"] + row["solve"]


def part1(repeats: int) -> dict:
    from instances.defaults import canonical

    inst = canonical("medium")
    rows = [time_pair(f, b, inst, repeats if f.startswith("F2") else max(1, min(repeats, 3))) for f, b in PAIRS]
    by = {r["pair"]: r for r in rows}
    weak = total(by["F1-weak/highspy"])
    return {
        "instance": inst.name,
        "sizes": inst.sizes,
        "rows": rows,
        "ratio_f1weak_over_f2highspy": weak / total(by["F2/highspy"]),
        "ratio_f1weak_over_layered_dijkstra": weak / total(by["F2/layered-dijkstra"]),
    }


def sweep(node_list: list[int], layer_list: list[int], f1_time_limit: float) -> list[dict]:
    from instances.generate import generate

    out = []
    for nodes in node_list:
        for layers in layer_list:
            inst = generate("hierarchical", seed=11, nodes=nodes, layers=layers, shape="decreasing")
            weak = time_pair("F1-weak", "highspy", inst, 1, time_limit=f1_time_limit)
            lp = time_pair("F2", "highspy", inst, 5)
            ld = time_pair("F2", "layered-dijkstra", inst, 5)
            capped = weak["status"] == "time_limit"
            row = {
                "nodes": nodes,
                "layers": layers,
                "layered_arcs": inst.sizes["layered_arcs"],
                "f1_weak_status": weak["status"],
                "f1_weak_s": total(weak),
                "f2_highspy_s": total(lp),
                "layered_dijkstra_s": total(ld),
                "ratio_f2highspy": total(weak) / total(lp),
                "ratio_layered": total(weak) / total(ld),
                "lower_bound_only": capped,
                "objectives_agree": weak["objective"] is not None
                and abs(weak["objective"] - ld["objective"]) <= 1e-6 * ld["objective"],
            }
            out.append(row)
            print(
                f"  sweep n={nodes:3d} L={layers:3d} arcs={row['layered_arcs']:7d}  F1-weak {row['f1_weak_s']:8.3f} s"
                f" ({weak['status']})  F2-highspy {row['f2_highspy_s'] * 1e3:8.2f} ms  layered {row['layered_dijkstra_s'] * 1e3:7.2f} ms"
                f"  ratios {'>=' if capped else ''}{row['ratio_f2highspy']:.0f}x / {'>=' if capped else ''}{row['ratio_layered']:.0f}x",
                flush=True,
            )
    return out


# ----------------------------------------------------------------------------- cold


def cold(repeats: int) -> dict:
    """One fresh process per solve (the campaign runner), medians per pair."""
    import tempfile
    from pathlib import Path

    from dnnsplit import catalogue
    from dnnsplit.campaign.records import read_existing
    from dnnsplit.campaign.runner import run_campaign
    from dnnsplit.campaign.tasks import InstanceEntry, Settings, plan
    from instances.defaults import canonical
    from instances.io import save

    inst = canonical("medium")
    tmp = Path(tempfile.mkdtemp(prefix="speed_single_cold_"))
    path = tmp / "medium.json"
    save(inst, path)
    settings = Settings(time_limit=120.0)
    specs = [catalogue.get(f, b) for f, b in (("F1-weak", "highspy"), ("F2", "highspy"), ("F2", "layered-dijkstra"))]
    tasks = plan([InstanceEntry("medium", path, inst)], specs, repeats, settings)
    run_campaign(tasks, tmp / "cold.jsonl", settings, progress=False)
    recs = read_existing(tmp / "cold.jsonl", repair=False)
    out: dict[str, Any] = {"instance": inst.name, "repeats": repeats, "pairs": {}}
    for spec in specs:
        mine = [r for r in recs if r["pair"] == spec.key and r["status"] == "optimal"]
        if not mine:
            continue
        out["pairs"][spec.key] = {
            "build": statistics.median(r["build_time"] for r in mine),
            "solve": statistics.median(r["solve_time"] for r in mine),
            "wall": statistics.median(r["wall_time"] for r in mine),
            "runs": len(mine),
        }
    p = out["pairs"]
    weak = total(p["F1-weak/highspy"])
    out["ratio_f1weak_over_f2highspy"] = weak / total(p["F2/highspy"])
    out["ratio_f1weak_over_layered_dijkstra"] = weak / total(p["F2/layered-dijkstra"])
    out["ratio_f1weak_over_layered_dijkstra_wall"] = p["F1-weak/highspy"]["wall"] / p["F2/layered-dijkstra"]["wall"]
    return out


# ----------------------------------------------------------------------------- part 2


def _large_instance() -> Any:
    from instances.generate import generate

    kw = dict(LARGE)
    return generate(kw.pop("family"), **kw)


def _run_method(inst: Any, method: str) -> tuple[float, dict]:
    """One call; returns (objective, timings)."""
    from scipy.sparse.csgraph import dijkstra

    from dnnsplit.graph import layered, shortest

    job = inst.jobs[0]
    if method in LAYERED_METHODS:
        t0 = time.perf_counter()
        cost, _ = shortest.layered_dijkstra(inst, 0, method=method.split("-")[1])
        return cost, {"solve": time.perf_counter() - t0, "build": 0.0}
    if method == "one-pass-bound":
        base, costs = _bound_inputs(inst)
        t0 = time.perf_counter()
        _one_pass(base, costs, job.source)
        return float("nan"), {"solve": time.perf_counter() - t0, "build": 0.0}
    t0 = time.perf_counter()
    g = layered.build_layered_graph(inst)
    csr = g.csr()
    t1 = time.perf_counter()
    dist, pred = dijkstra(csr, directed=True, indices=g.source, return_predecessors=True)
    parent = shortest.parents_from_layered_predecessors(pred, g.num_nodes, g.num_layers, job.source)
    shortest.walk(inst.network, parent, shortest.latency_costs(inst, 0), job.source, job.sink)
    return float(dist[g.sink]), {"build": t1 - t0, "solve": time.perf_counter() - t1}


def _bound_inputs(inst: Any) -> tuple[Any, Any]:
    from dnnsplit.graph import shortest
    from dnnsplit.graph.base import base_graph

    return base_graph(inst.network), shortest.latency_costs(inst, 0)


def _one_pass(base: Any, costs: Any, source: int) -> float:
    import numpy as np

    from dnnsplit.graph import _jit

    labels = np.full(base.num_nodes, np.inf)
    labels[source] = 0.0
    return _jit.one_pass_bound(*base.kernel_arrays(), np.zeros((0, 0)), np.ascontiguousarray(costs.sizes, dtype=float),
                               np.ascontiguousarray(costs.node_cost, dtype=float), labels)


def _warm_caches(inst: Any) -> None:
    """What every method shares and no call should be charged for: the base graph and tau
    table of ``inst`` (cached per instance) and the numba pass (compiled once per process)."""
    from dnnsplit.graph import shortest
    from dnnsplit.graph.base import base_graph

    base_graph(inst.network)
    inst.compute_time(inst.models[0])
    shortest.warm_up_jit()


def _measured(task: dict, stage: Any) -> dict:
    """In the child: load, warm up, then one call of ``task["method"]``."""
    from instances.io import load

    inst = load(task["path"])
    _warm_caches(inst)
    stage("ready")
    _run_method(inst, task["method"])
    return {"method": task["method"]}


def rss_growth(method: str, path: str) -> dict:
    """Peak resident growth of one call in a fresh spawned process, by the suite's one harness
    (``dnnsplit.campaign.child``: high-water mark after a reset at "ready" minus the resident
    memory then)."""
    import tempfile
    from pathlib import Path

    from dnnsplit.campaign.child import Limits, run_in_child

    with tempfile.TemporaryDirectory(prefix="speed_single_rss_") as tmp:
        out = run_in_child(mp.get_context("spawn"), _measured, {"method": method, "path": path},
                           Limits(wall=600.0, ready_timeout=300.0), Path(tmp))
    if out.value is None:
        raise RuntimeError(f"the memory child of {method} failed: {out.failure or out.killed} {out.log[-300:]}")
    return {"rss_before": out.baseline_rss, "rss_peak": out.peak_rss, "rss_growth": out.peak_growth}


def part2(repeats: int) -> dict:
    import tempfile

    from instances.io import save

    inst = _large_instance()
    path = os.path.join(tempfile.mkdtemp(prefix="speed_single_"), "large.json")
    save(inst, path)

    _warm_caches(inst)
    _one_pass(*_bound_inputs(inst), inst.jobs[0].source)  # compile the bound too
    arcs = inst.sizes["layered_arcs"]
    out: dict[str, Any] = {"instance": LARGE, "sizes": inst.sizes, "methods": {}}
    for method in (*LAYERED_METHODS, "one-pass-bound", "materialised-scipy"):
        runs = [_run_method(inst, method) for _ in range(repeats)]
        entry = {
            "objective": runs[0][0],
            "build": statistics.median(r[1]["build"] for r in runs),
            "solve": statistics.median(r[1]["solve"] for r in runs),
            "solve_min": min(r[1]["solve"] for r in runs),
            "solve_max": max(r[1]["solve"] for r in runs),
            "runs": len(runs),
        }
        entry["total"] = entry["build"] + entry["solve"]
        entry["ns_per_arc"] = entry["solve"] / arcs * 1e9
        if method != "one-pass-bound":
            tracemalloc.start()
            _run_method(inst, method)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            entry["tracemalloc_peak"] = peak
            entry.update(rss_growth(method, path))
        out["methods"][method] = entry
    m = out["methods"]
    default = m[DEFAULT_METHOD]  # what the F2/layered-dijkstra backend runs
    out["default_method"] = DEFAULT_METHOD
    out["ratio_layered_over_materialised_total"] = default["total"] / m["materialised-scipy"]["total"]
    out["ratio_layered_over_materialised_solve"] = default["total"] / m["materialised-scipy"]["solve"]
    out["ratio_pass_over_one_pass_bound"] = default["solve"] / m["one-pass-bound"]["solve"]
    objs = [e["objective"] for k, e in m.items() if k != "one-pass-bound"]
    out["objectives_agree"] = max(objs) - min(objs) <= 1e-9 * max(objs)
    return out


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="speed_single.json")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="a smaller sweep (a minute or two)")
    ap.add_argument("--f1-time-limit", type=float, default=60.0)
    ap.add_argument("--skip", choices=("part1", "cold", "sweep", "part2"), action="append", default=[])
    ap.add_argument("--cold-repeats", type=int, default=5, help="fresh processes per pair in the cold part")
    args = ap.parse_args(argv)
    record: dict[str, Any] = {"versions": versions(), "threads": 1, "repeats": args.repeats}
    if "part1" not in args.skip:
        print("Part 1: canonical medium instance", flush=True)
        p1 = record["medium"] = part1(args.repeats)
        print(f"  {p1['instance']}  sizes {p1['sizes']}")
        print(f"  {'pair':28s} {'status':8s} {'objective':>12s} {'build ms':>10s} {'solve ms':>10s} {'total ms':>10s}")
        for r in p1["rows"]:
            print(f"  {r['pair']:28s} {r['status']:8s} {r['objective']:12.9g} {r['build'] * 1e3:10.3f}"
                  f" {r['solve'] * 1e3:10.3f} {total(r) * 1e3:10.3f}")
        print(f"  F1-weak / F2-highspy      = {p1['ratio_f1weak_over_f2highspy']:.0f}x  (target >= 100x)")
        print(f"  F1-weak / layered-dijkstra = {p1['ratio_f1weak_over_layered_dijkstra']:.0f}x  (target >= 10,000x)")
    if "cold" not in args.skip:
        print("Cold: one fresh process per solve (the campaign runner), medium instance", flush=True)
        c = record["cold"] = cold(args.cold_repeats)
        for pair, row in c["pairs"].items():
            print(f"  {pair:28s} build {row['build'] * 1e3:9.3f} ms  solve {row['solve'] * 1e3:9.3f} ms"
                  f"  wall {row['wall'] * 1e3:9.3f} ms  ({row['runs']} processes)")
        print(f"  F1-weak / F2-highspy       = {c['ratio_f1weak_over_f2highspy']:.0f}x")
        print(f"  F1-weak / layered-dijkstra = {c['ratio_f1weak_over_layered_dijkstra']:.0f}x (build + solve; "
              f"{c['ratio_f1weak_over_layered_dijkstra_wall']:.0f}x on the whole call)  (target >= 10,000x)")
    if "sweep" not in args.skip:
        print("Sweep: hierarchical, decreasing shape, seed 11", flush=True)
        nodes, layers = ([10, 20, 30], [10, 20]) if args.quick else ([10, 20, 30, 40], [10, 20, 40])
        record["sweep"] = sweep(nodes, layers, args.f1_time_limit)
    if "part2" not in args.skip:
        print("Part 2: 1,000-node network, 150-layer chain", flush=True)
        p2 = record["large"] = part2(args.repeats)
        print(f"  {p2['instance']}  sizes {p2['sizes']}")
        print(f"  {'method':20s} {'build ms':>9s} {'solve ms':>9s} {'total ms':>9s} {'ns/arc':>7s} {'tracemalloc MiB':>16s} {'RSS growth MiB':>15s}")
        for name, e in p2["methods"].items():
            tm = f"{e['tracemalloc_peak'] / 2**20:16.1f}" if "tracemalloc_peak" in e else f"{'-':>16s}"
            rss = f"{e['rss_growth'] / 2**20:15.1f}" if e.get("rss_growth") is not None else f"{'-':>15s}"
            print(f"  {name:20s} {e['build'] * 1e3:9.1f} {e['solve'] * 1e3:9.1f} {e['total'] * 1e3:9.1f}"
                  f" {e['ns_per_arc']:7.2f} {tm} {rss}")
        print(f"  pass / one-pass bound = {p2['ratio_pass_over_one_pass_bound']:.2f}x  (target <= 6x)")
        print(f"  {p2['default_method']} / materialised: {p2['ratio_layered_over_materialised_total']:.2f}x of build+solve,"
              f" {p2['ratio_layered_over_materialised_solve']:.2f}x of solve only (target <= 3x); objectives agree:"
              f" {p2['objectives_agree']}")
    with open(args.out, "w") as fh:
        json.dump(record, fh, indent=1, default=float)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
