"""Pyomo models solved by HiGHS (``pyomo.contrib.solver``'s "highs"): the one Pyomo scaffold.

The readable reference models of F1, F2 and the F3 arc form are written in Pyomo; this module
solves them. :func:`solver_options` is the one mapping of :class:`SolverOptions` onto the
HiGHS options passed through Pyomo (the generic ones, time limit and threads, go through
Pyomo's own config), :func:`status_of` the one map of Pyomo's termination conditions, and
:func:`solve` returns a :class:`PyomoRun` (a :class:`SolverRun` plus the primal values).

Trap handled here: Pyomo's new solver interface raises on a non-optimal result unless
``raise_exception_on_nonoptimal_result=False``; solutions are loaded explicitly.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass
from typing import Any

from dnnsplit.options import Clock, SolverOptions
from dnnsplit.results import Status
from dnnsplit.solvers import highs
from dnnsplit.solvers.model import SolverRun, out_of_time

SOLVER = "HiGHS via Pyomo"
LP_OPTIONS = highs.LP_OPTIONS
MIP_OPTIONS = highs.MIP_OPTIONS


@functools.lru_cache(maxsize=1)
def version() -> str:
    import pyomo

    return f"pyomo {pyomo.__version__}, HiGHS {highs.version()}"


@dataclass
class PyomoRun(SolverRun):
    """A SolverRun whose primal values are a Pyomo ComponentMap (``values``, None: no point)."""

    values: Any = None

    def value(self, var: Any) -> float:
        return float(self.values[var])


def solver_options(options: SolverOptions, *, mip: bool) -> dict[str, Any]:
    """HiGHS options passed through Pyomo (time limit and threads go through Pyomo's config).

    MILPs: ``mip_rel_gap`` = ``options.mip_rel_gap`` and ``mip_abs_gap`` = 0, as
    ``highs.apply_options`` sets them for highspy; ``raw`` comes last and may override them."""
    out: dict[str, Any] = {"random_seed": int(options.seed)}
    if mip:
        out.update(mip_rel_gap=options.mip_rel_gap, mip_abs_gap=0.0)
    if options.lp_algorithm is not None:
        out["solver"] = options.lp_algorithm
        if options.lp_algorithm == "ipm":
            out["run_crossover"] = "on"
    out.update(options.raw)
    return out


def status_of(termination: Any) -> Status:
    from pyomo.contrib.solver.common.results import TerminationCondition as TC

    if termination == TC.convergenceCriteriaSatisfied:
        return Status.OPTIMAL
    if termination in (TC.provenInfeasible, TC.infeasibleOrUnbounded, TC.locallyInfeasible):
        return Status.INFEASIBLE
    if termination == TC.maxTimeLimit:
        return Status.TIME_LIMIT
    if termination in (TC.iterationLimit, TC.objectiveLimit, TC.minStepLength):
        return Status.FEASIBLE
    return Status.ERROR


def _solver() -> Any:
    import pyomo.environ  # noqa: F401  (registers the solvers)
    from pyomo.contrib.solver.common.factory import SolverFactory

    opt = SolverFactory("highs")
    if opt is None or not opt.available():
        raise RuntimeError("Pyomo cannot find HiGHS (highspy)")
    return opt


def solve(model: Any, options: SolverOptions, clock: Clock, *, mip: bool, highs_options: bool = True) -> PyomoRun:
    """Solve a Pyomo model with HiGHS in the time ``clock`` has left.

    ``highs_options=False`` passes only the time limit and threads (an LP relaxation solved
    after the MILP with HiGHS's defaults)."""
    if clock.expired():
        run = out_of_time(SOLVER, version())
        return PyomoRun(**vars(run))
    opt = _solver()
    kwargs: dict[str, Any] = dict(load_solutions=False, raise_exception_on_nonoptimal_result=False,
                                  time_limit=clock.budget(1e-3), threads=options.threads)
    if highs_options:
        kwargs["solver_options"] = solver_options(options, mip=mip)
    start = time.perf_counter()
    res = opt.solve(model, **kwargs)
    elapsed = time.perf_counter() - start
    tc = res.termination_condition
    objective = None if res.incumbent_objective is None else float(res.incumbent_objective)
    bound = res.objective_bound if mip else (objective if status_of(tc) == Status.OPTIMAL else None)
    bound = float(bound) if bound is not None and math.isfinite(bound) else None
    values = res.solution_loader.get_vars() if objective is not None else None
    return PyomoRun(status_of(tc), tc.name, objective, bound, None, SOLVER, version(), _iterations(res),
                    _nodes(res), elapsed, {"termination": tc.name}, values=values)


def relax_integers(model: Any) -> None:
    """Make every integer variable of ``model`` continuous (for its LP relaxation)."""
    import pyomo.environ as pyo

    pyo.TransformationFactory("core.relax_integer_vars").apply_to(model)


def _iterations(res: Any) -> int | None:
    """Simplex + IPM + PDLP iterations from a pyomo.contrib.solver HiGHS result, if reported."""
    info = getattr(res, "extra_info", None)
    counts = [getattr(info, k, None) for k in ("simplex_iteration_count", "ipm_iteration_count", "pdlp_iteration_count")]
    counts = [int(c) for c in counts if c is not None and c >= 0]
    return sum(counts) if counts else None


def _nodes(res: Any) -> int | None:
    count = getattr(getattr(res, "extra_info", None), "mip_node_count", None)
    return int(count) if count is not None and count >= 0 else None
