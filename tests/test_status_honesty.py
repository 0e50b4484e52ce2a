"""Status honesty at the edges of the data (issue 12, items 3 and 6): what a backend calls
optimal is the optimum, independently of the units and magnitudes of the instance.

The reference is the engine-independent networkx layered shortest path of ``bruteforce.py``.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from bruteforce import layered_networkx
from helpers import line_instance_dict

from dnnsplit import registry
from dnnsplit.options import SolverOptions
from dnnsplit.results import Status
from instances.io import InstanceError, instance_from_dict

REPRO = Path(__file__).resolve().parents[2] / "shared" / "repro" / "cpsat-scaling.json"
EXACT_SINGLE = [s for s in registry.specs(problem="single", kind="exact")]


def _scaled(factor: float) -> dict:
    """The line instance with every speed and bandwidth multiplied by ``factor`` and no delay:
    the optimal latency shrinks by the same factor."""
    d = line_instance_dict(delay=0.0)
    for node in d["nodes"]:
        node["speed"] *= factor
    for link in d["links"]:
        link["bandwidth"] *= factor
    return d


@pytest.mark.parametrize("spec", EXACT_SINGLE, ids=[s.key for s in EXACT_SINGLE])
def test_microsecond_latencies_are_solved_exactly(spec):
    """An optimum of ~1e-7 s: an 'optimal' answer is the optimum to 1e-9, and a relaxation is
    never above it (HiGHS's absolute tolerances are ~1e-7)."""
    inst = instance_from_dict(_scaled(1e7))
    opt = layered_networkx(inst)
    assert opt < 1e-6
    res = registry.run(spec, inst)
    assert res.status == Status.OPTIMAL, (res.status, res.message)
    tol = 1e-9 * opt + res.extra.get("scaling_error_bound", 0.0) + res.extra.get("rounding_error_bound", 0.0)
    assert abs(res.objective - opt) <= tol, (res.objective, opt)
    if res.bound is not None:
        assert res.bound <= opt + tol
    if res.lp_relaxation is not None:
        assert res.lp_relaxation <= opt * (1 + 1e-9) + tol


@pytest.mark.skipif(not REPRO.exists(), reason=f"{REPRO} is not there")
@pytest.mark.parametrize("formulation", ["F1-weak", "F1-aggregated"])
def test_cpsat_never_calls_a_rounded_optimum_optimal(formulation):
    """Link bandwidths from 1 B/s to 1.9e9 B/s in one network: CP-SAT's integer costs must not
    turn a solution above the optimum into 'optimal' (it was 0.264 % above)."""
    from instances.io import load

    inst = load(REPRO)
    opt = layered_networkx(inst)
    res = registry.run(registry.get(formulation, "cpsat"), inst)
    assert res.status in (Status.OPTIMAL, Status.FEASIBLE), res.message
    if res.status == Status.OPTIMAL:
        assert res.objective <= opt * (1 + 1e-9), (res.objective, opt)
    assert res.bound is None or res.bound <= opt * (1 + 1e-12)
    assert res.objective >= opt * (1 - 1e-12)


def test_pdlp_reports_a_path_without_claiming_a_bound():
    inst = instance_from_dict(line_instance_dict())
    opt = layered_networkx(inst)
    res = registry.run(registry.get("F2", "highspy"), inst, SolverOptions(lp_algorithm="pdlp"))
    assert res.status in (Status.OPTIMAL, Status.FEASIBLE), (res.status, res.message)
    assert res.message  # says why there is no proof
    assert res.bound is None or res.bound <= opt * (1 + 1e-12)
    assert res.objective >= opt * (1 - 1e-12)


@pytest.mark.parametrize("field,value", [
    ("bandwidth", 1e-14), ("bandwidth", 1e-300), ("delay", 1e300), ("rate", 1e300), ("bandwidth", 1e30),
])
def test_values_beyond_what_solvers_represent_are_refused_with_the_field(field, value):
    d = line_instance_dict()
    if field == "rate":
        d["jobs"][0]["rate"] = value
        where = "jobs[0].rate"
    else:
        for link in d["links"]:
            link[field] = value
        where = f"links[0].{field}"
    with pytest.raises(InstanceError, match=r"links\[0\]|jobs\[0\]") as err:
        instance_from_dict(d)
    assert err.value.path == where
    assert "representable range" in err.value.reason


def test_data_at_the_documented_limits_solves_on_every_exact_pair():
    """The extremes the format accepts (bandwidth 1e-3 B/s, delay 1e4 s) give answers, never an
    unexplained solver error."""
    d = line_instance_dict()
    d = copy.deepcopy(d)
    d["links"][0]["bandwidth"] = 1e-3
    d["links"][2]["delay"] = 1e4
    inst = instance_from_dict(d)
    opt = layered_networkx(inst)
    for spec in EXACT_SINGLE:
        res = registry.run(spec, inst)
        assert res.status == Status.OPTIMAL, (spec.key, res.status, res.message)
        tol = 1e-9 * opt + res.extra.get("scaling_error_bound", 0.0) + res.extra.get("rounding_error_bound", 0.0)
        assert abs(res.objective - opt) <= tol, (spec.key, res.objective, opt)


def test_accuracy_target_without_accuracy_figures_is_refused():
    d = line_instance_dict()
    d["jobs"][0]["accuracy_target"] = 0.9
    with pytest.raises(InstanceError) as err:
        instance_from_dict(d)
    assert err.value.path == "jobs[0].accuracy_target"
