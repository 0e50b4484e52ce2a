"""Options, the registry's run wrapper and the result record, with stand-in backends."""

from __future__ import annotations

import json

import pytest
from helpers import line_instance_dict

from dnnsplit.options import EXACT_REL_GAP, SolverOptions, UnsupportedOption
from dnnsplit.registry import SolverSpec, run
from dnnsplit.results import SolveResult, Status, relative_gap, result_from_dict
from instances import Route, evaluate_route
from instances.io import instance_from_dict

LOCAL = Route(placement=(0, 0, 0), paths=((), (), (), ()))


@pytest.fixture
def inst():
    return instance_from_dict(line_instance_dict())


def _spec(solve, **kw):
    return SolverSpec("test-f", "test-b", solve, problem="single", objective="latency", **kw)


def test_unaccepted_option_is_an_error(inst):
    spec = _spec(lambda i, o: SolveResult("test-f", "test-b", Status.OPTIMAL), accepts=frozenset({"time_limit"}))
    with pytest.raises(UnsupportedOption, match="lp_algorithm"):
        run(spec, inst, SolverOptions(lp_algorithm="ipm"))
    with pytest.raises(UnsupportedOption, match="raw"):
        run(spec, inst, SolverOptions(raw={"presolve": "off"}))
    run(spec, inst, SolverOptions(time_limit=5))  # accepted


@pytest.mark.parametrize(
    "kwargs", [{"time_limit": 0}, {"mip_gap": 1.5}, {"threads": 0}, {"lp_algorithm": "barrier"}]
)
def test_invalid_option_values(kwargs):
    with pytest.raises(UnsupportedOption):
        SolverOptions(**kwargs)


@pytest.mark.parametrize(
    "options,rel,abs_",
    [(SolverOptions(), EXACT_REL_GAP, 0.0), (SolverOptions(mip_gap=0.02), 0.02, 0.0),
     (SolverOptions(raw={"mip_rel_gap": 0.3, "mip_abs_gap": 5.0}), 0.3, 5.0)],
)
def test_highs_milp_gap_is_exact_unless_asked(options, rel, abs_):
    """HiGHS's defaults (1e-4 relative, 1e-6 absolute) must not leak into an 'optimal' MILP."""
    import highspy

    from dnnsplit.solvers.highs import apply_options as apply_highs_options

    h = highspy.Highs()
    apply_highs_options(h, options, mip=True)
    assert h.getOptionValue("mip_rel_gap")[1] == pytest.approx(rel)
    assert h.getOptionValue("mip_abs_gap")[1] == pytest.approx(abs_)
    lp = highspy.Highs()
    apply_highs_options(lp, SolverOptions(), mip=False)  # LPs keep HiGHS's defaults
    assert lp.getOptionValue("mip_rel_gap")[1] == pytest.approx(1e-4)


def test_run_recomputes_objective_and_gap(inst):
    true = evaluate_route(inst, 0, LOCAL).latency

    def solve(i, o):
        return SolveResult("test-f", "test-b", Status.FEASIBLE, objective=true, bound=true / 2, decision={0: (LOCAL,)})

    result = run(_spec(solve), inst)
    assert result.evaluated_objective == pytest.approx(true)
    assert result.gap == pytest.approx(0.5)
    assert result.instance_hash == inst.hash and result.wall_time >= 0


def test_refused_decision_becomes_error(inst):
    bad = Route(placement=(0, 0, 0), paths=((0,), (), (), ()))

    def solve(i, o):
        return SolveResult("test-f", "test-b", Status.OPTIMAL, objective=1.0, decision={0: (bad,)})

    result = run(_spec(solve), inst)
    assert result.status == Status.ERROR and "refused by the evaluator" in result.message


def test_backend_exception_is_recorded(inst):
    def solve(i, o):
        raise RuntimeError("solver exploded")

    result = run(_spec(solve), inst)
    assert result.status == Status.ERROR and "solver exploded" in result.message


def test_capacitated_spec_refuses_overload():
    d = line_instance_dict()
    d["jobs"][0]["rate"] = 10.0
    inst = instance_from_dict(d)

    def solve(i, o):
        return SolveResult("test-f", "test-b", Status.OPTIMAL, objective=34.0, decision={0: (LOCAL,)})

    spec = SolverSpec("t", "b", solve, problem="multi", objective="rate_weighted_latency", capacitated=True)
    result = run(spec, inst)
    assert result.status == Status.ERROR and "busy time" in result.message


def test_record_round_trips_through_json(inst):
    def solve(i, o):
        return SolveResult("test-f", "test-b", Status.OPTIMAL, objective=3.4, decision={0: (LOCAL,)})

    result = run(_spec(solve), inst)
    again = result_from_dict(json.loads(result.to_json()))
    assert again.to_dict() == result.to_dict()


def test_relative_gap():
    assert relative_gap(10.0, 9.0) == pytest.approx(0.1)
    assert relative_gap(0.0, 0.0) == 0.0
    assert relative_gap(None, 1.0) is None
