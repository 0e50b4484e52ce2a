"""``make reproduce``: default instance sets -> default campaign -> ``paper_tables/``.

    python -m dnnsplit.reproduce            # about 20-30 minutes on a 2-core machine
    python -m dnnsplit.reproduce --quick    # under 3 minutes, written to build/reproduce-quick/
    python -m dnnsplit.reproduce --resume   # continue an interrupted run (same results file)
    python -m dnnsplit.reproduce --workers 2   # two solves at once on a local Dask cluster
    python -m dnnsplit.reproduce --dry-run [--resume]   # the plan and what is left; writes nothing

Steps: (1) write the default instance sets to ``instances/default/`` (deterministic files);
(2) run the campaign stages below with ``dnnsplit bench``'s runner (one process per solve, time
and memory limits, one JSON line per solve) into ``<out>/results/campaign.jsonl``; (3)
regenerate the tables, plots, ``index.md`` and ``machine.md`` in ``<out>`` with
``dnnsplit tables``. Each stage is (sets, pair patterns, repeats, time limit); patterns that
match no registered pair are skipped with a note, so the plan follows the registry.

Stages are numbered (``stage 3/12``) and one progress line runs over all of them, with an
overall ETA (per (pair, set) durations from this run, else from the results being resumed,
else from the reference records in ``paper_tables/results/``). ``make reproduce`` starts the
results file again; ``make reproduce RESUME=1`` continues it (records of another code version
are refused unless ``--keep-other-versions``); ``make reproduce WORKERS=N`` runs N solves at once
(a local Dask cluster; timing then differs, see paper_tables/README.md, "Parallel campaigns").
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
    # T4/F4 branch-and-price row group (exact unsplittable optima on the sweep, about 10 s in all)
    Stage("jobs sweep branch-and-price", ("multi-jobs",), ("F3-latency-milp/colgen-bp",), repeat=1, time_limit=120),
    # exact unsplittable optima on multi-medium, where the arc MILP does not run: T6 measures greedy and
    # DINA there against a proven optimum wherever branch-and-price closes it (about 2 min)
    Stage("multi-medium branch-and-price", ("multi-medium",), ("F3-latency-milp/colgen-bp",), repeat=1, time_limit=60),
    # T5/F5 (energy against accuracy target and deadline, with and without exit selection)
    Stage("early exits", ("exits",), EXIT_PAIRS, repeat=1, time_limit=60),
    # F3 (FIN gap and time against gamma) and the FIN rows of T6: the exact reference once, FIN three times
    Stage("FIN reference", ("fin",), ("F3-exit-select-milp/highspy", "F3-exit-select-lp/highspy"), repeat=1, time_limit=60),
    Stage("FIN gamma", ("fin",), ("fin/g*",), repeat=3, time_limit=60),
    # T8/F7, light (about 2-3 min): the published Helix case (F5-flow, Helix's MILP reconstructed and
    # its own LP file at 30 s), four generated clusters at 10 s; 60 s and 600 s runs: benchmarks/helix.py
    Stage("LLM pipelines (Helix case)", ("llm-helix",), ("F5-flow/highspy", "F5-helix/highspy", "F5-helix-lpfile/highspy",
                                                        "single-pipeline/*", "petals/*", "pipeedge/*"), repeat=1, time_limit=30),
    Stage("LLM pipelines (generated)", ("llm",), ("F5-flow/highspy", "single-pipeline/*", "petals/aligned", "pipeedge/*"),
          repeat=1, time_limit=10, max_instances=4),
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
    Stage("LLM pipelines (Helix case)", ("llm-helix",), ("F5-flow/highspy", "single-pipeline/*"), repeat=1, time_limit=20),
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


REFERENCE_RECORDS = Path("paper_tables/results/campaign.jsonl")  # durations for the ETA before a stage ran


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dnnsplit.reproduce", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small subset, under 3 minutes")
    parser.add_argument("--out", default=None, help="tables folder (default paper_tables, or build/reproduce-quick with --quick)")
    parser.add_argument("--instances-dir", default="instances/default", help="where the default instance sets are written")
    parser.add_argument("--resume", action="store_true",
                        help="continue the results file of an interrupted run (make reproduce RESUME=1); default: start it again")
    parser.add_argument("--keep-other-versions", action="store_true",
                        help="with --resume: count records of another code version as done (default: refuse them)")
    parser.add_argument("--workers", type=int, default=1,
                        help="solves at once on a local Dask cluster (make reproduce WORKERS=N; default 1: sequential, the timing reference)")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS", help="run on an existing Dask scheduler instead")
    parser.add_argument("--memory-limit", default="4G", help="per-solve memory limit (default 4G)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the plan and what is left (after --resume) and stop; writes nothing")
    args = parser.parse_args(argv)

    from dnnsplit.campaign import CampaignError, Settings, parse_memory, run_campaign
    from dnnsplit.campaign.progress import Progress, banner, clock
    from dnnsplit.campaign.records import read_existing
    from dnnsplit.campaign.runner import open_results, other_versions_error, resume_state
    from dnnsplit.campaign.tasks import task_id
    from dnnsplit import tables
    from instances.defaults import write_default_sets

    from dnnsplit.campaign.cli import terminate_as_interrupt

    terminate_as_interrupt()
    started = time.monotonic()
    stages = QUICK if args.quick else FULL
    out = Path(args.out or ("build/reproduce-quick" if args.quick else "paper_tables"))
    results = out / "results" / "campaign.jsonl"
    instances_dir = Path(args.instances_dir)
    n = len(stages)

    try:
        if args.dry_run:  # plan from instances generated in memory (the same hashes): nothing is written
            plan_dir = None
            print("[1/3] instance sets: planned in memory (--dry-run writes nothing)", file=sys.stderr)
        else:
            needed = sorted({s for st in stages for s in st.sets})
            paths = write_default_sets(instances_dir, sets=needed if args.quick else None)
            plan_dir = instances_dir
            print(f"[1/3] instance sets written to {instances_dir}/: {len(paths)} files", file=sys.stderr)

        existing = open_results(results, resume=args.resume, overwrite=not args.resume, dry_run=True)
        plans = []
        other_versions: dict[str, int] = {}
        for i, stage in enumerate(stages, 1):
            settings = Settings(time_limit=stage.time_limit, memory_limit=parse_memory(args.memory_limit))
            tasks, notes = _tasks(stage, plan_dir, settings)
            state = resume_state(tasks, existing, keep_other_versions=True, out=results)
            for version, count in state.other_versions.items():
                other_versions[version] = other_versions.get(version, 0) + count
            left = [t for t in tasks if task_id(t.key) not in state.status_of]
            for note in notes:
                print(f"      stage {i}/{n} {stage.name}: {note}", file=sys.stderr)
            plans.append((stage, settings, tasks, left))
            done = f", {len(tasks) - len(left)} done, {len(left)} left" if args.resume else ""
            print(f"      stage {i}/{n} {stage.name}: {len(tasks)} tasks{done} (repeat {stage.repeat}, limit {stage.time_limit:g} s)",
                  file=sys.stderr)
        if other_versions and not args.keep_other_versions:
            raise other_versions_error(results, other_versions)
    except CampaignError as err:
        print(f"reproduce: error: {err}", file=sys.stderr)
        return 2

    bar = Progress()
    for stage, settings, tasks, left in plans:
        bar.add_tasks(tasks, settings)
        left_ids = {task_id(t.key) for t in left}
        bar.mark_done([t for t in tasks if task_id(t.key) not in left_ids])
    bar.prior_from_records(existing)
    if REFERENCE_RECORDS.is_file() and REFERENCE_RECORDS.resolve() != results.resolve():
        try:
            bar.prior_from_records(read_existing(REFERENCE_RECORDS, repair=False))
        except CampaignError:
            pass
    total = sum(len(p[2]) for p in plans)
    left_total = sum(len(p[3]) for p in plans)
    engine_text = "sequential" if args.workers == 1 and not args.scheduler else (
        f"{args.workers} workers (local Dask cluster)" if not args.scheduler else f"Dask scheduler {args.scheduler}")
    workers = args.workers if not args.scheduler else 1
    print(f"      {banner(total, left_total, [p[1] for p in plans], bar.estimate, engine_text, workers)}", file=sys.stderr)
    if args.dry_run:
        print("      dry run: nothing was written", file=sys.stderr)
        return 0

    print(f"[2/3] campaign -> {results}" + (" (resumed)" if args.resume else ""), file=sys.stderr)
    engine = None
    try:
        if args.workers > 1 or args.scheduler:
            from dnnsplit.campaign.dask_engine import DaskEngine

            engine = DaskEngine(workers=args.workers if not args.scheduler else None, scheduler=args.scheduler)
        for i, (stage, settings, tasks, left) in enumerate(plans, 1):
            first = i == 1 and not args.resume
            bar.stage = f"stage {i}/{n}"
            bar.say(f"      stage {i}/{n} {stage.name}: {len(tasks)} tasks, overall eta {clock(bar.eta())}")
            summary = run_campaign(tasks, results, settings, resume=not first, overwrite=first, progress=bar, engine=engine,
                                   keep_other_versions=args.keep_other_versions)
            statuses = ", ".join(f"{k} {v}" for k, v in sorted((summary.by_status or {}).items())) or "nothing new"
            bar.say(f"      stage {i}/{n} {stage.name}: {summary.ran} run ({statuses}), {summary.already} already done, "
                    f"{summary.skipped} skipped")
    except CampaignError as err:
        bar.finish()
        print(f"reproduce: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        bar.finish()
        print(f"\nreproduce: interrupted; finished solves are in {results} (continue with make reproduce RESUME=1, "
              f"or python -m dnnsplit.reproduce --resume)", file=sys.stderr)
        return 130
    finally:
        if engine is not None:
            engine.close()
    bar.finish()

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
