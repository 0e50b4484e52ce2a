"""One solver-neutral result record for every (formulation, backend) pair (DESIGN.md section 6).

A backend fills a :class:`SolveResult` (keyword fields; the registry stamps the formulation and
backend names on it); :func:`finalise` then recomputes the objective from the decision with the
instance's own evaluator (``evaluated_objective``), applies the one meaning of the time limit,
and computes the suite's gap, so no backend reports its own word alone.

The two gap formulas of the suite live here and nowhere else: :func:`relative_gap` (an
objective against its proven bound, DESIGN.md section 6) and :func:`excess` (a value against a
reference optimum or bound: heuristic gaps, LP-relaxation gaps, excess over the LP optimum).
"""

from __future__ import annotations

import enum
import json
import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Mapping

from instances.evaluate import Decision, InfeasibleDecision, capacity_violations, decision_to_json, evaluate
from instances.model import Instance

GAP_FLOOR = 1e-9  # denominators of both gap formulas are at least this


class Status(str, enum.Enum):
    OPTIMAL = "optimal"
    FEASIBLE = "feasible"  # a solution without an optimality proof (heuristics, gap left)
    INFEASIBLE = "infeasible"  # proven: no solution exists
    NO_SOLUTION = "no_solution"  # a heuristic ended without finding one (no proof of infeasibility)
    TIME_LIMIT = "time_limit"  # stopped by the time limit (incumbent and bound kept where there are)
    MEMORY_OUT = "memory_out"  # stopped by the memory limit
    ERROR = "error"


# objective name -> (unit, what it is): how `dnnsplit solve`, `export` and `plot` name it
OBJECTIVE_UNITS = {
    "latency": ("s", "latency of one request, seconds"),
    "rate_weighted_latency": ("s/s", "sum over jobs of rate x expected latency (seconds of latency per second)"),
    "max_latency": ("s", "the largest latency over jobs and routes, seconds"),
    "energy": ("W", "sum over jobs of rate x expected energy per request (joules per second)"),
    "throughput": ("tokens/s", "tokens per second from the source to the sink (maximised)"),
}


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    """|objective - bound| / max(|objective|, 1e-9); None when either is missing or infinite."""
    if objective is None or bound is None or not math.isfinite(objective) or not math.isfinite(bound):
        return None
    return abs(objective - bound) / max(abs(objective), GAP_FLOOR)


def excess(value: float, reference: float) -> float:
    """Signed relative excess of ``value`` over ``reference``: (value - ref) / max(|ref|, 1e-9).

    A heuristic's gap to the optimum, a MILP's excess over its LP optimum, a weak LP's distance
    below the optimum (then negative). Works elementwise on numpy arrays and pandas Series too.
    """
    import numpy as np

    return (value - reference) / np.maximum(np.abs(reference), GAP_FLOOR)


@dataclass
class SolveResult:
    """What one solve returns. Times in seconds, memory in bytes."""

    formulation: str = ""  # stamped by the registry
    backend: str = ""  # stamped by the registry
    status: Status = Status.ERROR
    objective: float | None = None  # as reported by the backend
    bound: float | None = None  # best proven bound (equals objective when optimal)
    decision: Decision | None = None
    solver: str = ""
    solver_version: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    objective_name: str = "latency"
    build_time: float = 0.0
    solve_time: float = 0.0
    wall_time: float = 0.0
    peak_memory: int | None = None
    iterations: int | None = None
    nodes: int | None = None  # branch-and-bound nodes
    lp_relaxation: float | None = None  # value of the LP relaxation, where the formulation has one
    lp_integral: bool | None = None  # whether the LP optimum found was integral
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    # filled by finalise()
    instance_id: str = ""
    instance_hash: str = ""
    evaluated_objective: float | None = None
    gap: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["status"] = self.status.value
        d["decision"] = None if self.decision is None else decision_to_json(self.decision)
        return d

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), default=json_default, **kwargs)


def json_default(x: Any) -> Any:
    """JSON for numpy scalars and arrays and enums (records, campaign files)."""
    import numpy as np

    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, enum.Enum):
        return x.value
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


_json_default = json_default  # older name, used by campaign files and tests


ENDED = (Status.OPTIMAL, Status.FEASIBLE, Status.INFEASIBLE, Status.NO_SOLUTION)
STOPPED = (Status.TIME_LIMIT, Status.MEMORY_OUT)  # what tables charge at the limit


def apply_time_limit(result: SolveResult, time_limit: float | None) -> SolveResult:
    """A run whose wall time passed ``time_limit`` is a time-limit run, whatever it found.

    Its incumbent and bound are kept; the message says by how much it overran. This is the
    one place where the meaning of the limit (wall clock of the whole backend call, DESIGN.md
    section 6) is enforced, so a backend that cannot stop inside one library call (a single
    scipy Dijkstra, a network simplex) is counted as every other.
    """
    if time_limit is None or result.wall_time <= time_limit or result.status not in ENDED:
        return result
    note = f"ended after the time limit ({result.wall_time:.3g} s > {time_limit:g} s) as {result.status.value}"
    result.message = f"{note}; {result.message}" if result.message else note
    result.status = Status.TIME_LIMIT
    return result


def finalise(
    result: SolveResult,
    instance: Instance,
    *,
    capacitated: bool = False,
    memory: bool = False,
    deadlines: bool = False,
    time_limit: float | None = None,
) -> SolveResult:
    """Fill instance id/hash, recompute the objective with the evaluator, apply the time limit,
    and compute the gap.

    A decision the evaluator refuses (or that breaks a capacity the formulation claims to
    respect) turns the result into an error: a wrong answer is never reported as a solution.
    """
    result.instance_id = instance.name
    result.instance_hash = instance.hash
    if result.decision is not None:
        try:
            ev = evaluate(instance, result.decision)
            result.evaluated_objective = ev.objective(result.objective_name)
            if capacitated or memory or deadlines:
                bad = capacity_violations(
                    instance, ev, memory=memory, deadlines=deadlines, rel_tol=1e-5, capacity=capacitated
                )
                if bad:
                    raise InfeasibleDecision(f"{bad[0].resource} exceeded: {bad[0].used:.6g} > {bad[0].limit:.6g}")
        except InfeasibleDecision as err:
            return replace(result, status=Status.ERROR, message=f"decision refused by the evaluator: {err}")
    if result.status == Status.OPTIMAL and result.bound is None:
        result.bound = result.objective
    apply_time_limit(result, time_limit)
    result.gap = relative_gap(result.objective, result.bound)
    return result


def result_from_dict(d: Mapping[str, Any]) -> SolveResult:
    """Inverse of ``to_dict`` (decision kept as JSON-ready routes)."""
    from instances.evaluate import decision_from_json

    data = dict(d)
    data["status"] = Status(data["status"])
    if data.get("decision") is not None:
        data["decision"] = decision_from_json(data["decision"])
    return SolveResult(**data)
