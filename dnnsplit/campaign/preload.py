"""Loaded once by the fork server of a campaign (the sequential runner's, and each Dask
worker's), so that no task pays for it: every child is a fork of a process that did this.

Importing this module (the last name of the fork server's preload list, ``--preload solvers``)

1. imports the solver packages (``runner.PRELOAD``), the catalogue and its plugins;
2. loads numba's compiled kernels of the layered-graph engine
   (:func:`dnnsplit.graph.shortest.warm_up_jit`: about 0.25-0.37 s from numba's disk cache,
   seconds when it compiles), so a child's ``warm_up_jit()`` returns 0;
3. solves the campaign's built-in 3-node warm-up instance once with ``local-only/heuristic``
   and ``F2/layered-dijkstra``, untimed: this loads the kernels under the argument types the
   solvers pass (read-only instance arrays), which ``warm_up_jit`` alone does not cover.

Only numba-compiled, single-threaded code runs here (no solver library starts a thread), so
forking afterwards is safe. A failure is recorded in :data:`PRELOAD_ERRORS` and never stops
the campaign: the children then load what they need themselves, as before.
"""

from __future__ import annotations

import importlib
import time

PRELOAD_ERRORS: list[str] = []
PRELOAD_SECONDS: float = 0.0
WARM_PAIRS = ("local-only/heuristic", "F2/layered-dijkstra")


def preload() -> float:
    """Do the three steps above (idempotent); the seconds spent."""
    global PRELOAD_SECONDS
    if PRELOAD_SECONDS:
        return 0.0
    t0 = time.perf_counter()
    from dnnsplit.campaign.runner import PRELOAD, _warmup_instance

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    from dnnsplit import catalogue
    from dnnsplit.graph.shortest import warm_up_jit
    from dnnsplit.options import SolverOptions

    try:
        warm_up_jit()
    except Exception as err:  # noqa: BLE001 - a preload never stops a campaign
        PRELOAD_ERRORS.append(f"warm_up_jit: {type(err).__name__}: {err}")
    instance = _warmup_instance()
    for key in WARM_PAIRS:
        try:
            spec = catalogue.get(*key.split("/"))
            catalogue.run(spec, instance, SolverOptions(time_limit=30))
        except Exception as err:  # noqa: BLE001
            PRELOAD_ERRORS.append(f"{key}: {type(err).__name__}: {err}")
    PRELOAD_SECONDS = time.perf_counter() - t0
    return PRELOAD_SECONDS


preload()
