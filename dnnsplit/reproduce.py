"""``make reproduce``: default instance sets -> default campaign -> ``paper_tables/``.

    python -m dnnsplit.reproduce            # about 20-30 minutes on a 2-core machine
    python -m dnnsplit.reproduce --quick    # under 3 minutes, written to build/reproduce-quick/
    python -m dnnsplit.reproduce --resume   # continue an interrupted run (same results file)

Steps: (1) write the default instance sets to ``instances/default/`` (deterministic files);
(2) run the campaign stages below with ``dnnsplit bench``'s runner (one process per solve, time
and memory limits, one JSON line per solve) into ``<out>/results/campaign.jsonl``; (3)
regenerate the tables, plots, ``index.md`` and ``machine.md`` in ``<out>`` with
``dnnsplit tables``. Each stage is (sets, pair patterns, repeats, time limit); patterns that
match no registered pair are skipped with a note, so the plan follows the registry.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

SIMPLE_SPLITS = ("local-only/*", "best-remote/*", "two-way-split/*")
SINGLE_EXACT = ("F1-weak/*", "F1-aggregated/*", "F2/*")
JOBS_SWEEP = ("F3-latency-lp/highspy", "F3-latency-lp/colgen", "F3-latency-milp/highspy", "F3-latency-milp/colgen")
EXIT_PAIRS = ("F3-exit-select-milp/highspy", "F3-exit-select-lp/highspy", "F3-exit-select-lp/colgen", "F3-energy-milp/highspy")


@dataclass(frozen=True)
class Stage:
    name: str
    sets: tuple[str, ...]
    pairs: tuple[str, ...]
    repeat: int
    time_limit: float
    max_instances: int | None = None


# Chosen to finish within about 30 minutes on the 2-core reference machine (README.md of
# paper_tables gives the measured duration). Repeats where a solve is cheap (small, medium);
# every F1 MILP runs on HiGHS, SCIP and CP-SAT there (T1 compares the solvers on the same
# models); on "large" the weak assignment MILP (O(L |N|^2) variables) does not finish within the
# limit, so it runs on two instances only (to show that), and the Pyomo/CP-SAT F1 backends not at
# all.
FULL: tuple[Stage, ...] = (
    Stage("single-job small", ("small",), (*SINGLE_EXACT, *SIMPLE_SPLITS), repeat=3, time_limit=60),
    Stage("single-job medium", ("medium",), (*SINGLE_EXACT, *SIMPLE_SPLITS), repeat=2, time_limit=60),
    Stage("single-job large", ("large",), ("F1-aggregated/highspy", "F2/*", *SIMPLE_SPLITS), repeat=1, time_limit=120),
    Stage("single-job large, F1-weak", ("large",), ("F1-weak/highspy",), repeat=1, time_limit=60, max_instances=2),
    Stage("profiles", ("profiles",), ("F2/highspy", "F2/layered-dijkstra", "F2/ortools-mcf", *SIMPLE_SPLITS), repeat=1, time_limit=60),
    Stage("multi-job small", ("multi-small",), ("F3-latency-lp/*", "F3-latency-milp/highspy", "F3-minmax-milp/highspy",
                                                 "F3-energy-lp/highspy", "greedy/*", "dina/*"), repeat=1, time_limit=60),
    # every F3 variant (memory, fixed exits, min-max and energy LPs/MILPs) on both fast backends,
    # and the MILPs on SCIP too (T1 compares HiGHS and SCIP on the same models)
    Stage("multi-job variants", ("multi-small",), ("F3-*/highspy", "F3-*/colgen", "F3-*-milp/scip"), repeat=1,
          time_limit=60),
    Stage("multi-job medium", ("multi-medium",), ("F3-latency-lp/highspy", "F3-latency-lp/colgen", "greedy/*", "dina/*"),
          repeat=1, time_limit=120),
    # T4/F4 (jobs sweep, arc vs path form, LP vs MILP) and the greedy/DINA rows of T6
    Stage("multi-job jobs sweep", ("multi-jobs",), (*JOBS_SWEEP, "greedy/*", "dina/*"), repeat=1, time_limit=120),
    # T5/F5 (energy against accuracy target and deadline, with and without exit selection)
    Stage("early exits", ("exits",), EXIT_PAIRS, repeat=1, time_limit=60),
    # F3 (FIN gap and time against gamma) and the FIN rows of T6: the exact reference once, FIN three times
    Stage("FIN reference", ("fin",), ("F3-exit-select-milp/highspy", "F3-exit-select-lp/highspy"), repeat=1, time_limit=60),
    Stage("FIN gamma", ("fin",), ("fin/g*",), repeat=3, time_limit=60),
)

QUICK: tuple[Stage, ...] = (
    Stage("single-job small", ("small",), ("F1-weak/highspy", "F1-aggregated/highspy", "F2/highspy", "F2/layered-dijkstra",
                                           "F2/ortools-mcf", *SIMPLE_SPLITS), repeat=2, time_limit=20, max_instances=4),
    Stage("profiles", ("profiles",), ("F2/layered-dijkstra", *SIMPLE_SPLITS), repeat=1, time_limit=20),
    Stage("multi-job small", ("multi-small",), ("F3-latency-lp/highspy", "greedy/rate"), repeat=1, time_limit=20, max_instances=2),
    Stage("multi-job jobs sweep", ("multi-jobs",), ("F3-latency-lp/highspy", "F3-latency-lp/colgen", "greedy/rate"), repeat=1,
          time_limit=20, max_instances=2),
    Stage("early exits", ("exits",), ("F3-exit-select-lp/highspy", "F3-energy-milp/highspy"), repeat=1, time_limit=20,
          max_instances=2),
    Stage("FIN gamma", ("fin",), ("F3-exit-select-milp/highspy", "fin/g10", "fin/g50"), repeat=1, time_limit=20,
          max_instances=2),
)


def _tasks(stage: Stage, instances_dir: Path, settings: object) -> tuple[list, list[str]]:
    from dnnsplit.campaign.tasks import CampaignError, plan, resolve_sets, select_pairs

    notes = []
    specs = []
    for pattern in stage.pairs:
        try:
            specs += [s for s in select_pairs([pattern]) if s not in specs]
        except CampaignError:
            notes.append(f"pattern {pattern!r} matches no registered pair: skipped")
    entries = resolve_sets(stage.sets, instances_dir, stage.max_instances)
    return plan(entries, sorted(specs, key=lambda s: s.key), stage.repeat, settings), notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dnnsplit.reproduce", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small subset, under 3 minutes")
    parser.add_argument("--out", default=None, help="tables folder (default paper_tables, or build/reproduce-quick with --quick)")
    parser.add_argument("--instances-dir", default="instances/default", help="where the default instance sets are written")
    parser.add_argument("--resume", action="store_true", help="continue the results file of an interrupted run")
    parser.add_argument("--memory-limit", default="4G", help="per-solve memory limit (default 4G)")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and stop")
    args = parser.parse_args(argv)

    from dnnsplit.campaign import CampaignError, Settings, parse_memory, run_campaign
    from dnnsplit import tables
    from instances.defaults import write_default_sets

    started = time.monotonic()
    stages = QUICK if args.quick else FULL
    out = Path(args.out or ("build/reproduce-quick" if args.quick else "paper_tables"))
    results = out / "results" / "campaign.jsonl"
    instances_dir = Path(args.instances_dir)

    needed = sorted({s for st in stages for s in st.sets})
    paths = write_default_sets(instances_dir, sets=needed if args.quick else None)
    print(f"[1/3] instance sets written to {instances_dir}/: {len(paths)} files", file=sys.stderr)

    plans = []
    for stage in stages:
        settings = Settings(time_limit=stage.time_limit, memory_limit=parse_memory(args.memory_limit))
        tasks, notes = _tasks(stage, instances_dir, settings)
        for note in notes:
            print(f"      {stage.name}: {note}", file=sys.stderr)
        plans.append((stage, settings, tasks))
        print(f"      stage {stage.name}: {len(tasks)} tasks (repeat {stage.repeat}, limit {stage.time_limit:g} s)", file=sys.stderr)
    if args.dry_run:
        return 0

    print(f"[2/3] campaign -> {results}", file=sys.stderr)
    try:
        for i, (stage, settings, tasks) in enumerate(plans):
            first = i == 0 and not args.resume
            print(f"      stage {stage.name}", file=sys.stderr)
            summary = run_campaign(tasks, results, settings, resume=not first, overwrite=first)
            statuses = ", ".join(f"{k} {v}" for k, v in sorted((summary.by_status or {}).items())) or "nothing new"
            print(f"      {stage.name}: {summary.ran} run ({statuses}), {summary.already} already done, {summary.skipped} skipped", file=sys.stderr)
    except CampaignError as err:
        print(f"reproduce: error: {err}", file=sys.stderr)
        return 2

    print(f"[3/3] tables -> {out}/", file=sys.stderr)
    try:
        ctx = tables.generate([results], out)
    except (tables.ResultsError, tables.TablesError) as err:
        print(f"reproduce: error: {err}", file=sys.stderr)
        return 2
    for o in ctx.outputs:
        print(f"      {o.name}: {', '.join(p.name for p in o.files)}", file=sys.stderr)
    for name, reason in ctx.skipped:
        print(f"      {name}: skipped ({reason})", file=sys.stderr)
    print(f"done in {(time.monotonic() - started) / 60:.1f} min: {out}/index.md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
