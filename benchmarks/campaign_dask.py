"""Throughput of the campaign engines on many short solves: sequential against a local Dask cluster.

    .venv/bin/python -m benchmarks.campaign_dask --out /tmp/campaign-dask [--workers 2] [--max-networks N]
    .venv/bin/python -m benchmarks.campaign_dask --out /tmp/campaign-dask --summarise-only   # the files already there

Tasks: every measured DNN profile (``instances.profiles.PROFILE_NAMES``) on every loadable
Internet Topology Zoo network of ``../shared/topologies/topology_zoo_gml.tar.gz`` (one job,
the generator's defaults, seed 0), solved by the fast exact pairs ``F2/layered-dijkstra`` and
``F2/ortools-mcf``: 12 x 253 x 2 = 6,072 solves of milliseconds each, where the engines'
overheads show. The same tasks run twice through ``dnnsplit bench``'s runner, first sequentially
(the timing reference) then on a ``--workers``-worker local cluster, each into its own results
file under ``--out``; instances are generated once into ``--out/instances``.

Reported (``--out/summary.json`` and ``summary.md``):

- wall time, solves per second and the speed-up of the cluster over the sequential run;
- per-task overhead of the runner (the whole task as the worker saw it, ``task_seconds``,
  minus the backend's ``wall_time``): process start, instance load, warm-up, result;
- scheduler overhead per task on the cluster: (wall x workers - sum of ``task_seconds``) / tasks,
  the time a worker was not running a task (scheduling, transfer, the client writing records);
  the same figure for the sequential run is the client's own bookkeeping per task;
- solve-time inflation: per task, ``solve_time`` on the cluster / ``solve_time`` sequentially;
  medians per pair (times of a few microseconds are dominated by noise: read them as orders).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

PAIRS = ("F2/layered-dijkstra", "F2/ortools-mcf")


def build_instances(folder: Path, max_networks: int | None) -> list[Path]:
    """One instance file per (Zoo network, profile DNN); reused when already written."""
    from instances.generate import generate
    from instances.io import save
    from instances.profiles import PROFILE_NAMES
    from instances.topologies import DEFAULT_ZOO_ARCHIVE, TopologyError, zoo_names

    folder.mkdir(parents=True, exist_ok=True)
    names = zoo_names(DEFAULT_ZOO_ARCHIVE)
    if max_networks:
        names = names[:max_networks]
    paths = []
    refused = 0
    t0 = time.monotonic()
    for i, zname in enumerate(names):
        for model in PROFILE_NAMES:
            path = folder / f"zoo-{zname}-{model}.json"
            if not path.exists():
                try:
                    inst = generate("zoo", seed=0, model=model, zoo_archive=str(DEFAULT_ZOO_ARCHIVE), zoo_name=zname,
                                    name=f"zoo-{zname}-{model}")
                except TopologyError:
                    refused += 1
                    break  # the network is refused whatever the model
                save(inst, path)
            paths.append(path)
        if (i + 1) % 25 == 0:
            print(f"  instances: {i + 1}/{len(names)} networks, {len(paths)} files, {time.monotonic() - t0:.0f} s",
                  file=sys.stderr, flush=True)
    print(f"  {len(paths)} instances from {len(names) - refused} loadable networks ({refused} refused)", file=sys.stderr)
    return paths


def run(tasks: list[Any], out: Path, settings: Any, engine: Any) -> float:
    from dnnsplit.campaign.runner import run_campaign

    t0 = time.perf_counter()
    run_campaign(tasks, out, settings, overwrite=True, progress=True, engine=engine)
    return time.perf_counter() - t0


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def _stamp(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text).timestamp()


def matched_walls(files: dict[str, Path]) -> tuple[dict[str, list[dict[str, Any]]], dict[str, float]]:
    """The records of the tasks present in every file (an interrupted cluster run: its first N
    tasks, which are the sequential run's first N, in plan order) and each run's wall over them,
    from the records' clocks (first start to last end; 1 s resolution)."""
    recs = {name: _read(path) for name, path in files.items()}
    common = set.intersection(*({r["key"] for r in rs} for rs in recs.values()))
    recs = {name: [r for r in rs if r["key"] in common] for name, rs in recs.items()}
    walls = {name: max(_stamp(r["finished_at"]) for r in rs) - min(_stamp(r["started_at"]) for r in rs)
             for name, rs in recs.items()}
    return recs, walls


def summarise(tasks: int, workers: int, walls: dict[str, float], files: dict[str, Path],
              recs: dict[str, list[dict[str, Any]]] | None = None) -> dict[str, Any]:
    from dnnsplit import machine

    recs = recs or {name: _read(path) for name, path in files.items()}
    out: dict[str, Any] = {"tasks": tasks, "workers": workers, "pairs": list(PAIRS), "machine": machine.summary(),
                           "engines": {}}
    for name, rs in recs.items():
        n = len(rs)
        task_s = [r["task_seconds"] for r in rs if r.get("task_seconds") is not None]
        overhead = [r["task_seconds"] - (r.get("wall_time") or 0.0) for r in rs if r.get("task_seconds") is not None]
        w = workers if name == "dask" else 1
        out["engines"][name] = {
            "records": n,
            "wall_s": walls[name],
            "solves_per_s": n / walls[name],
            "median_task_s": statistics.median(task_s),
            "median_runner_overhead_s": statistics.median(overhead),
            "scheduler_overhead_per_task_s": (walls[name] * w - sum(task_s)) / n,
            "statuses": {s: sum(1 for r in rs if r["status"] == s) for s in sorted({r["status"] for r in rs})},
            "concurrent_solves_max": max(r.get("concurrent_solves") or 1 for r in rs),
        }
    seq = {r["key"]: r for r in recs["sequential"]}
    par = {r["key"]: r for r in recs["dask"]}
    ratios: dict[str, list[float]] = {}
    for key, r in par.items():
        s = seq.get(key)
        if s and s.get("solve_time") and r.get("solve_time"):
            ratios.setdefault(r["pair"], []).append(r["solve_time"] / s["solve_time"])
    out["solve_time_ratio_median"] = {p: statistics.median(v) for p, v in sorted(ratios.items())}
    out["solve_time_ratio_median_all"] = statistics.median([x for v in ratios.values() for x in v]) if ratios else None
    out["same_results"] = all(
        seq[k]["status"] == par[k]["status"] and seq[k].get("evaluated_objective") == par[k].get("evaluated_objective")
        for k in par if k in seq) and set(seq) == set(par)
    out["speed_up"] = walls["sequential"] / walls["dask"]
    return out


def markdown(s: dict[str, Any]) -> str:
    seq, par = s["engines"]["sequential"], s["engines"]["dask"]
    lines = [
        f"{s['tasks']} solves ({', '.join(s['pairs'])}; every profile DNN on every loadable Topology Zoo network), "
        f"sequential against a {s['workers']}-worker local Dask cluster, on {s['machine']}.",
        "",
        "| engine | wall | solves/s | median task | runner overhead / task | scheduler overhead / task |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, e in (("sequential", seq), (f"dask, {s['workers']} workers", par)):
        lines.append(f"| {name} | {e['wall_s']:.0f} s | {e['solves_per_s']:.1f} | {e['median_task_s'] * 1e3:.0f} ms | "
                     f"{e['median_runner_overhead_s'] * 1e3:.0f} ms | {e['scheduler_overhead_per_task_s'] * 1e3:.1f} ms |")
    ratios = ", ".join(f"{p} {v:.2f}" for p, v in s["solve_time_ratio_median"].items())
    lines += ["", f"Speed-up {s['speed_up']:.2f}x; same statuses and objectives: {s['same_results']}; "
                  f"median solve-time ratio (cluster / sequential, per task): {ratios}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.campaign_dask", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="/tmp/campaign-dask", help="folder for instances, results and the summary")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-networks", type=int, default=None, help="only the first N Zoo networks (a smoke run)")
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--summarise-only", action="store_true",
                        help="solve nothing: summarise the results files already in --out over the tasks both hold "
                             "(walls from the records' clocks), e.g. after an interrupted cluster run")
    parser.add_argument("--cluster-only", action="store_true",
                        help="run the cluster part only, against the sequential results already in --out")
    args = parser.parse_args(argv)
    out = Path(args.out)
    files = {"sequential": out / "sequential.jsonl", "dask": out / "dask.jsonl"}
    if args.summarise_only:
        recs, walls = matched_walls(files)
        summary = summarise(len(recs["dask"]), args.workers, walls, files, recs)
        summary["walls_from"] = "record clocks over the tasks both files hold"
        (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        (out / "summary.md").write_text(markdown(summary))
        print(markdown(summary))
        return 0

    from dnnsplit.campaign.dask_engine import DaskEngine
    from dnnsplit.campaign.tasks import InstanceEntry, Settings, plan, select_pairs
    from instances.io import load

    paths = build_instances(out / "instances", args.max_networks)
    entries = [InstanceEntry("zoo-profiles", p, load(p)) for p in paths]
    settings = Settings(time_limit=args.time_limit)
    tasks = plan(entries, select_pairs(list(PAIRS)), 1, settings)
    print(f"{len(tasks)} tasks", file=sys.stderr)
    if args.cluster_only and files["sequential"].is_file():  # the sequential run already there: its wall from its clocks
        seq = _read(files["sequential"])
        walls = {"sequential": max(_stamp(r["finished_at"]) for r in seq) - min(_stamp(r["started_at"]) for r in seq)}
    else:
        walls = {"sequential": run(tasks, files["sequential"], settings, None)}
    engine = DaskEngine(workers=args.workers)
    try:
        walls["dask"] = run(tasks, files["dask"], settings, engine)
    finally:
        engine.close()
    summary = summarise(len(tasks), args.workers, walls, files)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "summary.md").write_text(markdown(summary))
    print(markdown(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
