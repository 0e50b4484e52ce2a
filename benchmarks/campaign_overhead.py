"""Per-task overhead of the campaign runner: what a short task costs beyond its solve.

    .venv/bin/python -m benchmarks.campaign_overhead [--sets small] [--rounds 3] [--workers 1 2] [--json out.json]

For each engine (``--workers 1``: sequential; ``--workers 2``: a 2-worker local Dask cluster,
where the overhead is the worker's: its own fork server's child) and each preload mode (``--preload``: ``solvers``, the default, where each fork server also
loads numba's compiled kernels and solves a tiny instance once; ``imports``, the solver packages
and the registry only, as before that) the same campaign (every instance of ``--sets`` with
``F2/layered-dijkstra``, ``local-only/heuristic``, ``F2/highspy``, ``F2/ortools-mcf``) runs
sequentially in a fresh ``python -m dnnsplit.campaign`` process, the modes alternating for
``--rounds`` rounds, side by side on the same machine. Overhead of a task = ``task_seconds``
(process start to result, as the runner saw it) - ``wall_time`` (the backend call); reported:
the median per engine, pair and mode, and the ratio. The first task of each run, and on Dask the
first task of each worker (which start the fork servers), are left out.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

PAIRS = ("F2/layered-dijkstra", "local-only/heuristic", "F2/highspy", "F2/ortools-mcf")
MODES = ("imports", "solvers")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.campaign_overhead", description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=["small"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="engines: 1 = sequential, N > 1 = N Dask workers")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    root = Path(__file__).resolve().parent.parent
    tmp = Path(tempfile.mkdtemp(prefix="campaign-overhead-"))
    engines = [("sequential" if w == 1 else f"dask-{w}", w) for w in args.workers]
    overhead: dict[tuple[str, str], dict[str, list[float]]] = {(e, m): {} for e, _ in engines for m in MODES}
    for r in range(args.rounds):
        for engine, workers in engines:
            for mode in MODES:
                out = tmp / f"{engine}-{mode}-{r}.jsonl"
                cmd = [sys.executable, "-m", "dnnsplit.campaign", "--sets", *args.sets, "--pairs", *PAIRS, "--out", str(out),
                       "--instances-dir", str(tmp / "instances"), "--preload", mode, "--time-limit", "60", "--quiet",
                       "--workers", str(workers)]
                subprocess.run(cmd, cwd=root, check=True, env=dict(os.environ))
                recs = [json.loads(x) for x in out.read_text().splitlines() if x.strip()]
                seen: set[str] = set()
                for rec in recs:
                    if rec.get("worker") not in seen:  # each fork server's first task starts it
                        seen.add(rec.get("worker"))
                        continue
                    overhead[(engine, mode)].setdefault(rec["pair"], []).append(
                        rec["task_seconds"] - (rec.get("wall_time") or 0.0))
    result: dict = {"sets": args.sets, "rounds": args.rounds, "load_average": os.getloadavg(), "median_overhead_s": {}}
    for engine, _ in engines:
        print(f"{engine}: median overhead per task (s), {args.rounds} rounds, sets {' '.join(args.sets)}:")
        print(f"  {'pair':24s} {'imports':>9s} {'solvers':>9s} {'ratio':>7s}")
        per = result["median_overhead_s"].setdefault(engine, {})
        for pair in [*PAIRS, "all"]:
            if pair == "all":
                a, b = (statistics.median([x for v in overhead[(engine, m)].values() for x in v]) for m in MODES)
            else:
                a, b = (statistics.median(overhead[(engine, m)][pair]) for m in MODES)
            per[pair] = {"imports": a, "solvers": b}
            print(f"  {pair:24s} {a:9.4f} {b:9.4f} {a / b:7.1f}")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
