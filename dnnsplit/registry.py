"""The registry of (formulation, backend) pairs that the CLI, tests and benchmarks iterate over.

Adding a backend is one :func:`register` call in its module (imported by
``formulations/__init__.py``); tests and benchmarks parametrise over :func:`specs`, so no test
edits are needed. Extra modules (for example test-only backends) can be registered by naming
them in the environment variable ``DNNSPLIT_PLUGINS`` (comma-separated module names).
"""

from __future__ import annotations

import importlib
import os
import time
import tracemalloc
from dataclasses import dataclass, field
from typing import Callable

from dnnsplit.options import SolverOptions, UnsupportedOption
from dnnsplit.results import SolveResult, Status, finalise
from instances.model import Instance

SolveFn = Callable[[Instance, SolverOptions], SolveResult]

PROBLEMS = ("single", "multi")
KINDS = ("exact", "heuristic", "bound")


@dataclass(frozen=True)
class SolverSpec:
    """One registered way to solve one formulation."""

    formulation: str  # e.g. "F1-weak", "F2", "F3-latency", "two-way-split"
    backend: str  # e.g. "highspy", "pyomo-highs", "cpsat", "ortools-mcf"
    solve: SolveFn
    problem: str  # "single": solves jobs[0] alone, uncapacitated; "multi": all jobs, shared capacity
    objective: str  # name understood by instances.evaluate.Evaluation.objective
    accepts: frozenset[str] = frozenset()  # SolverOptions names the backend honours
    kind: str = "exact"  # "exact", "heuristic" (feasible, no proof) or "bound" (LP/CG bound)
    capacitated: bool = False  # decisions must respect C1/C2 (checked by the evaluator)
    memory: bool = False  # decisions must respect C3
    deadlines: bool = False  # decisions must meet job deadlines
    description: str = ""
    max_layered_arcs: int | None = None  # benchmarks skip larger instances (too slow to be useful)
    tags: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.problem not in PROBLEMS:
            raise ValueError(f"{self.key}: problem must be one of {PROBLEMS}")
        if self.kind not in KINDS:
            raise ValueError(f"{self.key}: kind must be one of {KINDS}")

    @property
    def key(self) -> str:
        return f"{self.formulation}/{self.backend}"

    def fits(self, instance: Instance) -> bool:
        """Whether the benchmarks should run this pair on ``instance``."""
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


def load_all() -> None:
    """Import every module that registers specs (idempotent)."""
    importlib.import_module("formulations")
    for name in filter(None, (s.strip() for s in os.environ.get("DNNSPLIT_PLUGINS", "").split(","))):
        importlib.import_module(name)


def specs(problem: str | None = None, kind: str | None = None) -> list[SolverSpec]:
    load_all()
    return [
        s
        for s in sorted(_REGISTRY.values(), key=lambda s: s.key)
        if (problem is None or s.problem == problem) and (kind is None or s.kind == kind)
    ]


def get(formulation: str, backend: str) -> SolverSpec:
    load_all()
    key = f"{formulation}/{backend}"
    if key not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY))
        raise KeyError(f"no backend {backend!r} for formulation {formulation!r}; registered pairs: {known}")
    return _REGISTRY[key]


def run(spec: SolverSpec, instance: Instance, options: SolverOptions | None = None, *, trace_memory: bool = False) -> SolveResult:
    """Check options, solve, time the whole call, and finalise with the evaluator.

    Unsupported options raise :class:`UnsupportedOption` before anything is built. Exceptions
    inside a backend become a result with status error (the message kept), so one failing
    backend never stops a campaign.
    """
    options = options or SolverOptions()
    options.check(spec.backend, spec.accepts)
    if trace_memory:
        tracemalloc.start()
    start = time.perf_counter()
    try:
        result = spec.solve(instance, options)
    except UnsupportedOption:
        raise
    except MemoryError:
        result = SolveResult(spec.formulation, spec.backend, Status.MEMORY_OUT, message="MemoryError")
    except Exception as err:  # noqa: BLE001 - recorded, not hidden
        result = SolveResult(spec.formulation, spec.backend, Status.ERROR, message=f"{type(err).__name__}: {err}")
    finally:
        wall = time.perf_counter() - start
        if trace_memory:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
    result.wall_time = wall
    result.objective_name = spec.objective
    result.options = options.to_dict()
    if trace_memory:
        result.peak_memory = peak
    return finalise(result, instance, capacitated=spec.capacitated, memory=spec.memory, deadlines=spec.deadlines)
