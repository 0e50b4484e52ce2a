"""One meaning of ``time_limit`` for every registered pair (dnnsplit.options, DESIGN.md section 6):
wall-clock seconds from the start of the backend's solve call, model build and any auxiliary
solve included.

For every pair: on an instance whose full solve takes longer than a short limit for the slow
pairs, the call returns within the limit plus a generous slack and either ended inside the
limit or reports ``time_limit`` (with its incumbent and bound where it has them, both checked);
with a limit already spent when the call starts, every pair reports ``time_limit``. The pairs
that cannot finish the instance in the short limit (the weak assignment MILP on every MILP
solver) must report ``time_limit``. Nothing else about speed is asserted.
"""

from __future__ import annotations

import pytest
from helpers import line_instance_dict

from dnnsplit import registry
from dnnsplit.options import SolverOptions
from dnnsplit.results import Status
from instances.defaults import canonical, default_set
from instances.io import instance_from_dict

LIMIT = 0.2  # seconds
SLACK = 3.0  # seconds: generous (model builds in Python are not interruptible)
ENDED = (Status.OPTIMAL, Status.FEASIBLE, Status.INFEASIBLE)
PAIRS = [s for s in registry.specs() if not s.formulation.startswith("test-")]


def _instances() -> dict[str, object]:
    from instances.llm.generate import generate_llm_cluster

    return {"single": canonical("medium"),  # 30 nodes, 20 layers: F1-weak needs seconds
            "multi": default_set("multi-small")[3],  # 20 jobs on 20 nodes, 21,880 layered arcs
            "llm": generate_llm_cluster(layout="edge", seed=1, nodes=8)}  # F5 MILPs need seconds


INSTANCES = _instances()
TINY = instance_from_dict(line_instance_dict())


def _options(spec, limit: float) -> SolverOptions:
    return SolverOptions(time_limit=limit)


def _check_incumbent(res) -> None:
    if res.objective is not None:
        low, high = (res.objective, res.bound) if res.objective_name == "throughput" else (res.bound, res.objective)
        assert res.bound is None or low <= high * (1 + 1e-9) + 1e-12, (res.bound, res.objective)  # throughput: max
        if res.evaluated_objective is not None:
            assert res.evaluated_objective == pytest.approx(res.objective, rel=1e-6, abs=1e-12)


@pytest.mark.parametrize("spec", PAIRS, ids=[s.key for s in PAIRS])
def test_short_limit_returns_in_time_and_says_so(spec):
    inst = INSTANCES[spec.problem]
    if not spec.fits(inst):
        pytest.skip(f"{spec.key} does not fit the test instance (max_layered_arcs)")
    res = registry.run(spec, inst, _options(spec, LIMIT))
    assert res.wall_time <= LIMIT + SLACK, (spec.key, res.wall_time, res.status, res.message)
    if res.status in ENDED:
        assert res.wall_time <= LIMIT, (spec.key, res.wall_time)
    else:
        assert res.status == Status.TIME_LIMIT, (spec.key, res.status, res.message)
        _check_incumbent(res)


@pytest.mark.parametrize("spec", PAIRS, ids=[s.key for s in PAIRS])
def test_a_spent_limit_is_reported(spec):
    """A limit smaller than any call: every pair reports time_limit, never a finished status."""
    inst = TINY if spec.problem == "single" or spec.fits(TINY) else INSTANCES["llm" if spec.problem == "llm" else "multi"]
    if not spec.fits(inst):
        pytest.skip(f"{spec.key} does not fit the test instance (its own test covers it)")
    res = registry.run(spec, inst, _options(spec, 1e-7))
    assert res.status == Status.TIME_LIMIT, (spec.key, res.status, res.message)
    assert res.wall_time <= SLACK, (spec.key, res.wall_time)
    _check_incumbent(res)


@pytest.mark.parametrize("backend", ["highspy", "scip", "pyomo-highs", "cpsat"])
def test_weak_milp_stops_at_the_limit(backend):
    """F1-weak needs seconds on the medium instance: a 0.2 s limit must stop every MILP solver."""
    spec = registry.get("F1-weak", backend)
    res = registry.run(spec, INSTANCES["single"], _options(spec, LIMIT))
    assert res.status == Status.TIME_LIMIT, (res.status, res.wall_time, res.message)
    assert res.wall_time <= LIMIT + SLACK
    _check_incumbent(res)
