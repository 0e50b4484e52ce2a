"""The ``dnnsplit`` command: generate, validate, show, solve, bench, tables.

The one command line, above everything it calls. Subcommands whose logic lives elsewhere are
wired through two functions in their own module, ``add_arguments(parser)`` and
``run_cli(args) -> int``, imported only when used.
Every expected failure (bad instance, bad option, unknown backend) prints one line to stderr
and exits non-zero; no traceback reaches the user.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Any, Sequence

from dnnsplit.options import UnsupportedOption

# subcommand -> (module with add_arguments/run_cli, help)
DELEGATED = {
    "bench": ("dnnsplit.campaign.cli", "run a benchmark campaign, one process per solve"),
    "tables": ("dnnsplit.tables", "turn results into tables and plots"),
}


class CliError(Exception):
    """An expected failure: printed as one line, exit status 2."""


def _cmd_validate(args: argparse.Namespace) -> int:
    from instances.io import load

    bad = 0
    for path in args.files:
        try:
            inst = load(path)
        except Exception as err:  # InstanceError carries file, field path and reason
            print(f"invalid: {err}", file=sys.stderr)
            bad += 1
            continue
        print(f"ok: {path} ({inst.name}, hash {inst.hash})")
    return 1 if bad else 0


def _cmd_show(args: argparse.Namespace) -> int:
    from instances.io import load

    inst = load(args.file)
    net = inst.network
    print(f"instance {inst.name}  hash {inst.hash}")
    print(f"  sizes: {json.dumps(inst.sizes)}")
    tiers: dict[str, int] = {}
    for t in net.tier:
        tiers[t] = tiers.get(t, 0) + 1
    print(f"  nodes by tier: {tiers}")
    if net.num_links:
        print(
            f"  bandwidth {net.bandwidth.min():.3g}..{net.bandwidth.max():.3g} B/s, "
            f"delay {net.delay.min():.3g}..{net.delay.max():.3g} s"
        )
    for m in inst.models:
        print(
            f"  model {m.name}: {m.num_layers} layers, {m.flops.sum():.4g} FLOP, "
            f"{len(m.exits)} exits, measured on {sorted(m.measured_time) or 'none'}"
        )
    for j in inst.jobs[: args.max_jobs]:
        print(
            f"  job {j.name}: {inst.models[j.model].name} {net.node_names[j.source]} -> {net.node_names[j.sink]}"
            f" rate {j.rate:g}/s deadline {j.deadline} accuracy {j.accuracy_target}"
        )
    if len(inst.jobs) > args.max_jobs:
        print(f"  ... {len(inst.jobs) - args.max_jobs} more jobs")
    if inst.generator:
        print(f"  generator: {json.dumps(dict(inst.generator), sort_keys=True)}")
    return 0


def _cmd_solve(args: argparse.Namespace) -> int:
    from dnnsplit import catalogue as registry
    from dnnsplit.options import SolverOptions
    from dnnsplit.results import Status

    if args.list:
        rows = registry.specs()
        width = max((len(s.formulation) for s in rows), default=10)
        for s in rows:
            print(f"{s.formulation:<{width}}  {s.backend:<18} {s.problem:<6} {s.kind:<9} {s.description}")
        return 0
    if not args.instance or not args.formulation or not args.backend:
        raise CliError("solve needs INSTANCE, --formulation and --backend (or --list)")
    from instances.io import load

    inst = load(args.instance)
    try:
        spec = registry.get(args.formulation, args.backend)
    except KeyError as err:
        raise CliError(str(err.args[0])) from None
    raw = {}
    for item in args.option or []:
        if "=" not in item:
            raise CliError(f"--option expects NAME=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        try:
            raw[k] = json.loads(v)
        except json.JSONDecodeError:
            raw[k] = v
    opts = SolverOptions(
        time_limit=args.time_limit,
        mip_gap=args.mip_gap,
        threads=args.threads,
        seed=args.seed,
        lp_algorithm=args.lp_algorithm,
        raw=raw,
    )
    result = registry.run(spec, inst, opts)
    if args.json:
        print(result.to_json(indent=1))
    else:
        fmt = lambda x: "-" if x is None else f"{x:.9g}"  # noqa: E731
        print(f"{spec.key} on {inst.name}: {result.status.value}")
        print(f"  objective {fmt(result.objective)} ({result.objective_name}), evaluated {fmt(result.evaluated_objective)}")
        print(f"  bound {fmt(result.bound)}  gap {fmt(result.gap)}  LP relaxation {fmt(result.lp_relaxation)}")
        print(f"  build {result.build_time:.4f} s  solve {result.solve_time:.4f} s  wall {result.wall_time:.4f} s")
        if result.message:
            print(f"  message: {result.message}")
        if result.decision and len(result.decision) == 1:
            (routes,) = result.decision.values()
            names = inst.network.node_names
            for r in routes:
                print(f"  share {r.share:.3g}: " + " ".join(names[n] for n in r.placement))
    return 0 if result.status not in (Status.ERROR, Status.MEMORY_OUT) else 1


def _generate_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``dnnsplit generate``."""
    from instances.generate import FAMILIES

    parser.add_argument("family", nargs="?", help=f"one of {', '.join(FAMILIES)}")
    parser.add_argument("--seed", type=int, default=0, help="seed of numpy default_rng (default 0)")
    parser.add_argument("--nodes", type=int, default=20, help="nodes (grid: rounded to a rectangle; zoo: ignored)")
    parser.add_argument("--layers", type=int, default=10, help="layers of a synthetic model (profiles keep theirs)")
    parser.add_argument("--jobs", type=int, default=1, help="number of jobs (default 1)")
    parser.add_argument("--model", default="synthetic", help="'synthetic' or a measured profile name")
    parser.add_argument("--name", help="instance name (default: descriptive)")
    parser.add_argument("--param", "-p", action="append", default=[], metavar="K=V",
                        help="extra parameter; V is parsed as JSON when it can be (e.g. exits=2, models='[\"alexnet\"]')")
    parser.add_argument("--zoo-file", help="a Topology Zoo .gml file (family zoo)")
    parser.add_argument("--zoo-archive", help="the Topology Zoo archive (family zoo, with --zoo-name)")
    parser.add_argument("--zoo-name", help="network name inside --zoo-archive, e.g. Abilene")
    parser.add_argument("--default-set", help="write a named default set (or 'all') to the --out directory")
    parser.add_argument("--out", "-o", help="output file (one instance) or directory (--default-set); default stdout")


def _parse_params(items: list[str], error: type[Exception]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise error(f"--param expects K=V, got {item!r}")
        k, v = item.split("=", 1)
        try:
            out[k.strip()] = json.loads(v)
        except json.JSONDecodeError:
            out[k.strip()] = v
    return out


def _cmd_generate(args: argparse.Namespace) -> int:
    """``dnnsplit generate``: one instance, or a default set; errors are one line, exit 2."""
    from instances.generate import GenerationError, generate
    from instances.io import InstanceError, dumps, save

    try:
        if args.default_set:
            from instances.defaults import SET_NAMES, write_default_sets

            if args.family:
                raise GenerationError("give either FAMILY or --default-set, not both")
            if not args.out:
                raise GenerationError("--default-set needs --out DIR")
            sets = list(SET_NAMES) if args.default_set == "all" else [args.default_set]
            paths = write_default_sets(Path(args.out), sets)
            print(f"wrote {len(paths)} instances under {args.out}")
            return 0
        if not args.family:
            raise GenerationError("give FAMILY or --default-set NAME")
        params = _parse_params(args.param, GenerationError)
        for key in ("zoo_file", "zoo_archive", "zoo_name"):
            if getattr(args, key) is not None:
                params[key] = getattr(args, key)
        inst = generate(args.family, seed=args.seed, nodes=args.nodes, model=args.model, layers=args.layers,
                        jobs=args.jobs, name=args.name, **params)
        if args.out:
            save(inst, args.out)
            print(f"wrote {args.out} ({inst.name}, hash {inst.hash})")
        else:
            sys.stdout.write(dumps(inst))
        return 0
    except InstanceError as err:
        print(f"dnnsplit generate: error: generated instance is invalid: {err}", file=sys.stderr)
        return 2
    except ValueError as err:  # GenerationError, TopologyError, ModelSpecError
        print(f"dnnsplit generate: error: {err}", file=sys.stderr)
        return 2



def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dnnsplit", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="validate instance files (exit 1 if any is invalid)")
    p.add_argument("files", nargs="+")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("show", help="summarise an instance")
    p.add_argument("file")
    p.add_argument("--max-jobs", type=int, default=10)
    p.set_defaults(func=_cmd_show)

    p = sub.add_parser("generate", help="generate instances (one family or a named default set)")
    _generate_arguments(p)
    p.set_defaults(func=_cmd_generate)

    p = sub.add_parser("solve", help="solve an instance with one (formulation, backend) pair")
    p.add_argument("instance", nargs="?")
    p.add_argument("--formulation", "-f")
    p.add_argument("--backend", "-b")
    p.add_argument("--time-limit", type=float, help="wall-clock seconds of the whole solve, model build included")
    p.add_argument("--mip-gap", type=float, help="relative gap, a fraction")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lp-algorithm", choices=("simplex", "ipm", "pdlp"))
    p.add_argument("--option", "-o", action="append", help="raw backend option NAME=VALUE")
    p.add_argument("--json", action="store_true", help="print the full result record as JSON")
    p.add_argument("--list", action="store_true", help="list every registered pair")
    p.set_defaults(func=_cmd_solve)

    for name, (module, help_text) in DELEGATED.items():
        p = sub.add_parser(name, help=help_text)
        p.set_defaults(module=module)
        if name in _requested_commands():
            importlib.import_module(module).add_arguments(p)
    return parser


def _requested_commands() -> set[str]:
    return set(sys.argv[1:2])


def main(argv: Sequence[str] | None = None) -> int:
    if argv is not None:
        sys.argv = [sys.argv[0], *argv]
    from instances.io import InstanceError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if hasattr(args, "module"):
            return int(importlib.import_module(args.module).run_cli(args) or 0)
        return args.func(args)
    except (CliError, InstanceError, UnsupportedOption, FileNotFoundError) as err:
        print(f"dnnsplit {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"dnnsplit {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into head & co.: stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
