"""Literature baselines (heuristics/*.py) against independent brute force and the exact pairs.

Oracles: ``bruteforce.brute_force`` (single-job latency, networkx), a capacitated multi-job
enumerator written here (placements x jobs, node capacities binding, links loose by
construction), and an energy/deadline/accuracy enumerator written here (exit configurations x
placements x Pareto-filtered simple paths, networkx). Every heuristic in the registry is
checked, so new ones are covered without edits.
"""

from __future__ import annotations

import itertools
import math

import networkx as nx
import numpy as np
import pytest
from bruteforce import brute_force_value
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dnnsplit import registry
from dnnsplit.options import SolverOptions, UnsupportedOption
from dnnsplit.results import Status
from heuristics.fin import exact_energy_deadline, exit_configurations
from heuristics.dina import segment_bounds
from dnnsplit.results import excess as gap_to
from instances.evaluate import capacity_violations, evaluate
from instances.io import instance_from_dict
from instances.model import Instance

SETTINGS = dict(derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HEURISTICS = [s for s in registry.specs(kind="heuristic") if s.problem != "llm"]  # LLM ones: tests/test_llm.py


# ----------------------------------------------------------------------------- instances


def random_dict(
    seed: int,
    *,
    nodes: int = 3,
    layers: int = 3,
    jobs: int = 1,
    exits: int = 0,
    router: bool = False,
    deadline: float | None = None,
    accuracy_target: float | None = None,
    load: float | None = None,
) -> dict:
    """A small random connected instance (links both ways, some parallel).

    ``load``: rates chosen so that each job alone would use about ``load`` x kappa of the
    fastest node if it ran there entirely (capacities bind for load >~ 0.5 with 2+ jobs), and
    bandwidths raised so that no link can ever be overloaded (links loose).
    """
    rng = np.random.default_rng(seed)
    names = [f"n{i}" for i in range(nodes)]
    node_list = []
    for i, name in enumerate(names):
        tier = "device" if i == 0 else ("cloud" if i == nodes - 1 else "edge")
        node_list.append({"name": name, "tier": tier, "device_class": None,
                          "speed": float(rng.uniform(1e9, 2e9) if i == 0 else rng.uniform(2e9, 3e10)),
                          "power": float(rng.uniform(2, 300)), "memory": 1e12})
    if router:
        node_list.append({"name": "r", "tier": "router", "device_class": None, "speed": 0.0, "power": 0.0, "memory": 0.0})
        names.append("r")
    pairs = [(int(rng.integers(0, i)), i) for i in range(1, len(names))]
    for _ in range(len(names)):
        i, j = sorted(rng.choice(len(names), 2, replace=False).tolist())
        if rng.random() < 0.5:
            pairs.append((i, j))  # may duplicate a pair: parallel links
    link_list = []
    for i, j in pairs:
        bw, dl, en = float(rng.uniform(1e6, 5e7)), float(rng.uniform(0, 0.004)), float(rng.uniform(1e-8, 1e-6))
        for a, b in ((i, j), (j, i)):
            link_list.append({"source": names[a], "target": names[b], "bandwidth": bw, "delay": dl, "energy_per_byte": en})
    flops = rng.uniform(1e8, 2e9, layers)
    out = rng.uniform(1e3, 5e5, layers)
    ex = []
    if exits:
        after = sorted(rng.choice(np.arange(1, layers), size=min(exits, layers - 1), replace=False).tolist())
        for a in after:
            ex.append({"after_layer": int(a), "probability": float(rng.uniform(0.1, 0.8 / len(after))),
                       "head_flops": float(rng.uniform(1e6, 1e8)), "accuracy": float(rng.uniform(0.6, 0.9)),
                       "result_bytes": float(rng.uniform(100, 2000))})
    model = {"name": "m", "input_bytes": float(rng.uniform(1e4, 5e5)), "accuracy": 0.95 if exits else None,
             "layers": [{"name": f"l{k}", "flops": float(f), "output_bytes": float(o), "param_bytes": 1e6}
                        for k, (f, o) in enumerate(zip(flops, out))],
             "exits": ex}
    fastest = max(n["speed"] for n in node_list)
    job_list = []
    for k in range(jobs):
        rate = 1.0 if load is None else float(load * rng.uniform(0.6, 1.4) * 0.9 / (flops.sum() / fastest))
        sink = names[0] if rng.random() < 0.7 else names[int(rng.integers(0, nodes))]
        job_list.append({"name": f"j{k}", "model": "m", "source": names[0], "sink": sink, "rate": rate,
                         "deadline": deadline, "accuracy_target": accuracy_target})
    if load is not None:  # links loose: the largest possible traffic fits on the slowest link
        traffic = sum(j["rate"] for j in job_list) * (model["input_bytes"] + out.sum() + 2000 * len(ex))
        floor = 2 * traffic / 0.9
        for link in link_list:
            link["bandwidth"] = max(link["bandwidth"], floor * rng.uniform(1, 3))
    return {"format": "dnnsplit-instance", "version": 1, "name": f"rand-{seed}", "utilisation_cap": 0.9,
            "generator": None, "nodes": node_list, "links": link_list, "models": [model], "jobs": job_list}


def with_deadline(d: dict, T: float) -> Instance:
    d = {**d, "jobs": [{**j, "deadline": T} for j in d["jobs"]]}
    return instance_from_dict(d)


# ----------------------------------------------------------------------------- oracles


def _multigraph(inst: Instance) -> nx.MultiDiGraph:
    net = inst.network
    g = nx.MultiDiGraph()
    g.add_nodes_from(range(net.num_nodes))
    for a in range(net.num_links):
        g.add_edge(int(net.link_source[a]), int(net.link_target[a]), key=a)
    return g


def brute_multi(inst: Instance) -> float:
    """Capacitated unsplittable optimum of rate-weighted latency (no exits; links must be loose)."""
    net = inst.network
    compute = [int(n) for n in net.compute_nodes]
    g = nx.DiGraph()
    per_job = []
    for j, job in enumerate(inst.jobs):
        model = inst.model_of(job)
        tau = inst.compute_time(model)
        sizes = model.tensor_sizes
        dist = {}
        for size in set(sizes.tolist()):
            g = nx.DiGraph()
            g.add_nodes_from(range(net.num_nodes))
            for a in range(net.num_links):
                i, k = int(net.link_source[a]), int(net.link_target[a])
                w = size / net.bandwidth[a] + net.delay[a]
                if not g.has_edge(i, k) or g[i][k]["weight"] > w:
                    g.add_edge(i, k, weight=w)
            dist[size] = dict(nx.all_pairs_dijkstra_path_length(g))
        lats, loads = [], []
        for p in itertools.product(compute, repeat=model.num_layers):
            nodes = (job.source, *p, job.sink)
            lat = sum(tau[l, n] for l, n in enumerate(p))
            lat += sum(dist[sizes[l]][nodes[l]].get(nodes[l + 1], math.inf) for l in range(len(sizes)))
            load = np.zeros(net.num_nodes)
            for l, n in enumerate(p):
                load[n] += job.rate * tau[l, n]
            lats.append(job.rate * lat)
            loads.append(load)
        per_job.append((np.array(lats), np.array(loads)))
    best = math.inf
    kappa = inst.utilisation_cap
    for combo in itertools.product(*(range(len(l)) for l, _ in per_job)):
        total = sum(per_job[j][0][c] for j, c in enumerate(combo))
        if total >= best:
            continue
        load = sum(per_job[j][1][c] for j, c in enumerate(combo))
        if np.all(load <= kappa * (1 + 1e-9)):
            best = total
    return best


def _pareto(points: list[tuple[float, float, tuple]]) -> list[tuple[float, float, tuple]]:
    points = sorted(points, key=lambda p: (p[0], p[1]))
    out, best_e = [], math.inf
    for p in points:
        if p[1] < best_e:
            out.append(p)
            best_e = p[1]
    return out


def brute_energy(inst: Instance) -> tuple[float, float]:
    """(optimal rate x energy, its latency) under the job's deadline and accuracy target, by enumeration.

    Exit results follow the latency-shortest path (the suite's convention, F3); other tensors
    take any simple path (Pareto-filtered on latency and energy per hop sequence).
    """
    net = inst.network
    job = inst.jobs[0]
    model = inst.model_of(job)
    L = model.num_layers
    T = math.inf if job.deadline is None else job.deadline
    g = _multigraph(inst)
    compute = [int(n) for n in net.compute_nodes]

    def simple_paths(i: int, k: int) -> list[tuple[int, ...]]:
        if i == k:
            return [()]
        return [tuple(key for _, _, key in p) for p in nx.all_simple_edge_paths(g, i, k)]

    def latency_shortest(size: float, i: int, k: int) -> tuple[int, ...]:
        paths = simple_paths(i, k)
        return min(paths, key=lambda p: sum(size / net.bandwidth[a] + net.delay[a] for a in p))

    sizes = model.tensor_sizes
    tau = inst.compute_time(model)
    best = (math.inf, math.inf)
    configs = [c for r in range(len(model.exits) + 1) for c in itertools.combinations(range(len(model.exits)), r)]
    for X in configs:
        if job.accuracy_target is not None and model.expected_accuracy(X) < job.accuracy_target - 1e-9:
            continue
        rho = model.reach(X)
        options: dict[tuple[int, int, int], list] = {}
        for p in itertools.product(compute, repeat=L):
            nodes = (job.source, *p, job.sink)
            lat = en = 0.0
            for l, n in enumerate(p):
                lat += rho[l] * tau[l, n]
                en += rho[l] * tau[l, n] * net.power[n]
            for x in X:
                e = model.exits[x]
                n = nodes[e.after_layer]
                h = rho[e.after_layer - 1] * e.head_flops / net.speed[n]
                path = latency_shortest(e.result_bytes, n, job.sink)
                lat += h + e.probability * sum(e.result_bytes / net.bandwidth[a] + net.delay[a] for a in path)
                en += h * net.power[n] + e.probability * e.result_bytes * sum(net.energy_per_byte[a] for a in path)
            choices = []
            for l in range(L + 1):
                key = (l, nodes[l], nodes[l + 1])
                if key not in options:
                    pts = [(rho[l] * sum(sizes[l] / net.bandwidth[a] + net.delay[a] for a in q),
                            rho[l] * sizes[l] * sum(net.energy_per_byte[a] for a in q), q)
                           for q in simple_paths(nodes[l], nodes[l + 1])]
                    options[key] = _pareto(pts)
                choices.append(options[key])
            for combo in itertools.product(*choices):
                la = lat + sum(c[0] for c in combo)
                e = en + sum(c[1] for c in combo)
                if la <= T * (1 + 1e-12) and job.rate * e < best[0]:
                    best = (job.rate * e, la)
    return best


def reference(spec: registry.SolverSpec, inst: Instance) -> float | None:
    """The exact optimum of the problem ``spec`` solves, where an oracle here covers it."""
    if spec.problem == "single" and spec.objective == "latency" and not spec.deadlines:
        return brute_force_value(inst)
    if spec.problem == "single" and spec.objective == "energy":
        return brute_energy(inst)[0]
    if spec.problem == "multi" and spec.objective == "rate_weighted_latency" and spec.capacitated and not spec.memory:
        return brute_multi(inst)
    return None


def instance_for(spec: registry.SolverSpec, seed: int) -> Instance:
    if spec.problem == "single" and spec.objective == "energy":
        d = random_dict(seed, nodes=3, layers=2 + seed % 2, exits=1 + seed % 2, accuracy_target=0.85)
        free = brute_energy(instance_from_dict(d))[1]  # latency of the unconstrained optimum
        rng = np.random.default_rng(seed)
        return with_deadline(d, free * float(rng.uniform(0.7, 1.5)))  # sometimes binding
    if spec.problem == "single":
        return instance_from_dict(random_dict(seed, nodes=3 + seed % 2, layers=3, router=seed % 3 == 0))
    return instance_from_dict(random_dict(seed, nodes=3, layers=2, jobs=2 + seed % 2, load=0.35))


# ----------------------------------------------------------------------------- every heuristic


@pytest.mark.parametrize("spec", HEURISTICS, ids=lambda s: s.key)
@settings(max_examples=8, **SETTINGS)
@given(seed=st.integers(0, 10_000))
def test_heuristic_feasible_and_never_below_optimum(spec, seed):
    inst = instance_for(spec, seed)
    result = registry.run(spec, inst)
    assert result.status is not Status.ERROR, result.message
    assert result.status in (Status.FEASIBLE, Status.INFEASIBLE, Status.NO_SOLUTION, Status.OPTIMAL)
    ref = reference(spec, inst)
    if result.status in (Status.INFEASIBLE, Status.NO_SOLUTION):
        assert result.message  # says why (a heuristic failure proves nothing)
        return
    ev = evaluate(inst, result.decision)
    assert not capacity_violations(inst, ev, deadlines=spec.deadlines, rel_tol=1e-6, capacity=spec.capacitated)
    assert result.evaluated_objective == pytest.approx(result.objective, rel=1e-9)
    unsplit = all(len(r) == 1 for r in result.decision.values())
    if ref is not None and unsplit:
        assert math.isfinite(ref)
        assert result.evaluated_objective >= ref * (1 - 1e-9) - 1e-12
        assert gap_to(result.evaluated_objective, ref) >= -1e-9


# ----------------------------------------------------------------------------- single job


def two_node_dict(seed: int, *, remote_factor: float, link_bw: float) -> dict:
    """Device + one remote (``remote_factor`` times faster on every layer), non-increasing tensors."""
    rng = np.random.default_rng(seed)
    L = int(rng.integers(1, 6))
    flops = rng.uniform(1e8, 3e9, L)
    out = np.sort(rng.uniform(1e3, 1e6, L))[::-1]
    d = random_dict(seed, nodes=2, layers=L)
    d["nodes"][1]["speed"] = d["nodes"][0]["speed"] * remote_factor
    d["links"] = [
        {"source": "n0", "target": "n1", "bandwidth": link_bw, "delay": 0.002, "energy_per_byte": 1e-7},
        {"source": "n1", "target": "n0", "bandwidth": link_bw, "delay": 0.002, "energy_per_byte": 1e-7},
    ]
    d["models"][0]["input_bytes"] = float(max(out[0] * 1.5, rng.uniform(1e3, 2e6)))
    d["models"][0]["layers"] = [{"name": f"l{k}", "flops": float(f), "output_bytes": float(o), "param_bytes": 1.0}
                                for k, (f, o) in enumerate(zip(flops, out))]
    d["jobs"][0]["sink"] = "n0"
    return d


@settings(max_examples=25, **SETTINGS)
@given(seed=st.integers(0, 10_000), factor=st.floats(1.5, 50), bw=st.floats(1e5, 1e8))
def test_two_way_split_is_optimal_on_device_plus_one_remote(seed, factor, bw):
    # remote faster on every layer and tensors non-increasing: an optimal placement is a prefix
    # on the device then the rest on the remote, which is what two-way split enumerates.
    inst = instance_from_dict(two_node_dict(seed, remote_factor=factor, link_bw=bw))
    r = registry.run(registry.get("two-way-split", "heuristic"), inst)
    assert r.status is Status.FEASIBLE
    opt = brute_force_value(inst)
    assert r.evaluated_objective == pytest.approx(opt, rel=1e-9)
    for exact in registry.specs(problem="single", kind="exact"):
        if exact.objective == "latency" and exact.key in ("F2/layered-dijkstra", "F2/highspy"):
            assert registry.run(exact, inst).evaluated_objective == pytest.approx(r.evaluated_objective, rel=1e-7)


@settings(max_examples=15, **SETTINGS)
@given(seed=st.integers(0, 10_000))
def test_local_only_is_optimal_when_remote_is_absurdly_far(seed):
    inst = instance_from_dict(two_node_dict(seed, remote_factor=5.0, link_bw=1e-3))  # 1 ms/byte
    results = {s.formulation: registry.run(s, inst) for s in registry.specs(problem="single", kind="heuristic")
               if s.formulation in ("local-only", "best-remote", "two-way-split")}
    opt = brute_force_value(inst)
    assert results["local-only"].evaluated_objective == pytest.approx(opt, rel=1e-12)
    assert results["two-way-split"].evaluated_objective == pytest.approx(opt, rel=1e-12)
    assert results["two-way-split"].extra["split_layer"] == inst.models[0].num_layers
    assert results["best-remote"].evaluated_objective > opt


@settings(max_examples=15, **SETTINGS)
@given(seed=st.integers(0, 10_000))
def test_two_way_split_dominates_local_and_remote(seed):
    inst = instance_from_dict(random_dict(seed, nodes=4, layers=4))
    get = lambda f: registry.run(registry.get(f, "heuristic"), inst).evaluated_objective  # noqa: E731
    split = get("two-way-split")
    assert split <= get("local-only") * (1 + 1e-12)
    assert split <= get("best-remote") * (1 + 1e-12)


def test_local_only_refuses_a_router_source():
    d = random_dict(3, nodes=3, layers=2, router=True)
    d["jobs"][0]["source"] = "r"
    inst = instance_from_dict(d)
    r = registry.run(registry.get("local-only", "heuristic"), inst)
    assert r.status is Status.NO_SOLUTION and "cannot compute" in r.message
    r = registry.run(registry.get("two-way-split", "heuristic"), inst)  # only k = 0 remains
    assert r.status is Status.FEASIBLE and r.extra["split_layer"] == 0


def test_gap_to():
    assert gap_to(11.0, 10.0) == pytest.approx(0.1)
    assert gap_to(10.0, 10.0) == 0.0


# ----------------------------------------------------------------------------- multi job


@settings(max_examples=10, **SETTINGS)
@given(seed=st.integers(0, 10_000))
def test_greedy_with_one_job_is_optimal(seed):
    inst = instance_from_dict(random_dict(seed, nodes=4, layers=3, jobs=1, load=0.2, router=seed % 2 == 0))
    opt = brute_multi(inst)
    for spec in registry.specs(problem="multi", kind="heuristic"):
        if spec.formulation == "greedy":
            r = registry.run(spec, inst)
            assert r.status is Status.FEASIBLE
            assert r.evaluated_objective == pytest.approx(opt, rel=1e-9)


def test_greedy_failure_is_no_solution_not_error():
    d = random_dict(5, nodes=3, layers=2, jobs=3, load=3.0)  # every job overloads every node
    inst = instance_from_dict(d)
    for spec in registry.specs(problem="multi", kind="heuristic"):
        if spec.formulation not in ("greedy", "dina"):
            continue
        r = registry.run(spec, inst)
        assert r.status is Status.NO_SOLUTION, spec.key  # a failed heuristic proves no infeasibility
        assert "does not prove" in r.message and r.decision is None


@pytest.mark.parametrize("backend", ["capacity", "queueing"])
@settings(max_examples=10, **SETTINGS)
@given(seed=st.integers(0, 10_000))
def test_dina_improves_on_its_greedy_start(backend, seed):
    inst = instance_from_dict(random_dict(seed, nodes=4, layers=4, jobs=3, load=0.4))
    r = registry.run(registry.get("dina", backend), inst, SolverOptions(raw={"segments": 2}))
    assert r.status is not Status.ERROR, r.message
    if r.status is Status.NO_SOLUTION:
        return
    x = r.extra
    assert r.evaluated_objective <= x["start_objective"] * (1 + 1e-12)
    assert x["swaps"] == x["moves"] + x["exchanges"] >= 0
    if backend == "capacity":  # no externalities: every approved swap lowers the objective
        assert x["converged"]
        assert x["final_matching_objective"] == pytest.approx(r.evaluated_objective, rel=1e-12)
        if x["swaps"]:
            assert r.evaluated_objective < x["start_objective"]


def test_dina_swaps_happen_and_converge():
    counts = []
    for seed in range(12):
        inst = instance_from_dict(random_dict(seed, nodes=4, layers=4, jobs=3, load=0.4))
        r = registry.run(registry.get("dina", "capacity"), inst, SolverOptions(raw={"segments": 3}))
        if r.status is Status.FEASIBLE:
            assert r.extra["converged"] and r.extra["sweeps"] >= 1
            counts.append(r.extra["swaps"])
    assert counts and max(counts) > 0  # swaps do fire on some of these instances


def test_dina_adaptive_partitioning_places_what_three_blocks_cannot():
    """multi-small's mixed-model instance: with three fixed blocks some job fits nowhere; cut
    finer (D4) every job is placed, the evaluator accepts every capacity, and no matching beats
    the unsplittable optimum's LP bound."""
    from instances.defaults import default_set

    inst = next(i for i in default_set("multi-small") if "mixed" in i.name)
    spec = registry.get("dina", "capacity")
    fixed = registry.run(spec, inst, SolverOptions(raw={"adaptive": False}))
    assert fixed.status is Status.NO_SOLUTION and "3 segments" in fixed.message
    adaptive = registry.run(spec, inst)
    assert adaptive.status is Status.FEASIBLE and adaptive.extra["repartitioned"] >= 1
    assert adaptive.extra["max_job_segments"] > 3
    ev = evaluate(inst, adaptive.decision)
    assert not capacity_violations(inst, ev)
    lp = registry.run(registry.get("F3-latency-lp", "highspy"), inst)
    assert lp.status is Status.OPTIMAL and adaptive.objective >= lp.objective * (1 - 1e-9)


def test_dina_options_are_checked():
    inst = instance_from_dict(random_dict(1, nodes=3, layers=2, jobs=2, load=0.2))
    spec = registry.get("dina", "capacity")
    with pytest.raises(UnsupportedOption, match="segments"):
        registry.run(spec, inst, SolverOptions(raw={"segments": 0}))
    with pytest.raises(UnsupportedOption, match="raw options"):
        registry.run(spec, inst, SolverOptions(raw={"gamma": 3}))
    with pytest.raises(UnsupportedOption, match="adaptive"):
        registry.run(spec, inst, SolverOptions(raw={"adaptive": "yes"}))


@settings(max_examples=30, **SETTINGS)
@given(flops=st.lists(st.floats(0, 1e9), min_size=1, max_size=12), S=st.integers(1, 8))
def test_segments_are_contiguous_blocks(flops, S):
    segs = segment_bounds(np.array(flops), S)
    assert len(segs) == min(S, len(flops))
    assert segs[0][0] == 1 and segs[-1][1] == len(flops)
    assert all(a <= b for a, b in segs)
    assert all(segs[k + 1][0] == segs[k][1] + 1 for k in range(len(segs) - 1))


# ----------------------------------------------------------------------------- FIN


@settings(max_examples=12, **SETTINGS)
@given(seed=st.integers(0, 10_000))
def test_exact_labeller_matches_enumeration(seed):
    d = random_dict(seed, nodes=3, layers=2 + seed % 2, exits=1 + seed % 2, accuracy_target=0.8)
    free = brute_energy(instance_from_dict(d))[1]
    inst = with_deadline(d, free * float(np.random.default_rng(seed).uniform(0.6, 1.3)))
    want, _ = brute_energy(inst)
    got, route = exact_energy_deadline(inst)
    if math.isinf(want):
        assert math.isinf(got) and route is None
        return
    assert got == pytest.approx(want, rel=1e-9)
    ev = evaluate(inst, {0: (route,)})
    assert ev.objective("energy") == pytest.approx(got, rel=1e-9)
    assert ev.job_latency[0] <= inst.jobs[0].deadline * (1 + 1e-9)


@settings(max_examples=8, **SETTINGS)
@given(seed=st.integers(0, 10_000))
def test_fin_reaches_the_optimum_for_fine_gamma_when_the_optimum_has_slack(seed):
    d = random_dict(seed, nodes=3, layers=2, exits=1, accuracy_target=0.8)
    free_energy, free_latency = brute_energy(instance_from_dict(d))
    inst = with_deadline(d, free_latency * 1.1)  # the unconstrained optimum meets T with 9 % slack
    assert brute_energy(inst)[0] == pytest.approx(free_energy)
    spec = registry.get("fin", "levels")
    # at most L + (L+1)(|N|-1) = 8 arcs lose < 1 level each: 8 T / gamma < 0.09 T for gamma >= 100
    r = registry.run(spec, inst, SolverOptions(raw={"gamma": 120}))
    assert r.status is Status.FEASIBLE
    assert r.evaluated_objective == pytest.approx(free_energy, rel=1e-9)
    assert r.extra["latency"] <= inst.jobs[0].deadline
    assert r.extra["levels_used"] <= 120


@settings(max_examples=10, **SETTINGS)
@given(seed=st.integers(0, 10_000), gamma=st.sampled_from([2, 3, 7, 20, 60]))
def test_fin_meets_deadline_and_accuracy_for_every_gamma(seed, gamma):
    d = random_dict(seed, nodes=3, layers=3, exits=2, accuracy_target=0.85)
    free = brute_energy(instance_from_dict(d))[1]
    inst = with_deadline(d, free * float(np.random.default_rng(seed).uniform(0.7, 1.4)))
    r = registry.run(registry.get("fin", "levels"), inst, SolverOptions(raw={"gamma": gamma}))
    assert r.status in (Status.FEASIBLE, Status.NO_SOLUTION), r.message
    exact, _ = exact_energy_deadline(inst)
    if r.status is Status.NO_SOLUTION:
        return
    ev = evaluate(inst, r.decision)  # raises if the accuracy target is missed
    assert ev.job_latency[0] <= inst.jobs[0].deadline * (1 + 1e-9)
    assert tuple(r.extra["active_exits"]) in exit_configurations(inst)
    assert r.evaluated_objective >= exact * (1 - 1e-9)


def test_fin_gamma_option_and_no_deadline():
    d = random_dict(4, nodes=3, layers=2, exits=1, accuracy_target=0.8)
    inst = instance_from_dict(d)  # no deadline: least energy, exact
    r = registry.run(registry.get("fin", "g20"), inst)
    assert r.status is Status.FEASIBLE and r.extra["gamma"] is None
    assert r.evaluated_objective == pytest.approx(brute_energy(inst)[0], rel=1e-9)
    spec = registry.get("fin", "levels")
    for bad in (1, 5000, 2.5, "10"):
        with pytest.raises(UnsupportedOption, match="gamma"):
            registry.run(spec, inst, SolverOptions(raw={"gamma": bad}))
    with pytest.raises(UnsupportedOption):
        registry.run(registry.get("fin", "g20"), inst, SolverOptions(raw={"gamma": 10}))


def test_fin_unreachable_accuracy_is_infeasible():
    d = random_dict(4, nodes=3, layers=2, exits=1, accuracy_target=0.99, deadline=10.0)
    r = registry.run(registry.get("fin", "g20"), instance_from_dict(d))
    assert r.status is Status.INFEASIBLE and "accuracy" in r.message


def test_fin_agrees_with_f3_exit_select_on_one_job():
    specs = [s for s in registry.specs(problem="multi", kind="exact") if s.key == "F3-exit-select-milp/highspy"]
    if not specs:
        pytest.skip("F3-exit-select-milp/highspy is not registered")
    for seed in range(4):
        d = random_dict(seed, nodes=3, layers=3, exits=2, accuracy_target=0.85)
        for j in d["jobs"]:
            j["rate"] = 1e-3  # capacities never bind: F3 on one job is the uncapacitated problem
        free = brute_energy(instance_from_dict(d))[1]
        inst = with_deadline(d, free * 1.05)
        f3 = registry.run(specs[0], inst)
        exact, _ = exact_energy_deadline(inst)
        assert f3.status is Status.OPTIMAL
        assert f3.evaluated_objective == pytest.approx(exact, rel=1e-6)
        fin = registry.run(registry.get("fin", "levels"), inst, SolverOptions(raw={"gamma": 400}))
        assert fin.evaluated_objective >= f3.evaluated_objective * (1 - 1e-6)
