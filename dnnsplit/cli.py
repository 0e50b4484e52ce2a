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
from dnnsplit.results import OBJECTIVE_UNITS

# subcommand -> (module with add_arguments/run_cli, help)
DELEGATED = {
    "bench": ("dnnsplit.campaign.cli", "run a benchmark campaign, one process per solve"),
    "tables": ("dnnsplit.tables", "turn results into tables and plots"),
    "export": ("dnnsplit.export", "write a formulation's LP/MILP model (MPS/LP, names map) or a model library"),
    "plot": ("dnnsplit.plot", "draw one solution: placement and tensor routes on the network (PNG/PDF/SVG)"),
}


class CliError(Exception):
    """An expected failure: printed as one line, exit status 2."""


def _load_instance(path: str) -> Any:
    """An instance from a file, or from standard input for ``-``."""
    from instances.io import load, loads

    if path == "-":
        return loads(sys.stdin.read(), source="<stdin>")
    return load(path)


def _cmd_validate(args: argparse.Namespace) -> int:
    bad = 0
    for path in args.files:
        try:
            inst = _load_instance(path)
        except Exception as err:  # InstanceError carries file, field path and reason
            print(f"invalid: {err}", file=sys.stderr)
            bad += 1
            continue
        print(f"ok: {path} ({inst.name}, hash {inst.hash})")
    return 1 if bad else 0


def _range(values: Any, scale: float = 1.0, fmt: str = ".3g") -> str:
    import numpy as np

    v = np.asarray(values, dtype=float) * scale
    if not len(v):
        return "-"
    lo, hi = float(v.min()), float(v.max())
    return f"{lo:{fmt}}" if lo == hi else f"{lo:{fmt}}..{hi:{fmt}}"


def _cmd_show(args: argparse.Namespace) -> int:
    import numpy as np

    inst = _load_instance(args.file)
    if getattr(inst, "problem", None) == "llm":  # LLM pipeline placement (instances/llm)
        from instances.llm.io import summary_lines

        print("\n".join(summary_lines(inst)))
        return 0
    net = inst.network
    sizes = inst.sizes
    print(f"instance:  {inst.name}")
    print(f"hash:      {inst.hash}")
    print(f"sizes:     {sizes['nodes']} nodes ({sizes['compute_nodes']} compute), {sizes['links']} links, "
          f"{sizes['jobs']} jobs, up to {sizes['max_layers']} layers, {sizes['layered_arcs']} layered arcs")
    print(f"kappa:     {inst.utilisation_cap:g} (utilisation cap of C1/C2)")
    print("nodes by tier (count; speed GFLOP/s; power W; memory GB):")
    tiers = np.array(net.tier)
    for tier in dict.fromkeys(net.tier):
        sel = tiers == tier
        print(f"  {tier:<7} {int(sel.sum()):>4}; speed {_range(net.speed[sel], 1e-9)}; power {_range(net.power[sel])}; "
              f"memory {_range(net.memory[sel], 1e-9)}")
    if net.num_links:
        print(f"links:     bandwidth {_range(net.bandwidth, 8e-6)} Mbit/s; delay {_range(net.delay, 1e3)} ms; "
              f"energy {_range(net.energy_per_byte, 1e9)} nJ/byte")
    print("models (layers; total GFLOP; parameters MB; exits; measured device classes):")
    for m in inst.models:
        print(f"  {m.name}: {m.num_layers} layers; {m.flops.sum() * 1e-9:.4g} GFLOP; {m.param_bytes.sum() * 1e-6:.4g} MB; "
              f"{len(m.exits)} exits; measured on {', '.join(sorted(m.measured_time)) or 'none'}")
    print("jobs (model; source -> sink; rate 1/s; deadline s; accuracy target):")
    for j in inst.jobs[: args.max_jobs]:
        print(f"  {j.name}: {inst.models[j.model].name}; {net.node_names[j.source]} -> {net.node_names[j.sink]}; "
              f"rate {j.rate:g}; deadline {'-' if j.deadline is None else f'{j.deadline:.4g}'}; "
              f"accuracy {'-' if j.accuracy_target is None else f'{j.accuracy_target:g}'}")
    if len(inst.jobs) > args.max_jobs:
        print(f"  ... {len(inst.jobs) - args.max_jobs} more jobs (--max-jobs)")
    if inst.generator:
        print(f"generator: {json.dumps(dict(inst.generator), sort_keys=True)}")
    return 0




def annotate_decision(record: dict[str, Any], instance: Any) -> dict[str, Any]:
    """The JSON record with node and link names beside the indices of its decision."""
    if getattr(instance, "problem", None) == "llm":  # its placement is in extra["llm_placement"]
        return record
    net = instance.network
    names = net.node_names

    def link(a: int) -> str:
        return f"{names[net.link_source[a]]}->{names[net.link_target[a]]}"

    for entry in record.get("decision") or []:
        entry["job_name"] = instance.jobs[int(entry["job"])].name
        for route in entry["routes"]:
            route["placement_names"] = [names[n] for n in route["placement"]]
            route["path_names"] = [[link(a) for a in path] for path in route["paths"]]
            if route.get("exit_paths"):
                route["exit_path_names"] = [[link(a) for a in path] for path in route["exit_paths"]]
    return record


def _placement_text(route: Any, names: Sequence[str]) -> str:
    """'1-5 edge1, 6-10 cloud0': runs of consecutive layers on one node."""
    runs: list[list[Any]] = []
    for layer, node in enumerate(route.placement, start=1):
        if runs and runs[-1][2] == node:
            runs[-1][1] = layer
        else:
            runs.append([layer, layer, node])
    return ", ".join((f"{a}" if a == b else f"{a}-{b}") + f" {names[n]}" for a, b, n in runs)


def _solve_in_child(spec: Any, inst: Any, opts: Any, memory_limit: int) -> Any:
    """The solve in a forked child under an address-space limit (the campaign's one harness):
    a solve that would exhaust memory ends with status memory_out, this process survives."""
    import multiprocessing as mp
    import tempfile

    from dnnsplit.campaign.child import Limits, classify_exit, run_in_child
    from dnnsplit.results import SolveResult, Status, result_from_dict

    with tempfile.TemporaryDirectory(prefix="dnnsplit-solve-") as tmp:
        out = run_in_child(mp.get_context("fork"), _child_solve, (spec.formulation, spec.backend, inst, opts),
                           Limits(address_space=memory_limit, ready_timeout=600.0), Path(tmp), name="solve")
    if out.value is not None:
        return result_from_dict(out.value)
    if out.failure is not None:
        status, message = out.failure["status"], out.failure["message"]
    else:
        status, message = classify_exit(out.exitcode, out.killed is not None, out.log)
    return SolveResult(spec.formulation, spec.backend, Status(status), message=message, objective_name=spec.objective)


def _child_solve(payload: tuple, stage: Any) -> dict[str, Any]:
    from dnnsplit import catalogue

    formulation, backend, inst, opts = payload
    spec = catalogue.get(formulation, backend)
    stage("ready")
    return catalogue.run(spec, inst, opts).to_dict()


def _cmd_solve(args: argparse.Namespace) -> int:
    from dnnsplit import catalogue as registry
    from dnnsplit.options import SolverOptions
    from dnnsplit.results import Status

    if args.list:
        rows = registry.specs()
        width = max((len(s.formulation) for s in rows), default=10)
        print(f"{'formulation':<{width}}  {'backend':<18} {'problem':<7} {'kind':<9} description")
        for s in rows:
            print(f"{s.formulation:<{width}}  {s.backend:<18} {s.problem:<7} {s.kind:<9} {s.description}")
        return 0
    if not args.instance or not args.formulation or not args.backend:
        raise CliError("solve needs INSTANCE, --formulation and --backend (or --list)")
    inst = _load_instance(args.instance)
    try:
        spec = registry.get(args.formulation, args.backend)
    except KeyError as err:
        raise CliError(str(err.args[0])) from None
    if args.job is not None:
        if spec.problem != "single":
            raise CliError(f"--job picks one job for a single-job pair; {spec.key} solves every job together")
        if not 0 <= args.job < len(inst.jobs):
            raise CliError(f"--job {args.job}: instance {inst.name!r} has jobs 0..{len(inst.jobs) - 1}")
        inst = inst.only_job(args.job)
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
    if args.out and Path(args.out).is_dir():
        raise CliError(f"--out {args.out}: is a folder, expected a file for the result record")
    opts.check(spec.backend, spec.accepts)
    if args.memory_limit:
        from dnnsplit.campaign.tasks import CampaignError, parse_memory

        try:
            limit = parse_memory(args.memory_limit)
        except CampaignError as err:
            raise CliError(str(err)) from None
        from dnnsplit.registry import check_problem

        check_problem(spec, inst)  # before the child: the same refusal as run()
        result = _solve_in_child(spec, inst, opts, limit)
    else:
        result = registry.run(spec, inst, opts)
    record = annotate_decision(json.loads(result.to_json()), inst)
    if args.out:
        from instances.io import atomic_write_text

        atomic_write_text(Path(args.out), json.dumps(record, indent=1) + "\n")
    if args.json:
        print(json.dumps(record, indent=1))
    else:
        unit, what = OBJECTIVE_UNITS.get(result.objective_name, ("", result.objective_name))
        fmt = lambda x: "-" if x is None else f"{x:.9g}"  # noqa: E731
        print(f"{spec.key} on {inst.name}: {result.status.value}")
        print(f"  objective      {fmt(result.objective)} {unit}  ({result.objective_name}: {what})")
        print(f"  evaluated      {fmt(result.evaluated_objective)} {unit}  (recomputed from the decision by the evaluator)")
        side = "upper" if result.objective_name == "throughput" else "lower"
        print(f"  bound          {fmt(result.bound)} {unit}  (proven {side} bound); gap {fmt(result.gap)} "
              "(|objective - bound| / |objective|)")
        print(f"  LP relaxation  {fmt(result.lp_relaxation)} {unit}")
        print(f"  time           build {result.build_time:.4f} s, solve {result.solve_time:.4f} s, "
              f"whole call {result.wall_time:.4f} s (wall clock)")
        if result.message:
            print(f"  message        {result.message}")
        if result.decision:
            names = inst.network.node_names
            for j, routes in sorted(result.decision.items())[: args.max_jobs]:
                for r in routes:
                    share = "" if r.share == 1.0 else f" (share {r.share:.3g})"
                    print(f"  job {inst.jobs[j].name}{share}: layers {_placement_text(r, names)}")
            if len(result.decision) > args.max_jobs:
                print(f"  ... {len(result.decision) - args.max_jobs} more jobs (--max-jobs, or --json for all)")
        if result.extra.get("llm_placement"):
            from instances.llm.io import placement_lines

            ev = result.extra.get("evaluation") or {}
            print(f"  pipelines      {ev.get('pipelines')} (flow paths); latency per token: mean {fmt(ev.get('latency_mean'))}"
                  f" s, max {fmt(ev.get('latency_max'))} s")
            for line in placement_lines(inst, result.extra["llm_placement"]):
                print(f"  {line}")
        if args.out:
            print(f"  record written to {args.out}")
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
            if Path(args.out).exists() and not Path(args.out).is_dir():
                raise GenerationError(f"--out {args.out}: is a file, expected a folder for the default sets")
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
        big = args.nodes * max(args.layers, 1) * max(args.jobs, 1) > 5_000_000 or args.nodes > 20_000

        def progress(line: str) -> None:  # large generations show their stages as they go
            if big:
                print(f"dnnsplit generate: {line}", file=sys.stderr, flush=True)

        inst = generate(args.family, seed=args.seed, nodes=args.nodes, model=args.model, layers=args.layers,
                        jobs=args.jobs, name=args.name, progress=progress, **params)
        if args.out:
            progress(f"writing {args.out}")
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
    from dnnsplit import __version__

    parser = argparse.ArgumentParser(prog="dnnsplit", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"dnnsplit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="validate instance files (exit 1 if any is invalid)",
                       description="Load and validate each instance file; print 'ok: FILE (name, hash)' or one line "
                                   "'invalid: FILE: FIELD.PATH: reason' per file. Exit status 1 if any is invalid.")
    p.add_argument("files", nargs="+", metavar="FILE", help="instance files (JSON); '-' reads one from standard input")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("show", help="summarise an instance",
                       description="Print an instance's name, hash and sizes; its nodes by tier (speed GFLOP/s, power "
                                   "W, memory GB), links (bandwidth Mbit/s, delay ms, energy nJ/byte), models and jobs.")
    p.add_argument("file", metavar="FILE", help="an instance file; '-' reads it from standard input")
    p.add_argument("--max-jobs", type=int, default=10, help="jobs listed at most (default 10)")
    p.set_defaults(func=_cmd_show)

    p = sub.add_parser("generate", help="generate instances (one family or a named default set)")
    _generate_arguments(p)
    p.set_defaults(func=_cmd_generate)

    p = sub.add_parser(
        "solve", help="solve an instance with one (formulation, backend) pair",
        description="Solve INSTANCE with one registered (formulation, backend) pair and print the result: status, "
                    "objective in its unit (latency: s per request; rate_weighted_latency: s/s; energy: W), the "
                    "objective the evaluator recomputes from the decision, the proven bound and gap, the LP "
                    "relaxation, build and solve seconds and the placement of each job's layers. --json prints the "
                    "whole record (decisions with node and link names beside the indices); --out writes it.")
    p.add_argument("instance", nargs="?", metavar="INSTANCE", help="an instance file; '-' reads it from standard input")
    p.add_argument("--formulation", "-f", help="e.g. F2, F1-weak, F3-latency-milp (see --list)")
    p.add_argument("--backend", "-b", help="e.g. highspy, scip, layered-dijkstra, colgen (see --list)")
    p.add_argument("--job", type=int, help="solve job K alone with a single-job pair (a multi-job instance)")
    p.add_argument("--time-limit", type=float, help="wall-clock seconds of the whole solve, model build included")
    p.add_argument("--memory-limit", help="memory the solve may add, e.g. 4G: the solve runs in a child process "
                                          "and ends with status memory_out instead of exhausting the machine")
    p.add_argument("--mip-gap", type=float, help="relative gap, a fraction (default: exact, 1e-9)")
    p.add_argument("--threads", type=int, default=1, help="solver threads (default 1)")
    p.add_argument("--seed", type=int, default=0, help="solver seed (default 0)")
    p.add_argument("--lp-algorithm", choices=("simplex", "ipm", "pdlp"), help="LP algorithm, where the backend has one")
    p.add_argument("--option", action="append", metavar="NAME=VALUE", help="raw backend option (value parsed as JSON when it can be)")
    p.add_argument("--out", "-o", help="write the result record (JSON) to this file")
    p.add_argument("--json", action="store_true", help="print the full result record as JSON")
    p.add_argument("--max-jobs", type=int, default=10, help="jobs whose placement is printed at most (default 10)")
    p.add_argument("--list", action="store_true", help="list every registered pair (formulation, backend, problem, kind)")
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
    from dnnsplit.registry import ProblemMismatch
    from instances.io import InstanceError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if hasattr(args, "module"):
            return int(importlib.import_module(args.module).run_cli(args) or 0)
        return args.func(args)
    except (CliError, InstanceError, UnsupportedOption, ProblemMismatch, FileNotFoundError, IsADirectoryError,
            NotADirectoryError, PermissionError) as err:
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
