"""Every module that registers (formulation, backend) pairs, imported in one place (the top).

Importing this module fills ``dnnsplit.registry``; the CLI, the campaign's children, the tests
and the benchmarks import it. A new formulation or heuristic module is added to ``MODULES``;
a new solver library for every exact LP/MILP formulation needs no entry here (it is one adapter
module listed in ``dnnsplit.solvers.ARRAY_BACKEND_MODULES``). Test-only or external modules are
named in the environment variable ``DNNSPLIT_PLUGINS`` (comma-separated module names).

    from dnnsplit import catalogue
    spec = catalogue.get("F2", "layered-dijkstra")
    result = catalogue.run(spec, instance, SolverOptions(time_limit=10))
"""

from __future__ import annotations

import importlib
import os

from dnnsplit.registry import SolverSpec, get, run, specs

MODULES = (
    "formulations.f1_assignment",
    "formulations.f2_layered",
    "formulations.f3.arc",
    "formulations.f3.colgen",
    "formulations.f5.flow",
    "formulations.f5.helix",
    "formulations.f3.branch_price",
    "heuristics.splits",
    "heuristics.greedy",
    "heuristics.dina",
    "heuristics.fin",
    "heuristics.llm_pipelines",
)


def plugins() -> list[str]:
    return [name.strip() for name in os.environ.get("DNNSPLIT_PLUGINS", "").split(",") if name.strip()]


def load() -> None:
    """Import every registering module and the plugins (idempotent)."""
    for name in (*MODULES, *plugins()):
        importlib.import_module(name)


load()

__all__ = ["MODULES", "SolverSpec", "get", "load", "plugins", "run", "specs"]
