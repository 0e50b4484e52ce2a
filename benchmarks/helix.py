"""The F5 measurements behind table T8 and figure F7, at 60 s and 600 s (issue 15).

Standalone script (not collected by pytest)::

    nice -n 10 .venv/bin/python benchmarks/helix.py --out /tmp/helix-bench          # both limits (about 2.5 h)
    nice -n 10 .venv/bin/python benchmarks/helix.py --out /tmp/helix-bench --limits 60
    nice -n 10 .venv/bin/python benchmarks/helix.py --out /tmp/helix-bench --resume  # continue

It runs the suite's campaign (one child process per solve, the wall-clock ``time_limit`` of
every backend, one record per solve; ``dnnsplit.campaign``) on the default sets ``llm-helix``
(the published 24-node LLaMA-70B case, read from ``../shared/helix``) and ``llm`` (generated
24- and 42-node datacenter clusters in one and three regions, edge clusters of 4, 8 and 16
devices), then writes T8 and F7 from the records with ``dnnsplit tables``. Per limit:

- 60 s, published case: F5-flow, F5-helix and Helix's own LP file (F5-helix-lpfile) on HiGHS
  and SCIP, F5-flow-nodes and F5-flow-plain on HiGHS, every LLM heuristic;
- 60 s, generated: F5-flow on HiGHS and SCIP, F5-helix on HiGHS, every LLM heuristic;
- 600 s, published case: F5-helix and F5-helix-lpfile on HiGHS and SCIP, F5-flow-plain on HiGHS;
- 600 s, generated: F5-flow and F5-helix on HiGHS for the 42-node clusters and the 16-device
  edge cluster.

One thread per solve, as everywhere in the suite. Results: ``<out>/results/helix-<limit>s.jsonl``;
tables and figures: ``<out>/`` (``t8_llm.md``, ``f7_llm.png``, ...).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

HEURISTICS = ("single-pipeline/*", "petals/*", "pipeedge/*")


@dataclass(frozen=True)
class Run:
    sets: tuple[str, ...]
    pairs: tuple[str, ...]
    time_limit: float
    instances: tuple[str, ...] = ()  # substrings of instance names to keep (empty: all)


RUNS = (
    Run(("llm-helix",), ("F5-flow/*", "F5-flow-nodes/highspy", "F5-flow-plain/highspy", "F5-helix/*",
                         "F5-helix-lpfile/*", *HEURISTICS), 60),
    Run(("llm",), ("F5-flow/*", "F5-helix/highspy", *HEURISTICS), 60),
    Run(("llm-helix",), ("F5-helix/*", "F5-helix-lpfile/*", "F5-flow-plain/highspy"), 600),
    Run(("llm",), ("F5-flow/highspy", "F5-helix/highspy"), 600, ("-n42-", "-edge-n16-")),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/helix.py", description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="output folder (results and tables)")
    parser.add_argument("--limits", type=float, nargs="+", default=[60.0, 600.0], help="time limits to run (s)")
    parser.add_argument("--instances-dir", default=None, help="where the default sets are written (default <out>/instances)")
    parser.add_argument("--memory-limit", default="8G", help="per-solve memory limit (default 8G)")
    parser.add_argument("--resume", action="store_true", help="continue the results files")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and stop")
    args = parser.parse_args(argv)

    from dnnsplit import tables
    from dnnsplit.campaign import Settings, parse_memory, plan, resolve_sets, run_campaign, select_pairs

    out = Path(args.out)
    instances_dir = Path(args.instances_dir or out / "instances")
    results = []
    for limit in args.limits:
        path = out / "results" / f"helix-{limit:g}s.jsonl"
        settings = Settings(time_limit=limit, memory_limit=parse_memory(args.memory_limit))
        tasks = []
        for run in (r for r in RUNS if r.time_limit == limit):
            entries = resolve_sets(run.sets, instances_dir)
            if run.instances:
                entries = [e for e in entries if any(s in e.instance.name for s in run.instances)]
            specs = []
            for pattern in run.pairs:
                specs += [s for s in select_pairs([pattern]) if s not in specs]
            tasks += plan(entries, sorted(specs, key=lambda s: s.key), 1, settings)
        if not tasks:
            print(f"limit {limit:g} s: no run is defined for it (RUNS)", file=sys.stderr)
            continue
        print(f"limit {limit:g} s: {len(tasks)} solves -> {path}", file=sys.stderr)
        if args.dry_run:
            for t in tasks:
                print(f"  {t.entry.instance.name} {t.spec.key}", file=sys.stderr)
            continue
        run_campaign(tasks, path, settings, resume=args.resume, overwrite=not args.resume)
        results.append(path)
    if args.dry_run or not results:
        return 0
    ctx = tables.generate(results, out, only=["T8", "F7"])
    for o in ctx.outputs:
        print(f"{o.name}: {', '.join(str(p) for p in o.files)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
