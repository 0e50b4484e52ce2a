"""The evaluator against hand computations on a three-node line (dev - edge - cloud)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import line_instance_dict

from instances import InfeasibleDecision, Route, capacity_violations, check_feasible, evaluate_route
from instances.evaluate import evaluate
from instances.io import instance_from_dict

# link indices in line_instance_dict: 0 dev->edge, 1 edge->dev, 2 edge->cloud, 3 cloud->edge
DEV, EDGE, CLOUD = 0, 1, 2


@pytest.fixture
def inst():
    return instance_from_dict(line_instance_dict(bandwidth=1e6, delay=0.001))


def test_latency_and_energy_by_hand(inst):
    # layer 1 on edge, layer 2 on cloud, layer 3 on edge; result back to dev.
    route = Route(placement=(EDGE, CLOUD, EDGE), paths=((0,), (2,), (3,), (1,)))
    cost = evaluate_route(inst, 0, route)
    compute = 2e9 / 1e10 + 1e9 / 1e11 + 4e8 / 1e10
    transfer = (6e5 / 1e6 + 0.001) + (4e5 / 1e7 + 0.001) + (1e5 / 1e7 + 0.001) + (1e3 / 1e6 + 0.001)
    assert cost.compute_time == pytest.approx(compute)
    assert cost.transfer_time == pytest.approx(transfer)
    assert cost.latency == pytest.approx(compute + transfer)
    energy = 50 * 2e9 / 1e10 + 300 * 1e9 / 1e11 + 50 * 4e8 / 1e10 + 1e-7 * (6e5 + 4e5 + 1e5 + 1e3)
    assert cost.energy == pytest.approx(energy)


def test_all_local_has_no_transfer(inst):
    route = Route(placement=(DEV, DEV, DEV), paths=((), (), (), ()))
    cost = evaluate_route(inst, 0, route)
    assert cost.transfer_time == 0
    assert cost.latency == pytest.approx((2e9 + 1e9 + 4e8) / 1e9)


@pytest.mark.parametrize(
    "route, match",
    [
        (Route(placement=(EDGE, EDGE), paths=((0,), (), (1,))), "placement has 2 layers"),
        (Route(placement=(EDGE, EDGE, EDGE), paths=((0,), (), (), ())), "path 3"),  # result never returns
        (Route(placement=(EDGE, EDGE, EDGE), paths=((2,), (), (), (1,))), "starts at"),
        (Route(placement=(EDGE, EDGE, EDGE), paths=((0,), (), (), (1, 0))), "ends at"),
        (Route(placement=(EDGE, EDGE, EDGE), paths=((0,), (), (), (9,))), "out of range"),
    ],
)
def test_refuses_broken_routes(inst, route, match):
    with pytest.raises(InfeasibleDecision, match=match):
        evaluate_route(inst, 0, route)


def test_refuses_layer_on_router():
    d = line_instance_dict()
    d["nodes"][1]["speed"] = 0.0
    inst = instance_from_dict(d)
    with pytest.raises(InfeasibleDecision, match="cannot compute"):
        evaluate_route(inst, 0, Route(placement=(EDGE, DEV, DEV), paths=((0,), (1,), (), ())))


def test_shares_must_sum_to_one(inst):
    r = Route(placement=(DEV, DEV, DEV), paths=((), (), (), ()), share=0.5)
    with pytest.raises(InfeasibleDecision, match="do not sum to 1"):
        evaluate(inst, {0: (r,)})


def test_split_job_loads_and_expectation(inst):
    local = Route(placement=(DEV, DEV, DEV), paths=((), (), (), ()), share=0.25)
    edge = Route(placement=(EDGE, EDGE, EDGE), paths=((0,), (), (), (1,)), share=0.75)
    ev = evaluate(inst, {0: (local, edge)})
    lat_local = evaluate_route(inst, 0, local).latency
    lat_edge = evaluate_route(inst, 0, edge).latency
    assert ev.job_latency[0] == pytest.approx(0.25 * lat_local + 0.75 * lat_edge)
    assert ev.job_worst_latency[0] == pytest.approx(max(lat_local, lat_edge))
    rate = inst.jobs[0].rate
    assert ev.node_load[DEV] == pytest.approx(rate * 0.25 * 3.4)
    assert ev.node_load[EDGE] == pytest.approx(rate * 0.75 * 3.4e9 / 1e10)
    assert ev.link_load[0] == pytest.approx(rate * 0.75 * 6e5)
    assert ev.link_load[1] == pytest.approx(rate * 0.75 * 1e3)
    # parameters counted once per (model, layer, node)
    assert ev.memory_use[DEV] == pytest.approx(3e6) and ev.memory_use[EDGE] == pytest.approx(3e6)


def test_capacity_violation_names_resource():
    d = line_instance_dict()
    d["jobs"][0]["rate"] = 10.0  # 10 requests/s of 3.4 s local work: 34 busy seconds per second
    inst = instance_from_dict(d)
    decision = {0: (Route(placement=(DEV, DEV, DEV), paths=((), (), (), ())),)}
    violations = capacity_violations(inst, evaluate(inst, decision))
    assert violations and "'dev' busy time" in violations[0].resource
    with pytest.raises(InfeasibleDecision, match="'dev' busy time"):
        check_feasible(inst, decision)


def test_early_exit_weights():
    d = line_instance_dict()
    d["models"][0]["accuracy"] = 0.8
    d["models"][0]["exits"] = [
        {"after_layer": 1, "probability": 0.4, "head_flops": 1e8, "accuracy": 0.6, "result_bytes": 100.0}
    ]
    inst = instance_from_dict(d)
    model = inst.models[0]
    np.testing.assert_allclose(model.reach((0,)), [1.0, 0.6, 0.6, 0.6])
    assert model.expected_accuracy((0,)) == pytest.approx(0.4 * 0.6 + 0.6 * 0.8)
    # layer 1 on edge; exit there; rest on cloud; final result back to dev.
    route = Route(
        placement=(EDGE, CLOUD, CLOUD), paths=((0,), (2,), (), (3, 1)), active_exits=(0,), exit_paths=((1,),)
    )
    cost = evaluate_route(inst, 0, route)
    t = lambda size, bw: size / bw + 0.001  # noqa: E731
    expected = (
        2e9 / 1e10  # layer 1, rho_1 = 1
        + 1e8 / 1e10  # head after layer 1 (all samples reach it)
        + 0.6 * (1e9 / 1e11 + 4e8 / 1e11)  # layers 2, 3
        + t(6e5, 1e6)  # input, rho_1 = 1
        + 0.6 * t(4e5, 1e7)  # o_1 to cloud, rho_2
        + 0.6 * (t(1e3, 1e7) + t(1e3, 1e6))  # o_3 back to dev, rho_4
        + 0.4 * t(100.0, 1e6)  # exit result from edge to dev
    )
    assert cost.latency == pytest.approx(expected)


def test_accuracy_target_is_checked():
    d = line_instance_dict()
    d["models"][0]["accuracy"] = 0.8
    d["models"][0]["exits"] = [
        {"after_layer": 1, "probability": 0.5, "head_flops": 0.0, "accuracy": 0.5, "result_bytes": 10.0}
    ]
    d["jobs"][0]["accuracy_target"] = 0.75
    inst = instance_from_dict(d)
    with_exit = Route(placement=(DEV, DEV, DEV), paths=((), (), (), ()), active_exits=(0,), exit_paths=((),))
    with pytest.raises(InfeasibleDecision, match="accuracy"):
        evaluate(inst, {0: (with_exit,)})
    ev = evaluate(inst, {0: (Route(placement=(DEV, DEV, DEV), paths=((), (), (), ())),)})
    assert math.isfinite(ev.objective("latency"))


def test_deadline_violation_is_reported():
    d = line_instance_dict()
    d["jobs"][0]["deadline"] = 1.0
    d["jobs"][0]["rate"] = 0.1  # 0.34 busy seconds per second: capacity is not the issue
    inst = instance_from_dict(d)
    ev = evaluate(inst, {0: (Route(placement=(DEV, DEV, DEV), paths=((), (), (), ())),)})
    assert [v.resource for v in capacity_violations(inst, ev, deadlines=True)] == ["job 0 (j0) deadline"]
    assert capacity_violations(inst, ev) == []


def test_measured_time_overrides_flops():
    d = line_instance_dict()
    d["nodes"][0]["device_class"] = "cpu1"
    for i, layer in enumerate(d["models"][0]["layers"]):
        layer["time_s"] = {"cpu1": 0.1 * (i + 1)}
    inst = instance_from_dict(d)
    tau = inst.compute_time(0)
    np.testing.assert_allclose(tau[:, DEV], [0.1, 0.2, 0.3])  # measured
    np.testing.assert_allclose(tau[:, EDGE], np.array([2e9, 1e9, 4e8]) / 1e10)  # flops / speed
