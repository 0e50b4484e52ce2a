"""The command line of a campaign: ``dnnsplit bench`` and ``python -m dnnsplit.campaign``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from dnnsplit.campaign.runner import run_campaign
from dnnsplit.campaign.tasks import (
    START_METHODS,
    WARMUP_MODES,
    CampaignError,
    Settings,
    parse_memory,
    plan,
    resolve_sets,
    select_pairs,
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
    parser.add_argument("--preload", choices=("solvers", "registry"), default="solvers",
                        help="what the fork server imports once: solver packages and the registry (default), or the registry only (faster start, first solves may pay lazy imports)")
    parser.add_argument("--ready-timeout", type=float, default=120.0, help="seconds allowed for loading the instance in the child (default 120); the warm-up gets --time-limit + --grace")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and exit")
    parser.add_argument("--quiet", action="store_true", help="no progress line")


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


def run_cli(args: argparse.Namespace) -> int:
    try:
        settings = settings_from_args(args)
        entries = resolve_sets(args.sets, Path(args.instances_dir), args.max_instances)
        specs = select_pairs(args.pairs)
        tasks = plan(entries, specs, args.repeat, settings)
        if args.dry_run:
            for t in tasks:
                print(f"{t.key}  {t.entry.set_name}  {t.entry.instance.name}  {t.spec.key}  r{t.repeat}")
            print(f"{len(tasks)} tasks; at most {len(tasks) * (settings.time_limit + settings.grace) / 60:.1f} min of solving", file=sys.stderr)
            return 0
        if not tasks:
            raise CampaignError("no task: no selected pair fits any selected instance")
        summary = run_campaign(tasks, Path(args.out), settings, resume=args.resume, overwrite=args.overwrite, progress=not args.quiet)
    except CampaignError as err:
        print(f"dnnsplit bench: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ndnnsplit bench: interrupted; finished solves are in {args.out} (continue with --resume)", file=sys.stderr)
        return 130
    statuses = ", ".join(f"{k} {v}" for k, v in sorted((summary.by_status or {}).items())) or "none run"
    print(
        f"{args.out}: {summary.planned} tasks: {summary.already} already done, {summary.ran} run ({statuses}), "
        f"{summary.skipped} skipped",
        file=sys.stderr,
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dnnsplit.campaign")
    add_arguments(parser)
    return run_cli(parser.parse_args(argv))
