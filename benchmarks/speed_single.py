"""Speed of the single-job formulations: F1 (assignment MILP) against F2 (layered graph).

Standalone measurement script (not a pytest file; nothing here is asserted):

    .venv/bin/python -m benchmarks.speed_single [--quick] [--out speed_single.json]

Part 1, on ``instances.defaults.canonical("medium")``: build and solve time (median of
``--repeats`` runs, one thread) of F1-weak/highspy, F1-aggregated/highspy, F2/highspy (simplex),
F2/scipy-dijkstra, F2/layered-dijkstra and F2/ortools-mcf, and the ratios
F1-weak / F2-highspy and F1-weak / layered-dijkstra (build + solve), then the same ratios over a
sweep of network sizes and depths (hierarchical family, "decreasing" shape as in the canonical
sets; F1 runs under ``--f1-time-limit``, a ratio marked ">=" when F1 hit it).

Part 2, one network of 1,000 nodes (Erdos-Renyi, p chosen for > 10^6 layered arcs) with a
150-layer chain: the specialised layered Dijkstra (its numba-compiled pass, the default, and
the scipy-per-copy and heapq-per-copy passes) against
scipy Dijkstra on the materialised layered graph (build and solve timed separately), with peak
memory measured two ways: tracemalloc peak of the call (Python and numpy allocations; not the compiled pass's own
O(|A|) work arrays, which numba allocates outside Python's allocator), and the
growth of the resident-set high-water mark in a fresh child process (Linux /proc/self/status
VmHWM after resetting it through /proc/self/clear_refs, minus VmRSS before the call).

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
LAYERED_METHODS = ("layered-jit", "layered-scipy", "layered-heap")
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
    from dnnsplit import registry
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


# ----------------------------------------------------------------------------- part 2


def _large_instance() -> Any:
    from instances.generate import generate

    kw = dict(LARGE)
    return generate(kw.pop("family"), **kw)


def _run_method(inst: Any, method: str) -> tuple[float, dict]:
    """One call; returns (objective, timings)."""
    from scipy.sparse.csgraph import dijkstra

    from formulations import _layered

    if method in LAYERED_METHODS:
        t0 = time.perf_counter()
        cost, _ = _layered.layered_dijkstra(inst, 0, method=method.split("-")[1])
        return cost, {"solve": time.perf_counter() - t0, "build": 0.0}
    t0 = time.perf_counter()
    g = _layered.build_layered_graph(inst)
    csr = g.csr(inst.network)
    t1 = time.perf_counter()
    dist, pred = dijkstra(csr, directed=True, indices=g.source, return_predecessors=True)
    path = _layered.vertex_path_from_predecessors(pred, g.source, g.sink)
    _layered.route_from_vertex_path(inst, 0, path, g.comm_cost_matrix())
    return float(dist[g.sink]), {"build": t1 - t0, "solve": time.perf_counter() - t1}


def _warm_caches(inst: Any) -> None:
    """What every method shares and no call should be charged for: the base graph and tau
    table of ``inst`` (cached per instance) and the numba pass (compiled once per process)."""
    from formulations import _layered

    _layered.base_graph(inst.network)
    inst.compute_time(inst.models[0])
    _layered.warm_up_jit()


def _proc_status(field: str) -> int:
    """A memory field of /proc/self/status in bytes (Linux)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def _child_rss(method: str, path: str, queue: Any) -> None:
    from instances.io import load

    inst = load(path)
    _warm_caches(inst)
    with open("/proc/self/clear_refs", "w") as fh:  # reset the peak (VmHWM) to the current RSS
        fh.write("5")
    before = _proc_status("VmRSS")
    _run_method(inst, method)
    queue.put((before, _proc_status("VmHWM")))


def rss_growth(method: str, path: str) -> dict:
    """Peak resident-set growth (VmHWM - VmRSS before) of one call in a fresh spawned process
    that loads the instance from ``path``. (ru_maxrss is not used: on Linux a spawned child
    inherits its parent's high-water mark.)"""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_child_rss, args=(method, path, q))
    p.start()
    before, after = q.get()
    p.join()
    return {"rss_before": before, "rss_peak": after, "rss_growth": after - before}


def part2(repeats: int) -> dict:
    import tempfile

    from instances.io import save

    inst = _large_instance()
    path = os.path.join(tempfile.mkdtemp(prefix="speed_single_"), "large.json")
    save(inst, path)

    _warm_caches(inst)
    out: dict[str, Any] = {"instance": LARGE, "sizes": inst.sizes, "methods": {}}
    for method in (*LAYERED_METHODS, "materialised-scipy"):
        runs = [_run_method(inst, method) for _ in range(repeats if method != "layered-heap" else max(1, repeats // 2))]
        tracemalloc.start()
        _run_method(inst, method)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        entry = {
            "objective": runs[0][0],
            "build": statistics.median(r[1]["build"] for r in runs),
            "solve": statistics.median(r[1]["solve"] for r in runs),
            "runs": len(runs),
            "tracemalloc_peak": peak,
            **rss_growth(method, path),
        }
        entry["total"] = entry["build"] + entry["solve"]
        out["methods"][method] = entry
    m = out["methods"]
    default = m[DEFAULT_METHOD]  # what the F2/layered-dijkstra backend runs
    out["default_method"] = DEFAULT_METHOD
    out["ratio_layered_over_materialised_total"] = default["total"] / m["materialised-scipy"]["total"]
    out["ratio_layered_over_materialised_solve"] = default["total"] / m["materialised-scipy"]["solve"]
    objs = [e["objective"] for e in m.values()]
    out["objectives_agree"] = max(objs) - min(objs) <= 1e-9 * max(objs)
    return out


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="speed_single.json")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="a smaller sweep (a minute or two)")
    ap.add_argument("--f1-time-limit", type=float, default=60.0)
    ap.add_argument("--skip", choices=("part1", "sweep", "part2"), action="append", default=[])
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
    if "sweep" not in args.skip:
        print("Sweep: hierarchical, decreasing shape, seed 11", flush=True)
        nodes, layers = ([10, 20, 30], [10, 20]) if args.quick else ([10, 20, 30, 40], [10, 20, 40])
        record["sweep"] = sweep(nodes, layers, args.f1_time_limit)
    if "part2" not in args.skip:
        print("Part 2: 1,000-node network, 150-layer chain", flush=True)
        p2 = record["large"] = part2(args.repeats)
        print(f"  {p2['instance']}  sizes {p2['sizes']}")
        print(f"  {'method':20s} {'build ms':>9s} {'solve ms':>9s} {'total ms':>9s} {'tracemalloc MiB':>16s} {'RSS growth MiB':>15s}")
        for name, e in p2["methods"].items():
            print(f"  {name:20s} {e['build'] * 1e3:9.1f} {e['solve'] * 1e3:9.1f} {e['total'] * 1e3:9.1f}"
                  f" {e['tracemalloc_peak'] / 2**20:16.1f} {e['rss_growth'] / 2**20:15.1f}")
        print(f"  {p2['default_method']} / materialised: {p2['ratio_layered_over_materialised_total']:.2f}x of build+solve,"
              f" {p2['ratio_layered_over_materialised_solve']:.2f}x of solve only (target <= 3x); objectives agree:"
              f" {p2['objectives_agree']}")
    with open(args.out, "w") as fh:
        json.dump(record, fh, indent=1, default=float)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
