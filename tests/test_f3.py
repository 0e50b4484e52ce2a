"""F3, the multi-job capacitated flow: arc form (highspy, Pyomo) and path form (column generation).

Checked against independent references: the two forms against each other (different models,
different solvers: arc LP vs column generation), the single-job optimum against the brute-force
enumerator, every returned decision against the evaluator (objective and capacities), MILP
optima against LP bounds, and hand-made instances whose answer is known (over-subscribed,
memory-bound, exit-selection).
"""

from __future__ import annotations

import numpy as np
import pytest
from bruteforce import brute_force_value
from helpers import line_instance_dict
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dnnsplit import registry
from dnnsplit.options import SolverOptions, UnsupportedOption
from dnnsplit.results import Status
from formulations.f3.model import VARIANTS, F3Data
from instances.evaluate import capacity_violations, evaluate
from instances.generate import reference_latency
from instances.io import instance_from_dict

REL = 1e-6
HYP = dict(derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
EXACT_CG = SolverOptions(mip_gap=0.0, time_limit=60.0)  # column generation until no column prices out


# ----------------------------------------------------------------------------- instances


def random_instance(seed: int, *, jobs: int | None = None, exits: bool = True, deadlines: bool = True,
                    load: float = 1.0) -> "object":
    """A small random instance (3-6 nodes, 2-4 layers, 2-5 jobs): about a quarter of the draws
    have binding capacities, a fifth are infeasible (splittable), more when unsplittable."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 7))
    tiers = ["device"] + [str(rng.choice(["device", "edge", "cloud", "router"])) for _ in range(n - 1)]
    speed = {"device": 1e9, "edge": 3e9, "cloud": 1e10, "router": 0.0}
    power = {"device": 5.0, "edge": 60.0, "cloud": 300.0, "router": 0.0}
    nodes = [{"name": f"n{i}", "tier": t, "device_class": None, "speed": speed[t] * float(rng.uniform(0.5, 1.5)),
              "power": power[t], "memory": float(rng.uniform(1e8, 1e9))} for i, t in enumerate(tiers)]
    pairs = {(i, (i + 1) % n) for i in range(n)}
    for _ in range(int(rng.integers(0, 2 * n))):
        i, k = (int(x) for x in rng.choice(n, 2, replace=False))
        pairs.add((i, k))
    links = []
    for i, k in sorted(pairs):
        for s, t in ((i, k), (k, i)):
            links.append({"source": f"n{s}", "target": f"n{t}", "bandwidth": float(10 ** rng.uniform(5.5, 7.5)),
                          "delay": float(rng.uniform(0, 0.005)), "energy_per_byte": float(rng.uniform(1e-8, 1e-7))})
    models = []
    for m in range(int(rng.integers(1, 3))):
        L = int(rng.integers(2, 5))
        layers = [{"name": f"l{l}", "flops": float(10 ** rng.uniform(7, 9)), "output_bytes": float(10 ** rng.uniform(3, 6)),
                   "param_bytes": float(10 ** rng.uniform(6, 8))} for l in range(L)]
        ex = []
        if exits and L >= 2 and rng.random() < 0.7:
            for after in sorted(rng.choice(np.arange(1, L), size=int(rng.integers(1, min(2, L - 1) + 1)), replace=False)):
                ex.append({"after_layer": int(after), "probability": float(rng.uniform(0.1, 0.4)),
                           "head_flops": float(10 ** rng.uniform(6, 7.5)), "accuracy": float(rng.uniform(0.6, 0.9)),
                           "result_bytes": 200.0})
        models.append({"name": f"m{m}", "input_bytes": float(10 ** rng.uniform(4, 6)), "accuracy": 0.95,
                       "layers": layers, "exits": ex})
    k = jobs if jobs is not None else int(rng.integers(2, 6))
    devices = [i for i, t in enumerate(tiers) if t == "device"]
    jobs_d = []
    for j in range(k):
        s = int(rng.choice(devices))
        t = s if rng.random() < 0.6 else int(rng.integers(0, n))
        jobs_d.append({"name": f"j{j}", "model": f"m{int(rng.integers(0, len(models)))}", "source": f"n{s}",
                       "sink": f"n{t}", "rate": float(load * rng.uniform(0.3, 4.0)), "deadline": None,
                       "accuracy_target": float(rng.uniform(0.8, 0.95)) if exits and rng.random() < 0.5 else None})
    d = {"format": "dnnsplit-instance", "version": 1, "name": f"rand-{seed}", "utilisation_cap": 0.9,
         "generator": None, "nodes": nodes, "links": links, "models": models, "jobs": jobs_d}
    inst = instance_from_dict(d)
    if deadlines:
        for j in range(k):
            if rng.random() < 0.7:
                d["jobs"][j]["deadline"] = float(rng.uniform(0.9, 2.0) * reference_latency(inst, j))
        inst = instance_from_dict(d)
    return inst


def exact_options(spec) -> SolverOptions:
    """Column generation to convergence, MILPs to a zero gap, LPs as they are."""
    if spec.backend == "colgen" or "mip_gap" in spec.accepts:
        return EXACT_CG
    return SolverOptions()


def run(formulation: str, backend: str, inst, options: SolverOptions | None = None):
    spec = registry.get(formulation, backend)
    return registry.run(spec, inst, options if options is not None else exact_options(spec))


def check_decision(res, inst, spec) -> None:
    """A returned decision is re-evaluated: same objective, every capacity respected."""
    assert res.decision is not None, (spec.key, res.message)
    ev = evaluate(inst, res.decision)
    assert not capacity_violations(inst, ev, memory=spec.memory, deadlines=spec.deadlines, rel_tol=1e-5)
    assert res.evaluated_objective == pytest.approx(ev.objective(spec.objective), rel=1e-9)
    if res.status == Status.OPTIMAL or spec.kind == "heuristic":
        assert res.evaluated_objective == pytest.approx(res.objective, rel=1e-6, abs=1e-9), spec.key


def same_outcome(a, b, tag: str) -> None:
    """Two solves of the same problem: both infeasible, or both optimal with equal values."""
    assert a.status in (Status.OPTIMAL, Status.INFEASIBLE), (tag, a.backend, a.status, a.message)
    assert b.status == a.status, (tag, a.backend, a.status, b.backend, b.status, b.message)
    if a.status == Status.OPTIMAL:
        assert b.objective == pytest.approx(a.objective, rel=REL, abs=1e-9), tag


# ----------------------------------------------------------------------------- arc form vs path form

LP_VARIANTS = ["F3-latency-lp", "F3-minmax-lp", "F3-energy-lp", "F3-exit-lp", "F3-exit-select-lp"]


@settings(max_examples=30, **HYP)
@given(seed=st.integers(0, 10**6))
def test_arc_and_path_forms_give_the_same_lp_optimum(seed: int) -> None:
    inst = random_instance(seed)
    for name in LP_VARIANTS:
        arc = run(name, "highspy", inst)
        path = run(name, "colgen", inst)
        same_outcome(arc, path, f"{name} seed {seed}")
        if arc.status == Status.OPTIMAL:
            # the CG bound is proven and the master value is an upper bound
            assert path.bound <= arc.objective * (1 + REL) + 1e-9
            history = path.extra["bound_history"]
            assert history and all(lb <= arc.objective * (1 + REL) + 1e-9 for _, _, _, lb in history)
            if arc.decision is not None:
                check_decision(arc, inst, registry.get(name, "highspy"))
                check_decision(path, inst, registry.get(name, "colgen"))
        else:  # the message names the most violated resource
            for r in (arc, path):
                assert "most violated resource" in r.message, r.message


@settings(max_examples=15, **HYP)
@given(seed=st.integers(0, 10**6))
def test_milp_is_never_below_its_lp_and_price_and_branch_is_feasible(seed: int) -> None:
    inst = random_instance(seed)
    for split in ("latency", "minmax", "energy", "exit-select"):
        lp = run(f"F3-{split}-lp", "highspy", inst)
        milp = run(f"F3-{split}-milp", "highspy", inst)
        pab = run(f"F3-{split}-milp", "colgen", inst)
        if lp.status == Status.INFEASIBLE:
            assert milp.status == Status.INFEASIBLE and pab.status == Status.INFEASIBLE
            continue
        assert lp.status == Status.OPTIMAL
        if milp.status == Status.INFEASIBLE:  # unsplittable can be infeasible where splitting is not
            assert "most violated resource" in milp.message
            # no integer point among the columns: the arc-form MILP fallback proves infeasibility
            assert pab.status in (Status.INFEASIBLE, Status.TIME_LIMIT), pab.message
            continue
        assert milp.status == Status.OPTIMAL, milp.message
        assert milp.objective >= lp.objective * (1 - REL) - 1e-9
        check_decision(milp, inst, registry.get(f"F3-{split}-milp", "highspy"))
        # the CG bound is the LP relaxation (stronger for exit selection: configurations below the
        # accuracy target are dropped in the unsplittable model), never above the MILP optimum
        assert lp.objective * (1 - REL) - 1e-9 <= pab.bound <= milp.objective * (1 + REL) + 1e-9
        if split != "exit-select" and pab.extra.get("fallback") is None:
            assert pab.bound == pytest.approx(lp.objective, rel=REL, abs=1e-9)  # the arc MILP bound is stronger
        if pab.decision is not None:
            assert pab.status in (Status.OPTIMAL, Status.FEASIBLE)
            assert pab.objective >= milp.objective * (1 - REL) - 1e-9  # never better than the optimum
            check_decision(pab, inst, registry.get(f"F3-{split}-milp", "colgen"))
            if pab.status == Status.OPTIMAL:  # "optimal" means exact, as for the arc-form MILP
                assert pab.objective == pytest.approx(milp.objective, rel=1e-8, abs=1e-9)


def test_colgen_optimal_means_exact_unless_a_gap_is_asked() -> None:
    """500 jobs of the jobs sweep: price-and-branch ends within 1e-4 of the CG bound but not
    within 1e-9, so it is feasible by default and optimal only when mip_gap allows that gap."""
    from instances.defaults import MULTI_JOBS_LOAD
    from instances.generate import generate

    lo, hi = MULTI_JOBS_LOAD
    inst = generate("hierarchical", name="sweep-500", seed=61, nodes=30, layers=10, jobs=500,
                    rate_range=[lo / 500, hi / 500])
    pab = registry.run(registry.get("F3-latency-milp", "colgen"), inst, SolverOptions())
    assert pab.status == Status.FEASIBLE and 1e-9 < pab.gap <= 1e-4, (pab.status, pab.gap)
    loose = registry.run(registry.get("F3-latency-milp", "colgen"), inst, SolverOptions(mip_gap=1e-4))
    assert loose.status == Status.OPTIMAL and loose.gap <= 1e-4


@settings(max_examples=6, **HYP)
@given(seed=st.integers(0, 10**6))
def test_pyomo_and_highspy_arc_models_agree(seed: int) -> None:
    inst = random_instance(seed, jobs=2)
    for name in ("F3-latency-lp", "F3-energy-milp", "F3-exit-select-lp", "F3-latency-mem-milp", "F3-minmax-milp"):
        a = run(name, "highspy", inst)
        b = run(name, "pyomo-highs", inst)
        same_outcome(a, b, f"{name} seed {seed}")
        if a.status == Status.INFEASIBLE:
            assert a.message.split(";")[0] == b.message.split(";")[0] or "most violated" in b.message


# ----------------------------------------------------------------------------- single job = F2


@settings(max_examples=15, **HYP)
@given(seed=st.integers(0, 10**6))
def test_one_job_with_loose_capacities_is_the_single_job_optimum(seed: int) -> None:
    inst = random_instance(seed, jobs=1, exits=False, deadlines=False, load=1e-6)  # tiny rate: nothing binds
    best = brute_force_value(inst, 0)
    lam = inst.jobs[0].rate
    for backend in ("highspy", "colgen"):
        for name in ("F3-latency-lp", "F3-latency-milp"):
            res = run(name, backend, inst)
            assert res.status == Status.OPTIMAL, res.message
            assert res.objective == pytest.approx(lam * best, rel=REL), (name, backend)
    minmax = run("F3-minmax-milp", "colgen", inst)
    assert minmax.objective == pytest.approx(best, rel=REL)
    f2 = [s for s in registry.specs(problem="single", kind="exact") if s.formulation == "F2"]
    for spec in f2[:1]:
        assert registry.run(spec, inst).objective == pytest.approx(best, rel=REL)


# ----------------------------------------------------------------------------- hand-made cases


def line(rate: float, **kw) -> "object":
    d = line_instance_dict(**kw)
    d["jobs"][0]["rate"] = rate
    return instance_from_dict(d)


@pytest.mark.parametrize("key", [s.key for s in registry.specs(problem="multi") if s.formulation.startswith("F3-")])
def test_oversubscribed_instance_is_infeasible_and_names_the_resource(key: str) -> None:
    spec = registry.get(*key.split("/"))
    inst = line(rate=500.0)  # 500 requests/s: the input alone needs 300 MB/s on a 1 MB/s uplink
    res = registry.run(spec, inst)
    assert res.status == Status.INFEASIBLE, (key, res.status, res.message)
    assert "most violated resource" in res.message
    assert "(C1)" in res.message or "(C2)" in res.message


def test_the_explanation_of_an_infeasible_arc_model_leaves_a_margin_before_the_limit(monkeypatch) -> None:
    """The elastic explanation runs after the proof: the clock it gets ends EXPLAIN_MARGIN
    before the call's limit, so a slow explanation cannot turn a proven infeasibility into a
    time-limit result (seen with SCIP's LP on a 450,000-column elastic model)."""
    from dnnsplit.solvers.model import ArrayBackend
    from formulations.f3 import arc

    seen: list[tuple[int, float]] = []
    original = ArrayBackend.run

    def run(self, model, options, clock, *, relax=False):
        seen.append((model.num_cols, clock.remaining()))
        return original(self, model, options, clock, relax=relax)

    monkeypatch.setattr(ArrayBackend, "run", run)
    limit = 100.0
    res = registry.run(registry.get("F3-latency-milp", "highspy"), line(rate=500.0), SolverOptions(time_limit=limit))
    assert res.status == Status.INFEASIBLE and "most violated resource" in res.message
    (n0, left0), (n1, left1) = seen[0], seen[1]  # the proof, then the elastic LP (one more column per row)
    assert n1 > n0
    assert left1 <= left0 - max(arc.EXPLAIN_MARGIN[0], arc.EXPLAIN_MARGIN[1] * left0 * 0.99)


def test_every_f3_pair_returns_a_checked_decision_on_a_busy_instance() -> None:
    inst = random_instance(7, jobs=4, load=2.0)
    lp = run("F3-latency-lp", "highspy", inst)
    assert lp.status == Status.OPTIMAL  # the draw is feasible and capacities bind
    for spec in registry.specs(problem="multi"):
        if not spec.formulation.startswith("F3-"):
            continue
        res = registry.run(spec, inst, exact_options(spec))
        assert res.status != Status.ERROR, (spec.key, res.message)
        if spec.kind == "bound":
            assert res.decision is None and res.bound is not None
        elif res.status in (Status.OPTIMAL, Status.FEASIBLE):
            check_decision(res, inst, spec)
            assert res.extra["n_jobs"] == 4 and res.extra["form"] in ("arc", "path")


def test_capacities_bind_and_are_respected() -> None:
    """A rate that overloads the device when run locally: the LP must offload part of it."""
    inst = line(rate=0.9, bandwidth=1e7)
    free = line(rate=1e-6, bandwidth=1e7)
    for backend in ("highspy", "colgen"):
        res = run("F3-latency-lp", backend, inst)
        assert res.status == Status.OPTIMAL
        ev = evaluate(inst, res.decision)
        assert ev.node_load.max() <= 0.9 * (1 + 1e-6) and (ev.link_load / inst.network.bandwidth).max() <= 0.9 + 1e-6
        loose = run("F3-latency-lp", backend, free)
        assert res.objective / 0.9 >= loose.objective / 1e-6 * (1 - REL)  # capacity never helps


def _memory_instance(memory: float):
    d = line_instance_dict(bandwidth=1e7)
    d["nodes"][2]["memory"] = memory  # cloud
    d["jobs"][0]["rate"] = 0.5
    d["jobs"].append(dict(d["jobs"][0], name="j1"))
    return instance_from_dict(d)


def test_memory_c3_changes_the_optimum_and_is_respected() -> None:
    inst = _memory_instance(1.5e6)  # room for one layer's parameters (1e6 each) on the cloud
    base = run("F3-latency-milp", "highspy", inst)
    mem = run("F3-latency-mem-milp", "highspy", inst)
    relax = run("F3-latency-mem-lp", "highspy", inst)
    assert base.status == mem.status == Status.OPTIMAL
    cloud = inst.network.index("cloud")
    assert evaluate(inst, base.decision).memory_use[cloud] > 1.5e6  # without C3 the cloud is overfull
    assert evaluate(inst, mem.decision).memory_use[cloud] <= 1.5e6
    assert mem.objective > base.objective * (1 + 1e-6)
    assert relax.decision is None and relax.objective <= mem.objective * (1 + REL)  # a bound
    pyo = run("F3-latency-mem-milp", "pyomo-highs", inst)
    assert pyo.objective == pytest.approx(mem.objective, rel=REL)


def _exit_instance(target: float | None):
    d = line_instance_dict(flops=(2e9, 1e9, 4e8, 4e8), out_bytes=(4e5, 1e5, 1e4, 1e3))
    d["models"][0]["accuracy"] = 0.9
    d["models"][0]["exits"] = [
        {"after_layer": 1, "probability": 0.5, "head_flops": 1e7, "accuracy": 0.7, "result_bytes": 100.0},
        {"after_layer": 2, "probability": 0.3, "head_flops": 1e7, "accuracy": 0.85, "result_bytes": 100.0},
    ]
    d["jobs"][0]["accuracy_target"] = target
    return instance_from_dict(d)


def test_exit_selection_meets_the_accuracy_target_and_saves_energy() -> None:
    loose, tight = _exit_instance(None), _exit_instance(0.88)
    model = loose.models[0]
    for backend in ("highspy", "colgen"):
        free = run("F3-exit-select-milp", backend, loose)
        bound = run("F3-exit-select-milp", backend, tight)
        none = run("F3-energy-milp", backend, tight)
        assert free.status in (Status.OPTIMAL,) and bound.status in (Status.OPTIMAL,)
        # unconstrained: both exits on (they only remove work); with the target only configurations
        # whose expected accuracy is >= 0.88 remain
        assert free.decision[0][0].active_exits == (0, 1)
        acc = model.expected_accuracy(bound.decision[0][0].active_exits)
        assert acc >= 0.88 - 1e-9
        assert free.objective <= bound.objective * (1 + REL) <= none.objective * (1 + REL)
    # all exits on misses the target: F3-exit reports the accuracy row
    res = run("F3-exit-lp", "highspy", tight)
    assert res.status == Status.INFEASIBLE and "accuracy target" in res.message


def test_splittable_exit_selection_mixes_configurations_to_meet_the_target() -> None:
    inst = _exit_instance(0.85)
    lp = run("F3-exit-select-lp", "highspy", inst)
    cg = run("F3-exit-select-lp", "colgen", inst)
    milp = run("F3-exit-select-milp", "highspy", inst)
    assert lp.objective == pytest.approx(cg.objective, rel=REL)
    assert lp.objective <= milp.objective * (1 + REL)
    acc = sum(r.share * inst.models[0].expected_accuracy(r.active_exits) for r in lp.decision[0])
    assert acc >= 0.85 - 1e-6


def test_deadlines_bind_the_energy_objective() -> None:
    inst = line(rate=0.1)
    free = run("F3-energy-lp", "highspy", inst)
    lat = evaluate(inst, free.decision).job_latency[0]
    d = line_instance_dict()
    d["jobs"][0]["rate"] = 0.1
    d["jobs"][0]["deadline"] = 0.5 * lat
    tight = instance_from_dict(d)
    for backend in ("highspy", "colgen"):
        res = run("F3-energy-lp", backend, tight)
        if res.status == Status.INFEASIBLE:
            assert "deadline" in res.message
            continue
        assert evaluate(tight, res.decision).job_latency[0] <= 0.5 * lat * (1 + 1e-6)
        assert res.objective >= free.objective * (1 - REL)


def test_column_generation_stops_at_the_requested_gap_and_reports_its_history() -> None:
    for seed in range(11, 60):  # the first busy draw that is feasible
        inst = random_instance(seed, jobs=4, load=2.0)
        exact = run("F3-latency-lp", "highspy", inst)
        if exact.status == Status.OPTIMAL:
            break
    res = run("F3-latency-lp", "colgen", inst, SolverOptions(mip_gap=0.05))
    assert res.status == Status.OPTIMAL and res.gap <= 0.05 + 1e-12
    assert res.bound <= exact.objective * (1 + REL) <= res.objective * (1 + REL)
    e = res.extra
    assert e["bound_history_len"] == len(e["bound_history"]) == e["cg_iterations"] >= 1
    assert e["columns"] >= len(inst.jobs) and e["form"] == "path" and e["n_jobs"] == len(inst.jobs)


def test_options_are_checked() -> None:
    inst = line(rate=1.0)
    with pytest.raises(UnsupportedOption):
        run("F3-latency-lp", "colgen", inst, SolverOptions(lp_algorithm="ipm"))
    with pytest.raises(UnsupportedOption):
        run("F3-latency-lp", "highspy", inst, SolverOptions(mip_gap=0.01))
    assert run("F3-latency-lp", "highspy", inst, SolverOptions(lp_algorithm="ipm")).status == Status.OPTIMAL


def test_variants_are_add_ons_of_one_base_model() -> None:
    base = ("flow_conservation", "node_capacity", "link_capacity", "accuracy")
    for v in VARIANTS.values():
        assert v.addons[:4] == base and v.addons[-1] == f"{v.objective}_objective"
        assert ("deadlines" in v.addons) == v.deadlines and ("memory" in v.addons) == v.memory
    inst = _exit_instance(0.8)
    d = F3Data(inst, VARIANTS["F3-exit-select-milp"])
    assert all(t.accuracy >= 0.8 for t in d.options[0])  # configurations below the target dropped
    assert len(F3Data(inst, VARIANTS["F3-exit-select-lp"]).options[0]) == 4  # all 2^2 kept in the LP
