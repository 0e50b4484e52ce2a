"""The registry of (formulation, backend) pairs that the CLI, tests and benchmarks iterate over.

A module that provides a backend calls :func:`register` at import time; the registry itself
imports no formulation (imports point down): ``dnnsplit.catalogue`` imports every registering
module, and is what the CLI, the campaign, the tests and the benchmarks import. Adding a
backend is one :func:`register` call in its module (plus its name in the catalogue for a new
module); tests and benchmarks parametrise over :func:`specs`, so no test edits are needed.

:func:`run` is the one way a solve is called: it checks the options, times the backend call,
stamps the pair's names on the result and finalises it with the evaluator (including the one
meaning of ``time_limit``, see ``dnnsplit.options``).
"""

from __future__ import annotations

import time
import tracemalloc
from dataclasses import dataclass, field
from typing import Callable

from dnnsplit.options import SolverOptions, UnsupportedOption
from dnnsplit.results import SolveResult, Status, finalise
from instances.llm.model import is_llm_instance
from instances.model import Instance

SolveFn = Callable[[Instance, SolverOptions], SolveResult]


class ProblemMismatch(ValueError):
    """A pair asked to solve an instance of a problem it does not solve (e.g. a single-job
    formulation on a multi-job instance): refused, never a silent partial answer."""

PROBLEMS = ("single", "multi", "llm")  # "llm": LLM pipeline placement (instances.llm, F5)
KINDS = ("exact", "heuristic", "bound")


@dataclass(frozen=True)
class SolverSpec:
    """One registered way to solve one formulation."""

    formulation: str  # e.g. "F1-weak", "F2", "F3-latency-milp", "two-way-split"
    backend: str  # e.g. "highspy", "pyomo-highs", "cpsat", "scip", "ortools-mcf"
    solve: SolveFn
    problem: str  # "single": solves jobs[0] alone, uncapacitated; "multi": all jobs, shared capacity;
    # "llm": an LLM pipeline-placement instance (instances.llm), objective "throughput" (maximised)
    objective: str  # name understood by instances.evaluate.Evaluation.objective
    accepts: frozenset[str] = frozenset({"time_limit"})  # SolverOptions names the backend honours
    kind: str = "exact"  # "exact", "heuristic" (feasible, no proof) or "bound" (LP/CG bound)
    capacitated: bool = False  # decisions must respect C1/C2 (checked by the evaluator)
    memory: bool = False  # decisions must respect C3
    deadlines: bool = False  # decisions must meet job deadlines
    description: str = ""
    max_layered_arcs: int | None = None  # benchmarks skip larger instances (too slow to be useful)
    tags: frozenset[str] = field(default_factory=frozenset)
    # which formulation a heuristic's gap is measured against (its exact counterpart)
    reference: str | None = None
    # the formulation whose optimum is this MILP's LP relaxation (T2, T4, T6's bounds)
    relaxation: str | None = None
    # once per process, before any clock starts (a JIT compilation, as a library's import)
    prepare: Callable[[], object] | None = None
    # a further condition on the instance (e.g. Helix's own LP file solves the published case only)
    applies: Callable[[Instance], bool] | None = None

    def __post_init__(self) -> None:
        if self.problem not in PROBLEMS:
            raise ValueError(f"{self.key}: problem must be one of {PROBLEMS}")
        if self.kind not in KINDS:
            raise ValueError(f"{self.key}: kind must be one of {KINDS}")
        # every backend accepts the time limit (its meaning: dnnsplit.options)
        object.__setattr__(self, "accepts", frozenset(self.accepts) | {"time_limit"})

    @property
    def key(self) -> str:
        return f"{self.formulation}/{self.backend}"

    def fits(self, instance: Instance) -> bool:
        """Whether the benchmarks should run this pair on ``instance``."""
        if (self.problem == "llm") != is_llm_instance(instance):
            return False
        if self.applies is not None and not self.applies(instance):
            return False
        if self.problem == "single" and len(instance.jobs) != 1:
            return False
        limit = self.max_layered_arcs
        return limit is None or instance.sizes["layered_arcs"] <= limit


_REGISTRY: dict[str, SolverSpec] = {}


def register(spec: SolverSpec) -> SolverSpec:
    if spec.key in _REGISTRY:
        raise ValueError(f"{spec.key} is registered twice")
    _REGISTRY[spec.key] = spec
    return spec


def specs(problem: str | None = None, kind: str | None = None) -> list[SolverSpec]:
    """Registered specs (import ``dnnsplit.catalogue`` first to have them all), sorted by key."""
    return [
        s
        for s in sorted(_REGISTRY.values(), key=lambda s: s.key)
        if (problem is None or s.problem == problem) and (kind is None or s.kind == kind)
    ]


def get(formulation: str, backend: str) -> SolverSpec:
    key = f"{formulation}/{backend}"
    if key not in _REGISTRY:
        if not _REGISTRY:
            raise KeyError(f"no pair is registered: import dnnsplit.catalogue before asking for {key!r}")
        known = ", ".join(sorted(_REGISTRY))
        raise KeyError(f"no backend {backend!r} for formulation {formulation!r}; registered pairs: {known}")
    return _REGISTRY[key]


def run(spec: SolverSpec, instance: Instance, options: SolverOptions | None = None, *, trace_memory: bool = False) -> SolveResult:
    """Check options, solve, time the whole call, and finalise with the evaluator.

    Unsupported options raise :class:`UnsupportedOption` and a single-job pair given a
    multi-job instance raises :class:`ProblemMismatch`, before anything is built. Exceptions
    inside a backend become a result with status error (the message kept), so one failing
    backend never stops a campaign.
    """
    options = options or SolverOptions()
    options.check(spec.backend, spec.accepts)
    check_problem(spec, instance)
    if spec.prepare is not None:
        spec.prepare()
    if trace_memory:
        tracemalloc.start()
    start = time.perf_counter()
    try:
        result = spec.solve(instance, options)
    except UnsupportedOption:
        raise
    except MemoryError:
        result = SolveResult(status=Status.MEMORY_OUT, message="MemoryError")
    except Exception as err:  # noqa: BLE001 - recorded, not hidden
        result = SolveResult(status=Status.ERROR, message=f"{type(err).__name__}: {err}")
    finally:
        wall = time.perf_counter() - start
        if trace_memory:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
    return complete(spec, result, instance, options, wall, peak if trace_memory else None)


def check_problem(spec: SolverSpec, instance: Instance) -> None:
    """Refuse a single-job pair on a multi-job instance, and an LLM pair on a DNN-split instance
    or the other way round (ProblemMismatch, with what to do)."""
    if (spec.problem == "llm") != is_llm_instance(instance):
        kind = "an LLM pipeline-placement" if is_llm_instance(instance) else "a DNN-split"
        raise ProblemMismatch(f"{spec.key} solves {spec.problem!r} problems; {instance.name!r} is {kind} instance "
                              "(`dnnsplit solve --list` shows each pair's problem)")
    if spec.applies is not None and not spec.applies(instance):
        raise ProblemMismatch(f"{spec.key} does not apply to instance {instance.name!r}: {spec.description}")
    if spec.problem == "single" and len(instance.jobs) != 1:
        raise ProblemMismatch(
            f"{spec.key} solves one job; instance {instance.name!r} has {len(instance.jobs)} jobs "
            "(choose one with `dnnsplit solve --job K`, or a multi-job pair: `dnnsplit solve --list`)")


def complete(spec: SolverSpec, result: SolveResult, instance: Instance, options: SolverOptions, wall: float,
             peak_memory: int | None = None) -> SolveResult:
    """Stamp the pair's names, options and timing on a backend's result and finalise it (also
    used by the pytest-benchmark suite, which times ``spec.solve`` itself)."""
    result.formulation, result.backend = spec.formulation, spec.backend
    result.wall_time = wall
    result.objective_name = spec.objective
    result.options = options.to_dict()
    if peak_memory is not None:
        result.peak_memory = peak_memory
    if spec.problem == "llm":
        return finalise_llm(result, instance, time_limit=options.time_limit)
    return finalise(result, instance, capacitated=spec.capacitated, memory=spec.memory, deadlines=spec.deadlines,
                    time_limit=options.time_limit)


def finalise_llm(result: SolveResult, instance: Instance, *, time_limit: float | None = None) -> SolveResult:
    """``finalise`` for an LLM pipeline placement: the decision (``extra["llm_placement"]``, a
    :class:`instances.llm.Placement` as JSON; ``decision`` holds DNN routes only) is checked by
    the LLM evaluator, which recomputes the throughput (``evaluated_objective``) and the pipelines'
    latencies (``extra["evaluation"]``). A refused decision, a reported throughput its flows do not
    carry, or a solution status without a decision becomes an error."""
    from dataclasses import replace

    from instances.llm import InfeasiblePlacement, Placement, evaluate_placement

    data = result.extra.get("llm_placement")
    evaluated = None
    if data is not None:
        try:
            ev = evaluate_placement(instance, Placement.from_dict(data))
            if result.objective is not None and abs(ev.throughput - result.objective) > 1e-6 * max(1.0, ev.throughput):
                raise InfeasiblePlacement(f"reported throughput {result.objective:.9g} but the decision's flows "
                                          f"carry {ev.throughput:.9g} tokens/s")
        except InfeasiblePlacement as err:
            result = finalise(result, instance, time_limit=time_limit)
            return replace(result, status=Status.ERROR, message=f"decision refused by the evaluator: {err}")
        evaluated = ev.throughput
        result.extra["evaluation"] = ev.summary()
    elif result.status in (Status.OPTIMAL, Status.FEASIBLE):
        result = replace(result, status=Status.ERROR, message=result.message or "a solution status without a placement")
    result = finalise(result, instance, time_limit=time_limit)
    result.evaluated_objective = evaluated
    return result
