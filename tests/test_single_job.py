"""Single-job formulations F1 (weak, aggregated) and F2 on every backend (DESIGN.md section 3).

Correctness is checked against oracles that do not use the engine (``dnnsplit/graph/``): a
brute-force enumerator (tiny instances) and a networkx layered shortest path (random instances
from every generator family, plus hand-built dicts with zero-work layers, co-located source and
sink, unit bandwidths, heavy propagation delays and parallel links). Every registered exact
single-job pair is parametrised from the registry, so new backends are tested without edits.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from bruteforce import brute_force, layered_networkx
from helpers import line_instance_dict
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import dijkstra

from dnnsplit import registry
from dnnsplit.options import SolverOptions, UnsupportedOption
from dnnsplit.results import Status
from dnnsplit.graph import _jit, layered, shortest
from dnnsplit.graph.base import base_graph
from instances.evaluate import evaluate
from instances.io import instance_from_dict, instance_to_dict, save

REL_TOL = 1e-6  # relative agreement between backends and oracles
EXACT = registry.specs(problem="single", kind="exact")
IDS = [s.key for s in EXACT]
SLOW_BACKENDS = ("pyomo-highs", "cpsat")  # skipped on the larger random draws
SLOW_MAX_ARCS = 1500

HYP = dict(derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def tolerance(result, reference: float) -> float:
    """REL_TOL plus any rounding bound the backend reports (CP-SAT, OR-Tools scaling)."""
    extra = result.extra or {}
    bound = extra.get("scaling_error_bound", 0.0) + extra.get("rounding_error_bound", 0.0)
    return REL_TOL * max(abs(reference), 1e-12) + bound


def check_against(spec, inst, reference: float) -> None:
    """Solve with ``spec`` and compare with ``reference`` (inf: must be INFEASIBLE)."""
    res = registry.run(spec, inst)
    if not math.isfinite(reference):
        assert res.status == Status.INFEASIBLE, (spec.key, res.status, res.message)
        return
    assert res.status == Status.OPTIMAL, (spec.key, res.status, res.message)
    tol = tolerance(res, reference)
    assert abs(res.objective - reference) <= tol, (spec.key, res.objective, reference)
    # the evaluator's recomputation from the decision equals the reported objective
    assert res.evaluated_objective == pytest.approx(res.objective, rel=REL_TOL, abs=1e-12)
    assert res.bound is not None and res.bound <= res.objective + tol
    if res.lp_relaxation is not None:
        if spec.formulation == "F1-weak":
            assert res.lp_relaxation <= reference + tol
        else:  # F1-aggregated and F2: integral LP, relaxation = optimum
            assert abs(res.lp_relaxation - reference) <= tol, (spec.key, res.lp_relaxation, reference)
    elif spec.formulation.startswith("F1"):
        pytest.fail(f"{spec.key} reports no LP relaxation")
    if spec.formulation == "F2":
        assert res.lp_integral is True


# ----------------------------------------------------------------------------- hand-built instances


def random_dict(
    rng: np.random.Generator,
    *,
    nodes: int,
    layers: int,
    unit_bandwidth: bool = False,
    heavy_delay: bool = False,
    zero_work: bool = False,
    colocated: bool = False,
    parallel: bool = False,
    routers: bool = True,
) -> dict:
    """A random connected instance as a dict (a bidirectional ring plus random chords)."""
    names = [f"n{i}" for i in range(nodes)]
    speeds = rng.choice([1e9, 1e10, 1e11], size=nodes)
    if routers and nodes > 2:
        speeds[rng.random(nodes) < 0.3] = 0.0
        speeds[rng.integers(nodes)] = 1e10  # at least one compute node
    node_list = [
        {"name": n, "tier": "edge" if speeds[i] > 0 else "router", "device_class": None, "speed": float(speeds[i]),
         "power": 10.0, "memory": 1e9}
        for i, n in enumerate(names)
    ]
    pairs = [(i, (i + 1) % nodes) for i in range(nodes)] + [((i + 1) % nodes, i) for i in range(nodes)]
    pairs = list(dict.fromkeys(p for p in pairs if p[0] != p[1]))
    for _ in range(nodes):
        i, j = (int(v) for v in rng.integers(nodes, size=2))
        if i != j and (i, j) not in pairs:
            pairs.append((i, j))
    if parallel:
        pairs += [pairs[int(k)] for k in rng.integers(len(pairs), size=max(1, nodes // 2))]
    links = []
    for i, j in pairs:
        bw = 1.0 if unit_bandwidth else float(rng.choice([1e6, 1e7, 1e8, 1e9]))
        delay = float(rng.uniform(1.0, 10.0)) if heavy_delay else float(rng.choice([0.0, 1e-4, 1e-3, 1e-2]))
        links.append({"source": names[i], "target": names[j], "bandwidth": bw, "delay": delay,
                      "energy_per_byte": 1e-8})
    flops = rng.choice([1e8, 1e9, 5e9], size=layers)
    if zero_work:
        flops[rng.random(layers) < 0.5] = 0.0
    out = rng.choice([1e3, 1e5, 1e6], size=layers)
    model = {"name": "m", "input_bytes": float(rng.choice([1e4, 1e6])), "accuracy": None, "exits": [],
             "layers": [{"name": f"l{k}", "flops": float(flops[k]), "output_bytes": float(out[k]),
                         "param_bytes": 1e5} for k in range(layers)]}
    src = int(rng.integers(nodes))
    snk = src if colocated else int(rng.integers(nodes))
    return {
        "format": "dnnsplit-instance", "version": 1, "name": "random", "utilisation_cap": 0.9, "generator": None,
        "nodes": node_list, "links": links, "models": [model],
        "jobs": [{"name": "j", "model": "m", "source": names[src], "sink": names[snk], "rate": 1.0,
                  "deadline": None, "accuracy_target": None}],
    }


VARIANT_FLAGS = ("unit_bandwidth", "heavy_delay", "zero_work", "colocated", "parallel")


@st.composite
def tiny_instances(draw):
    seed = draw(st.integers(0, 2**31 - 1))
    flags = {f: draw(st.booleans()) for f in VARIANT_FLAGS}
    nodes = draw(st.integers(2, 5))
    layers = draw(st.integers(1, 4))
    return instance_from_dict(random_dict(np.random.default_rng(seed), nodes=nodes, layers=layers, **flags))


@pytest.mark.parametrize("spec", EXACT, ids=IDS)
@settings(max_examples=8, **HYP)
@given(inst=tiny_instances())
def test_agrees_with_brute_force(spec, inst):
    check_against(spec, inst, brute_force(inst)[0])


def test_brute_force_oracles_agree():
    """The two oracles (enumeration, networkx layered graph) agree with each other."""
    rng = np.random.default_rng(7)
    for k in range(20):
        flags = {f: bool(rng.random() < 0.4) for f in VARIANT_FLAGS}
        inst = instance_from_dict(random_dict(rng, nodes=int(rng.integers(2, 6)), layers=int(rng.integers(1, 4)), **flags))
        bf = brute_force(inst)[0]
        assert layered_networkx(inst) == pytest.approx(bf, rel=1e-12)


# ----------------------------------------------------------------------------- generator families

FAMILIES = ("erdos_renyi", "waxman", "barabasi_albert", "grid", "hierarchical")


def _load_generator():
    try:
        from instances.generate import generate

        generate("erdos_renyi", seed=0, nodes=6, layers=2)
    except Exception:  # noqa: BLE001 - reported as a skip below
        return None
    return generate


GENERATE = _load_generator()


def modify(inst, variant: str, rng: np.random.Generator):
    """Apply a stress variant to a generated instance (through its dict form)."""
    if variant == "plain":
        return inst
    d = instance_to_dict(inst)
    if variant == "zero_work":
        for layer in d["models"][0]["layers"]:
            if rng.random() < 0.5:
                layer["flops"] = 0.0
                if layer.get("time_s"):  # measured times too
                    layer["time_s"] = {k: 0.0 for k in layer["time_s"]}
    elif variant == "colocated":
        d["jobs"][0]["sink"] = d["jobs"][0]["source"]
    elif variant == "unit_bandwidth":
        for link in d["links"]:
            link["bandwidth"] = 1.0
    elif variant == "heavy_delay":
        for link in d["links"]:
            link["delay"] = float(link["delay"]) * 1e3 + float(rng.uniform(1.0, 5.0))
    return instance_from_dict(d)


@st.composite
def generated_instances(draw):
    generate = GENERATE
    family = draw(st.sampled_from(FAMILIES))
    seed = draw(st.integers(0, 10_000))
    nodes = draw(st.integers(4, 14))
    layers = draw(st.integers(1, 8))
    variant = draw(st.sampled_from(("plain", "zero_work", "colocated", "unit_bandwidth", "heavy_delay")))
    inst = generate(family, seed=seed, nodes=nodes, layers=layers)
    return modify(inst, variant, np.random.default_rng(seed))


@pytest.mark.skipif(GENERATE is None, reason="instances.generate is not usable")
@pytest.mark.parametrize("spec", EXACT, ids=IDS)
@settings(max_examples=15, **HYP)
@given(inst=generated_instances())
def test_agrees_on_generated_families(spec, inst):
    if spec.backend in SLOW_BACKENDS and inst.sizes["layered_arcs"] > SLOW_MAX_ARCS or not spec.fits(inst):
        return
    check_against(spec, inst, layered_networkx(inst))


# ----------------------------------------------------------------------------- LP relaxations


def weak_gap_instance():
    """Large input, heavy later layers: the optimum runs everything in the cloud, and the weak
    LP spreads layers fractionally over the three nodes so that no middle product term is paid
    (weak LP about 30 % below the optimum here)."""
    d = line_instance_dict(bandwidth=1e6, delay=0.01, flops=(1e8, 4e9, 4e9), out_bytes=(1e6, 1e5, 1e3))
    d["models"][0]["input_bytes"] = 1e6
    return instance_from_dict(d)


@pytest.mark.parametrize("backend", ["highspy", "pyomo-highs", "cpsat"])
def test_weak_lp_strictly_below_and_aggregated_tight(backend):
    inst = weak_gap_instance()
    opt = brute_force(inst)[0]
    weak = registry.run(registry.get("F1-weak", backend), inst)
    agg = registry.run(registry.get("F1-aggregated", backend), inst)
    assert weak.objective == pytest.approx(opt, rel=1e-6)
    assert agg.objective == pytest.approx(opt, rel=1e-6)
    assert weak.lp_relaxation < opt * (1 - 0.1)  # strictly (and visibly) below the optimum
    assert agg.lp_relaxation == pytest.approx(opt, rel=1e-6)


@pytest.mark.parametrize("algorithm", ["simplex", "ipm", "pdlp"])
def test_f2_highspy_lp_algorithms(algorithm):
    inst = weak_gap_instance()
    opt = brute_force(inst)[0]
    res = registry.run(registry.get("F2", "highspy"), inst, SolverOptions(lp_algorithm=algorithm))
    assert res.extra["lp_algorithm"] == algorithm
    if algorithm == "pdlp":  # first-order method: optimal to its own tolerance only
        assert res.status in (Status.OPTIMAL, Status.FEASIBLE)
        assert res.objective == pytest.approx(opt, rel=1e-3)
    else:
        assert res.status == Status.OPTIMAL and res.lp_integral is True
        assert res.objective == pytest.approx(opt, rel=1e-9)


# ----------------------------------------------------------------------------- infeasible


def unreachable_sink_dict() -> dict:
    """s reaches t and a compute node c, but t is unreachable from c (valid, infeasible)."""
    d = line_instance_dict()
    d["nodes"] = [
        {"name": "s", "tier": "router", "device_class": None, "speed": 0.0, "power": 0.0, "memory": 0.0},
        {"name": "c", "tier": "edge", "device_class": None, "speed": 1e10, "power": 50.0, "memory": 1e9},
        {"name": "t", "tier": "router", "device_class": None, "speed": 0.0, "power": 0.0, "memory": 0.0},
    ]
    d["links"] = [
        {"source": "s", "target": "t", "bandwidth": 1e6, "delay": 0.001, "energy_per_byte": 0.0},
        {"source": "s", "target": "c", "bandwidth": 1e6, "delay": 0.001, "energy_per_byte": 0.0},
    ]
    d["jobs"][0].update(source="s", sink="t")
    return d


@pytest.mark.parametrize("spec", EXACT, ids=IDS)
def test_unreachable_sink_is_infeasible(spec):
    inst = instance_from_dict(unreachable_sink_dict())
    res = registry.run(spec, inst)
    assert res.status == Status.INFEASIBLE, (res.status, res.message)
    assert res.decision is None


# ----------------------------------------------------------------------------- shared helpers


def two_path_dict() -> dict:
    """Two routes s -> t: via a (low delay, low bandwidth) and via b (high delay, high bandwidth)."""
    d = line_instance_dict()
    d["nodes"] = [
        {"name": "s", "tier": "device", "device_class": None, "speed": 1e9, "power": 5.0, "memory": 1e9},
        {"name": "a", "tier": "router", "device_class": None, "speed": 0.0, "power": 0.0, "memory": 0.0},
        {"name": "b", "tier": "router", "device_class": None, "speed": 0.0, "power": 0.0, "memory": 0.0},
        {"name": "t", "tier": "cloud", "device_class": None, "speed": 1e12, "power": 300.0, "memory": 1e12},
    ]
    slow = {"bandwidth": 1e5, "delay": 0.001, "energy_per_byte": 0.0}
    fast = {"bandwidth": 1e9, "delay": 0.05, "energy_per_byte": 0.0}
    d["links"] = [
        {"source": "s", "target": "a", **slow}, {"source": "a", "target": "t", **slow},
        {"source": "s", "target": "b", **fast}, {"source": "b", "target": "t", **fast},
        {"source": "t", "target": "s", **slow},
    ]
    d["models"][0]["input_bytes"] = 1e2  # small: the low-delay path wins
    d["models"][0]["layers"] = [{"name": "l0", "flops": 1e12, "output_bytes": 1e7, "param_bytes": 0.0}]  # large
    d["jobs"][0].update(source="s", sink="t")
    return d


def test_transfer_tables_depend_on_tensor_size():
    inst = instance_from_dict(two_path_dict())
    tables = shortest.TransferTables(inst.network)
    assert tables.path(1e2, 0, 3) == (0, 1)  # via a
    assert tables.path(1e7, 0, 3) == (2, 3)  # via b
    assert tables.dist(1e2, [0], [3])[0, 0] == pytest.approx(2 * (1e2 / 1e5 + 0.001))
    opt = brute_force(inst)[0]
    for spec in EXACT:
        check_against(spec, inst, opt)


def test_parallel_links_pick_cheapest_per_size():
    d = two_path_dict()
    # parallel s -> t links: one low-delay slow, one high-delay fast
    d["links"] += [
        {"source": "s", "target": "t", "bandwidth": 1e5, "delay": 0.0001, "energy_per_byte": 0.0},
        {"source": "s", "target": "t", "bandwidth": 1e10, "delay": 0.01, "energy_per_byte": 0.0},
    ]
    inst = instance_from_dict(d)
    base = base_graph(inst.network)
    assert base.has_parallel
    tables = shortest.TransferTables(inst.network)
    assert tables.path(1e2, 0, 3) == (5,)
    assert tables.path(1e7, 0, 3) == (6,)
    opt = brute_force(inst)[0]
    for spec in EXACT:
        check_against(spec, inst, opt)


def _dense_min(graph: layered.LayeredGraph) -> np.ndarray:
    V = graph.num_vertices
    dense = np.full((V, V), np.inf)
    np.minimum.at(dense, (graph.tail, graph.head), graph.cost)
    return dense


def test_layered_csr_matches_arc_arrays():
    rng = np.random.default_rng(3)
    inst = instance_from_dict(random_dict(rng, nodes=5, layers=3, parallel=True, zero_work=True))
    g = layered.build_layered_graph(inst)
    csr = g.csr(inst.network)
    assert csr.has_sorted_indices
    dense = csr.toarray()
    expected = _dense_min(g)
    mask = np.isfinite(expected)
    np.testing.assert_allclose(dense[mask], expected[mask])
    # explicit zeros (zero-work layers) are kept as entries
    assert csr.nnz == int(mask.sum())
    assert g.num_arcs == inst.sizes["layered_arcs"]


@settings(max_examples=15, **HYP)
@given(seed=st.integers(0, 2**31 - 1), zero=st.booleans(), parallel=st.booleans())
def test_layered_dijkstra_with_extra_costs(seed, zero, parallel):
    """Pricing use: extra per-(copy, link) and per-(layer, node) costs, vs scipy on the built graph."""
    rng = np.random.default_rng(seed)
    inst = instance_from_dict(random_dict(rng, nodes=int(rng.integers(2, 7)), layers=int(rng.integers(1, 5)),
                                          zero_work=zero, parallel=parallel))
    L, N, A = inst.models[0].num_layers, inst.network.num_nodes, inst.network.num_links
    link_extra = rng.uniform(0, 0.01, size=(L + 1, A)) * (rng.random((L + 1, A)) < 0.5)
    node_extra = rng.uniform(0, 0.01, size=(L, N))
    g = layered.build_layered_graph(inst, 0, link_extra, node_extra)
    dist = dijkstra(g.csr(inst.network), indices=g.source)  # the materialised graph
    comm = layered.comm_costs(inst, 0, link_extra)
    tau = layered.compute_costs(inst, 0, node_extra)
    for method in shortest.METHODS:
        cost, route = shortest.layered_dijkstra(inst, 0, link_extra, node_extra, method=method)
        assert cost == pytest.approx(dist[g.sink], rel=1e-12)
        # the route's cost under the same extras equals the label
        total = sum(tau[l, n] for l, n in enumerate(route.placement))
        total += sum(comm[l, a] for l, p in enumerate(route.paths) for a in p)
        assert total == pytest.approx(cost, rel=1e-12)
        evaluate(inst, {0: (route,)})  # a valid route


def test_extra_costs_are_checked():
    inst = instance_from_dict(line_instance_dict())
    with pytest.raises(ValueError, match="link_extra"):
        shortest.layered_dijkstra(inst, 0, link_extra=np.full(4, -1.0))
    with pytest.raises(ValueError, match="node_extra"):
        shortest.layered_dijkstra(inst, 0, node_extra=np.zeros((7, 2)))


def test_route_helpers_round_trip():
    inst = instance_from_dict(line_instance_dict())
    g = layered.build_layered_graph(inst)
    dist, pred = dijkstra(g.csr(inst.network), indices=g.source, return_predecessors=True)
    vertices = [g.sink]
    while vertices[-1] != g.source:  # scipy's predecessors, walked here independently of the engine
        vertices.append(int(pred[vertices[-1]]))
    vertices.reverse()
    job = inst.jobs[0]
    parent = shortest.parents_from_layered_predecessors(pred, g.num_nodes, g.num_layers, job.source)
    r1 = shortest.walk(inst.network, parent, shortest.latency_costs(inst, 0), job.source, job.sink)
    # the same path as arcs
    arcs = []
    for u, v in zip(vertices[:-1], vertices[1:]):
        arcs.append(int(np.flatnonzero((g.tail == u) & (g.head == v))[0]))
    r2 = layered.route_from_arc_path(g, arcs)
    assert r1 == r2
    assert evaluate(inst, {0: (r1,)}).objective("latency") == pytest.approx(dist[g.sink])


# ----------------------------------------------------------------------------- options and limits


def test_bad_options_raise():
    inst = instance_from_dict(line_instance_dict())
    for formulation in ("F1-weak", "F1-aggregated"):
        for backend in ("highspy", "pyomo-highs", "cpsat"):
            with pytest.raises(UnsupportedOption, match="lp_algorithm"):
                registry.run(registry.get(formulation, backend), inst, SolverOptions(lp_algorithm="ipm"))
    for backend in ("scipy-dijkstra", "layered-dijkstra"):
        with pytest.raises(UnsupportedOption, match="lp_algorithm"):
            registry.run(registry.get("F2", backend), inst, SolverOptions(lp_algorithm="simplex"))
        # every backend takes the time limit, with one meaning (issue 11; it used to be refused here)
        assert registry.run(registry.get("F2", backend), inst, SolverOptions(time_limit=1.0)).status == Status.OPTIMAL
    with pytest.raises(UnsupportedOption, match="mip_gap"):
        registry.run(registry.get("F2", "highspy"), inst, SolverOptions(mip_gap=0.01))
    with pytest.raises(UnsupportedOption, match="no_such_option"):
        registry.run(registry.get("F2", "highspy"), inst, SolverOptions(raw={"no_such_option": 1}))
    with pytest.raises(UnsupportedOption, match="no_such_parameter"):
        registry.run(registry.get("F1-weak", "cpsat"), inst, SolverOptions(raw={"no_such_parameter": 1}))
    with pytest.raises(UnsupportedOption, match="cost_scale"):
        registry.run(registry.get("F2", "ortools-mcf"), inst, SolverOptions(raw={"scale": 2}))


def test_mcf_cost_overflow_is_an_error():
    inst = instance_from_dict(line_instance_dict())
    res = registry.run(registry.get("F2", "ortools-mcf"), inst, SolverOptions(raw={"cost_scale": 1e30}))
    assert res.status == Status.ERROR
    assert "int64" in res.message or "BAD_COST_RANGE" in res.message
    ok = registry.run(registry.get("F2", "ortools-mcf"), inst)
    assert ok.status == Status.OPTIMAL and ok.extra["rounding_error_bound"] < 1e-9


def moderate_instance(nodes: int, layers: int):
    rng = np.random.default_rng(11)
    return instance_from_dict(random_dict(rng, nodes=nodes, layers=layers, routers=False))


@pytest.mark.parametrize("backend,nodes,layers", [("highspy", 40, 30), ("cpsat", 20, 12)])
def test_f1_time_limit(backend, nodes, layers):
    inst = moderate_instance(nodes, layers)
    res = registry.run(registry.get("F1-weak", backend), inst, SolverOptions(time_limit=0.01))
    assert res.status == Status.TIME_LIMIT, (res.status, res.message)
    if res.objective is not None:
        assert res.bound is None or res.bound <= res.objective * (1 + 1e-9)
        assert res.evaluated_objective == pytest.approx(res.objective, rel=REL_TOL)


def test_mip_gap_and_seed_are_accepted():
    inst = instance_from_dict(line_instance_dict())
    opt = brute_force(inst)[0]
    for backend in ("highspy", "pyomo-highs", "cpsat"):
        res = registry.run(registry.get("F1-weak", backend), inst, SolverOptions(mip_gap=0.5, seed=3))
        assert res.status == Status.OPTIMAL
        assert opt <= res.objective * (1 + 1e-9) <= 1.5 * opt * (1 + 1e-9)


# ----------------------------------------------------------------------------- CLI


def test_cli_solve_json_and_list(tmp_path, capsys):
    from dnnsplit.cli import main

    path = tmp_path / "line.json"
    save(instance_from_dict(line_instance_dict()), path)
    assert main(["solve", str(path), "--formulation", "F2", "--backend", "highspy", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["status"] == "optimal"
    assert record["objective"] == pytest.approx(brute_force(instance_from_dict(line_instance_dict()))[0])
    assert record["lp_integral"] is True
    assert main(["solve", "--list"]) == 0
    listing = capsys.readouterr().out
    for spec in EXACT:
        assert any(line.split()[:2] == [spec.formulation, spec.backend] for line in listing.splitlines()), spec.key
    assert main(["solve", str(path), "--formulation", "F1-weak", "--backend", "highspy", "--lp-algorithm", "ipm"]) == 2


@pytest.mark.parametrize("method", shortest.METHODS)
def test_layered_dijkstra_unreachable(method):
    inst = instance_from_dict(unreachable_sink_dict())
    assert shortest.layered_dijkstra(inst, 0, method=method) == (math.inf, None)


def test_layered_dijkstra_without_numba_falls_back(monkeypatch):
    """Where numba does not import, the backend runs the Python pass and says so; asking for
    the compiled pass explicitly is an error naming numba."""
    inst = instance_from_dict(random_dict(np.random.default_rng(5), nodes=6, layers=4))
    compiled = registry.run(registry.get("F2", "layered-dijkstra"), inst)
    assert "numba" in compiled.solver
    monkeypatch.setattr(_jit, "NUMBA_ERROR", "ModuleNotFoundError: No module named 'numba'")
    assert not shortest.jit_available()
    with pytest.raises(ValueError, match="numba"):
        shortest.layered_dijkstra(inst, 0, method="jit")
    fallback = registry.run(registry.get("F2", "layered-dijkstra"), inst)
    assert "numba" not in fallback.solver and "numba" in fallback.extra["jit_unavailable"]
    assert fallback.objective == pytest.approx(compiled.objective, rel=1e-12)
    assert fallback.evaluated_objective == pytest.approx(fallback.objective, rel=1e-9)


@pytest.mark.parametrize(
    "backend,raw", [("highspy", {"mip_max_improving_sols": 1}), ("cpsat", {"stop_after_first_solution": True})]
)
def test_f1_incumbent_without_proof(backend, raw):
    """Stopped at the first solution (deterministic, no timing): bound <= incumbent, evaluated."""
    inst = moderate_instance(12, 8)
    opt = layered_networkx(inst)
    res = registry.run(registry.get("F1-weak", backend), inst, SolverOptions(raw=raw))
    assert res.status in (Status.FEASIBLE, Status.OPTIMAL), (res.status, res.message)
    assert res.objective >= opt * (1 - REL_TOL) - tolerance(res, opt)
    assert res.evaluated_objective == pytest.approx(res.objective, rel=REL_TOL)
    if res.bound is not None:
        assert res.bound <= res.objective * (1 + 1e-9)
        assert res.bound <= opt + tolerance(res, opt)
