"""The command line of a campaign: ``dnnsplit bench`` and ``python -m dnnsplit.campaign``.

Engines: sequential by default (``--workers 1``; the timing reference), ``--workers N`` on a
local Dask cluster, ``--scheduler ADDRESS`` on an existing one; from Python,
``main(argv, client=...)`` runs on a caller's Dask client (e.g. a dask-jobqueue SLURMCluster,
see the README). Errors a user can fix (a bad argument, an unusable ``--out``, a lost
scheduler) are one line on stderr and exit 2; Ctrl-C exits 130 with what was kept.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from dnnsplit.campaign.runner import open_results, resume_state, run_campaign
from dnnsplit.campaign.tasks import (
    PRELOAD_MODES,
    START_METHODS,
    WARMUP_MODES,
    CampaignError,
    Settings,
    parse_memory,
    plan,
    resolve_sets,
    select_pairs,
    task_id,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = "Run a benchmark campaign: one process per solve, one JSON line per result."
    parser.add_argument("--sets", nargs="+", default=["small"], metavar="SET", help="default set names, instance files or folders (default: small)")
    parser.add_argument("--pairs", nargs="+", default=["*"], metavar="PATTERN", help="FORMULATION/BACKEND patterns (fnmatch), e.g. 'F2/*' (default: every registered pair)")
    parser.add_argument("--repeat", type=int, default=1, help="solves per (instance, pair), for noise estimates (default 1)")
    parser.add_argument("--time-limit", type=float, default=60.0, help="wall-clock seconds per solve, model build included (every backend; hard kill after it plus --grace)")
    parser.add_argument("--grace", type=float, default=5.0, help="seconds after the time limit before the child is killed (default 5)")
    parser.add_argument("--memory-limit", default=None, help="address space the solve may add, e.g. 4G (default: none)")
    parser.add_argument("--threads", type=int, default=1, help="solver threads (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mip-gap", type=float, default=None, help="relative MIP gap, a fraction (where accepted)")
    parser.add_argument("--warmup", choices=WARMUP_MODES, default="tiny", help="untimed warm-up solve in each child (default tiny)")
    parser.add_argument("--out", default="results/campaign.jsonl", help="results file, JSON lines (default results/campaign.jsonl)")
    parser.add_argument("--resume", action="store_true", help="skip tasks already in --out (repairs a truncated last line)")
    parser.add_argument("--overwrite", action="store_true", help="start --out again from empty")
    parser.add_argument("--instances-dir", default="instances/default", help="where named default sets are written (default instances/default)")
    parser.add_argument("--max-instances", type=int, default=None, help="at most N instances per set, evenly spread")
    parser.add_argument("--start-method", choices=START_METHODS, default="forkserver")
    parser.add_argument("--preload", choices=PRELOAD_MODES, default="solvers",
                        help="what the fork server loads once: solvers = solver packages, the registry and numba's compiled kernels (default: dnnsplit/campaign/preload.py); imports = the packages and the registry only (each child loads the kernels: for comparison); registry = the registry only (fastest start; each solve pays its lazy imports)")
    parser.add_argument("--ready-timeout", type=float, default=120.0, help="seconds allowed for loading the instance in the child (default 120); the warm-up gets --time-limit + --grace")
    parser.add_argument("--keep-other-versions", action="store_true",
                        help="with --resume: count records measured by another code version as done (default: refuse them)")
    engines = parser.add_argument_group("engines (default: one solve at a time, the timing reference)")
    engines.add_argument("--workers", type=int, default=1, metavar="N",
                         help="run N solves at once on a local Dask cluster of single-threaded worker processes (default 1: sequential)")
    engines.add_argument("--scheduler", default=None, metavar="ADDRESS",
                         help="run on an existing Dask scheduler: tcp://HOST:PORT or a scheduler file")
    engines.add_argument("--retries", type=int, default=2,
                         help="times a task whose worker died mid-solve is run again before it is recorded as error (default 2; local cluster)")
    engines.add_argument("--shared-instances", action="store_true",
                         help="Dask workers read the instance files from the same paths (a shared file system) instead of receiving them")
    parser.add_argument("--dry-run", action="store_true", help="print the tasks left (after --resume) and exit; writes nothing")
    parser.add_argument("--quiet", action="store_true", help="no banner and no progress line")


def settings_from_args(args: argparse.Namespace) -> Settings:
    if not args.time_limit > 0:
        raise CampaignError(f"--time-limit must be > 0, got {args.time_limit}")
    if args.repeat < 1:
        raise CampaignError(f"--repeat must be >= 1, got {args.repeat}")
    if args.grace < 0:
        raise CampaignError(f"--grace must be >= 0, got {args.grace}")
    return Settings(
        time_limit=args.time_limit,
        grace=args.grace,
        memory_limit=parse_memory(args.memory_limit),
        threads=args.threads,
        seed=args.seed,
        mip_gap=args.mip_gap,
        warmup=args.warmup,
        ready_timeout=args.ready_timeout,
        start_method=args.start_method,
        preload=args.preload,
    )


def make_engine(args: argparse.Namespace, client: object = None) -> object:
    """None (sequential), or a Dask engine for --workers N > 1, --scheduler or a given client."""
    if args.scheduler and args.workers not in (None, 1):
        raise CampaignError("--workers and --scheduler exclude each other: --workers starts a local cluster")
    if args.workers is not None and args.workers < 1:
        raise CampaignError(f"--workers must be >= 1, got {args.workers}")
    if client is None and not args.scheduler and (args.workers or 1) == 1:
        return None
    from dnnsplit.campaign.dask_engine import DaskEngine

    return DaskEngine(workers=args.workers, scheduler=args.scheduler, client=client, retries=args.retries,
                      shared_instances=args.shared_instances)


def dry_run(tasks: list, out: Path, settings: Settings, args: argparse.Namespace) -> None:
    """The tasks left after --resume, one line each, and their count; nothing is written."""
    existing = open_results(out, resume=args.resume, overwrite=args.overwrite, dry_run=True)
    state = resume_state(tasks, existing, keep_other_versions=args.keep_other_versions, out=out)
    left = [t for t in tasks if task_id(t.key) not in state.status_of]
    for t in left:
        print(f"{t.key}  {t.entry.set_name}  {t.entry.instance.name}  {t.spec.key}  r{t.repeat}")
    repeats = sum(1 for t in left if t.repeat > 0)
    done = len(tasks) - len(left)
    print(f"{len(tasks)} tasks planned, {done} done in {out}, {len(left)} left"
          + (f" ({repeats} repeats, which run only where repeat 0 solved)" if repeats else "")
          + f"; at most {len(left) * (settings.time_limit + settings.grace) / 60:.1f} min of solving (every solve at its limit)."
          " Nothing was written.", file=sys.stderr)


def terminate_as_interrupt() -> object:
    """SIGTERM (a batch system ending the job, ``kill``) stops a campaign like Ctrl-C: the
    solves in flight are killed, the records written stay, and the run can be resumed.
    Returns the previous handler (None off the main thread, where nothing changes)."""
    import signal
    import threading

    def raise_interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, raise_interrupt)


def _restore_terminate(previous: object) -> None:
    import signal

    if previous is not None:
        signal.signal(signal.SIGTERM, previous)


def run_cli(args: argparse.Namespace, client: object = None) -> int:
    engine = None
    out = Path(args.out)
    previous_term = terminate_as_interrupt()
    try:
        settings = settings_from_args(args)
        # a dry run plans from instances generated in memory (same hashes), so it writes nothing
        instances_dir = None if args.dry_run else Path(args.instances_dir)
        entries = resolve_sets(args.sets, instances_dir, args.max_instances)
        specs = select_pairs(args.pairs)
        tasks = plan(entries, specs, args.repeat, settings)
        if args.dry_run:
            dry_run(tasks, out, settings, args)
            return 0
        if not tasks:
            raise CampaignError("no task: no selected pair fits any selected instance")
        engine = make_engine(args, client)
        summary = run_campaign(tasks, out, settings, resume=args.resume, overwrite=args.overwrite,
                               progress=not args.quiet, engine=engine, keep_other_versions=args.keep_other_versions)
    except CampaignError as err:
        print(f"dnnsplit bench: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ndnnsplit bench: interrupted; finished solves are in {out} (continue with --resume)", file=sys.stderr)
        return 130
    finally:
        if engine is not None:
            try:
                engine.close()
            except KeyboardInterrupt:
                pass
        _restore_terminate(previous_term)  # a Python caller (a test, a script) gets its handler back
    statuses = ", ".join(f"{k} {v}" for k, v in sorted((summary.by_status or {}).items())) or "none run"
    print(
        f"{out}: {summary.planned} tasks: {summary.already} already done, {summary.ran} run ({statuses}), "
        f"{summary.skipped} skipped; errors {summary.failed}, stopped by a limit {summary.limits}",
        file=sys.stderr,
    )
    return 0


def main(argv: Sequence[str] | None = None, client: object = None) -> int:
    """``dnnsplit bench`` with ``argv``; ``client``: run on this Dask client (a Python caller's
    own cluster, e.g. dask-jobqueue's SLURMCluster) instead of --workers/--scheduler."""
    parser = argparse.ArgumentParser(prog="python -m dnnsplit.campaign")
    add_arguments(parser)
    return run_cli(parser.parse_args(argv), client=client)
