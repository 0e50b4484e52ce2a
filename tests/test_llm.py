"""LLM pipeline placement (F5): format, evaluator, generator, formulations and heuristics.

Checked against independent references: a brute-force enumerator over every placement of tiny
instances (the evaluator's networkx max flow values each one), a brute-force single pipeline
(ordered subsets of nodes), Helix's own LP file (its rows and coefficients, and the F5-flow
optimum being feasible in it), and the evaluator for every decision. Property tests use
hypothesis with a fixed seed. No timing is asserted.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dnnsplit import registry
from dnnsplit.options import SolverOptions
from dnnsplit.registry import ProblemMismatch, SolverSpec
from dnnsplit.results import SolveResult, Status
from instances.io import InstanceError, dumps, loads
from instances.llm import InfeasiblePlacement, Placement, evaluate_placement, llm_instance_from_dict
from instances.llm.generate import generate_llm_cluster
from instances.llm.hardware import ACCELERATORS
from instances.llm.helix import HELIX_LP, default_helix_dir, helix_available, helix_instance, read_lp
from instances.llm.profiles import llm_model, llm_profile
from instances.llm.roofline import Roofline, step_time, throughput_table

SETTINGS = dict(derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
EXACT = ("F5-flow/highspy", "F5-flow-nodes/highspy", "F5-flow-plain/highspy", "F5-helix/highspy", "F5-flow/scip",
         "F5-helix/scip")
HEURISTICS = ("single-pipeline/bottleneck", "petals/greedy", "petals/rebalance", "petals/aligned", "pipeedge/dp")
needs_helix = pytest.mark.skipif(not helix_available(), reason=f"Helix artifact not in {default_helix_dir()}")


# ----------------------------------------------------------------------------- tiny instances


def tiny_dict(seed: int, *, nodes: int = 3, layers: int = 4, tile: bool = False, twins: bool = False) -> dict:
    """A random tiny LLM instance written by hand (not by the generator): random decreasing
    throughput tables, random link capacities, some links missing; ``tile``: tables whose
    lengths sum to L (every layer held exactly once: one pipeline at most); ``twins``: the
    last node a copy of the first (an aggregation class)."""
    rng = np.random.default_rng(seed)
    beta = 1000.0
    if tile:
        cuts = np.sort(rng.choice(np.arange(1, layers), size=nodes - 1, replace=False))
        lengths = np.diff(np.r_[0, cuts, layers]).tolist()
    else:
        lengths = rng.integers(1, min(3, layers) + 1, size=nodes).tolist()
    node_list = []
    for i, K in enumerate(lengths):
        theta = np.sort(rng.uniform(10, 100, size=K))[::-1]
        node_list.append({"name": f"n{i}", "device": "T4", "region": "r", "memory": 1e12, "memory_bandwidth": 1e11,
                          "peak_flops": 1e13, "throughput": [float(round(t, 3)) for t in theta],
                          "latency": [0.001 * (k + 1) for k in range(K)], "batch": None, "throughput_source": "test"})
    if twins and nodes >= 2:
        node_list[-1] = {**copy.deepcopy(node_list[0]), "name": f"n{nodes - 1}"}
    ends = ["src"] + [n["name"] for n in node_list] + ["snk"]
    links = []
    for a, b in itertools.permutations(ends, 2):
        if a == "snk" or b == "src" or (a == "src" and b == "snk"):
            continue
        if rng.random() < 0.2:
            continue  # a missing link
        cap = float(rng.choice([20.0, 60.0, 1e4]))
        links.append({"source": a, "target": b, "bandwidth": cap * beta, "delay": 0.001})
    if not any(l["source"] == "src" for l in links):
        links.append({"source": "src", "target": "n0", "bandwidth": 1e7, "delay": 0.0})
    if not any(l["target"] == "snk" for l in links):
        links.append({"source": "n0", "target": "snk", "bandwidth": 1e7, "delay": 0.0})
    return {
        "format": "dnnsplit-llm-instance", "version": 1, "name": f"tiny-{seed}", "generator": None, "provenance": None,
        "memory_usable": 0.9,
        "model": {"name": "toy", "layers": layers, "layer_param_bytes": 1e6, "activation_bytes": beta,
                  "kv_cache_bytes": 0.0, "decode_flops": 1e6, "context_tokens": 16, "source": None},
        "source": "src", "sink": "snk", "nodes": node_list, "links": links,
    }


def placements(inst):
    """Every placement: each node holds nothing or one range its table allows."""
    L = inst.model.num_layers
    options = [[None] + [(s, k) for k in range(1, node.max_layers + 1) for s in range(0, L - k + 1)]
               for node in inst.nodes]
    for combo in itertools.product(*options):
        yield Placement(tuple(combo))


def brute_force(inst) -> float:
    return max(evaluate_placement(inst, p).throughput for p in placements(inst))


def brute_single_pipeline(inst) -> float:
    """The best chain of distinct nodes (ordered subsets), each with one allowed k, sum k = L."""
    L, best = inst.model.num_layers, 0.0
    cap = inst.link_capacity
    for m in range(1, inst.num_nodes + 1):
        for order in itertools.permutations(range(inst.num_nodes), m):
            for ks in itertools.product(*[range(1, inst.nodes[n].max_layers + 1) for n in order]):
                if sum(ks) != L:
                    continue
                ends = [inst.source, *order, inst.sink]
                links = [inst.link_between(a, b) for a, b in zip(ends, ends[1:])]
                if None in links:
                    continue
                value = min([inst.nodes[n].throughput[k - 1] for n, k in zip(order, ks)] + [cap[a] for a in links])
                best = max(best, float(value))
    return best


def solve(key: str, inst, **options) -> SolveResult:
    formulation, backend = key.split("/")
    return registry.run(registry.get(formulation, backend), inst, SolverOptions(**options))


# ----------------------------------------------------------------------------- format


def test_generated_instances_round_trip_byte_identical_and_are_deterministic():
    for kw in (dict(layout="datacenter", nodes=6, regions=2), dict(layout="edge", nodes=4, model="llama3_8b")):
        a, b = generate_llm_cluster(seed=3, **kw), generate_llm_cluster(seed=3, **kw)
        assert dumps(a) == dumps(b) and a.hash == b.hash
        assert dumps(loads(dumps(a))) == dumps(a)  # instances.io dispatches on the format name
        assert dumps(generate_llm_cluster(seed=4, **kw)) != dumps(a)


def _broken(mutate) -> dict:
    d = tiny_dict(1)
    mutate(d)
    return d


BAD = {
    "model.layers": lambda d: d["model"].pop("layers"),
    "nodes[0].extra": lambda d: d["nodes"][0].update(extra=1),
    "nodes[1].throughput[0]": lambda d: d["nodes"][1]["throughput"].__setitem__(0, -5.0),
    "nodes[0].latency": lambda d: d["nodes"][0]["latency"].append(1.0),
    "nodes[2].throughput": lambda d: d["nodes"][2].update(throughput=[1.0] * 5, latency=[1.0] * 5),
    "links[0].target": lambda d: d["links"][0].update(target="nowhere"),
    "sink": lambda d: d.update(sink="n0"),
    "memory_usable": lambda d: d.update(memory_usable=1.5),
    "version": lambda d: d.update(version=2),
}


@pytest.mark.parametrize("path", sorted(BAD))
def test_invalid_files_name_the_field(path):
    with pytest.raises(InstanceError) as err:
        loads(json.dumps(_broken(BAD[path])))
    assert err.value.path == path, str(err.value)


def test_memory_and_links_are_validated():
    d = tiny_dict(2)
    d["nodes"][0]["memory"] = 1.5e6  # one 1 MB layer fits 0.9 x 1.5 MB, two do not
    d["nodes"][0]["throughput"], d["nodes"][0]["latency"] = [50.0, 40.0], [0.001, 0.002]
    with pytest.raises(InstanceError, match="holding 2 layers") as err:
        llm_instance_from_dict(d)
    assert err.value.path == "nodes[0].throughput[1]"
    d = tiny_dict(2)
    d["links"].append(dict(d["links"][0]))
    with pytest.raises(InstanceError, match="one logical link per ordered pair"):
        llm_instance_from_dict(d)
    d = tiny_dict(2)
    d["links"].append({"source": "n0", "target": "src", "bandwidth": 1.0, "delay": 0.0})
    with pytest.raises(InstanceError, match="enter the source"):
        llm_instance_from_dict(d)


# ----------------------------------------------------------------------------- evaluator


def test_evaluator_refuses_what_breaks_the_model():
    inst = llm_instance_from_dict(tiny_dict(5, nodes=2, layers=2, tile=True))
    L = inst.model.num_layers
    with pytest.raises(InfeasiblePlacement, match="inside 1"):
        evaluate_placement(inst, Placement(((0, L + 1), None)))
    with pytest.raises(InfeasiblePlacement, match="at most"):
        evaluate_placement(inst, Placement(((0, inst.nodes[0].max_layers + 1), None)))
    with pytest.raises(InfeasiblePlacement, match="ranges"):
        evaluate_placement(inst, Placement(((0, 1),)))
    good = Placement(((0, 1), (1, 1)))
    ev = evaluate_placement(inst, good)
    flows = list(ev.link_flow)
    assert math.isclose(sum(flows[a] for a in range(inst.num_links) if inst.link_source[a] == inst.source), ev.throughput)
    for a in range(inst.num_links):
        bad = flows.copy()
        bad[a] += inst.link_capacity[a] + 1.0  # above capacity, or unbalanced, or on an unused link
        with pytest.raises(InfeasiblePlacement):
            evaluate_placement(inst, Placement(good.ranges, tuple(bad)))


def test_a_wrong_reported_throughput_is_an_error():
    for seed in range(100):  # the first tiny instance with a pipeline
        inst = llm_instance_from_dict(tiny_dict(seed))
        honest = solve("single-pipeline/bottleneck", inst)
        if honest.status == Status.FEASIBLE and honest.objective > 0:
            break

    def liar(instance, options):
        return SolveResult(status=Status.FEASIBLE, objective=(honest.objective or 0.0) + 5.0,
                           extra={"llm_placement": honest.extra["llm_placement"]})

    res = registry.run(SolverSpec("test-llm", "liar", liar, problem="llm", objective="throughput"), inst)
    assert res.status == Status.ERROR and "refused" in res.message


def test_llm_pairs_and_dnn_instances_do_not_mix():
    from helpers import line_instance_dict
    from instances.io import instance_from_dict

    dnn = instance_from_dict(line_instance_dict())
    llm = llm_instance_from_dict(tiny_dict(7))
    f5, f2 = registry.get("F5-flow", "highspy"), registry.get("F2", "highspy")
    assert not f5.fits(dnn) and not f2.fits(llm) and f5.fits(llm)
    with pytest.raises(ProblemMismatch):
        registry.run(f5, dnn)
    with pytest.raises(ProblemMismatch):
        registry.run(f2, llm)
    assert not registry.get("F5-helix-lpfile", "highspy").fits(llm)  # Helix's own file: the published case only


# ----------------------------------------------------------------------------- formulations


@settings(max_examples=12, **SETTINGS)
@given(seed=st.integers(0, 10_000), nodes=st.integers(2, 3), layers=st.integers(2, 4), twins=st.booleans())
def test_every_formulation_reaches_the_brute_force_optimum(seed, nodes, layers, twins):
    inst = llm_instance_from_dict(tiny_dict(seed, nodes=nodes, layers=layers, twins=twins))
    best = brute_force(inst)
    for key in EXACT:
        res = solve(key, inst)
        assert res.status == Status.OPTIMAL, (key, res.status, res.message)
        assert res.objective == pytest.approx(best, rel=1e-6, abs=1e-6), key
        assert res.evaluated_objective == pytest.approx(res.objective, rel=1e-6, abs=1e-6), key  # evaluator agrees
        assert res.lp_relaxation is None or res.lp_relaxation >= best * (1 - 1e-6) - 1e-6, key
        assert res.bound is not None and res.bound >= best * (1 - 1e-6) - 1e-6, key  # a valid upper bound
    for key in HEURISTICS:
        res = solve(key, inst)
        assert res.status in (Status.FEASIBLE, Status.NO_SOLUTION), (key, res.status, res.message)
        if res.status == Status.FEASIBLE:
            assert res.evaluated_objective <= best * (1 + 1e-6) + 1e-6, key


@settings(max_examples=10, **SETTINGS)
@given(seed=st.integers(0, 10_000), nodes=st.integers(1, 4), layers=st.integers(2, 5))
def test_single_pipeline_is_the_best_chain_and_the_optimum_when_one_pipeline_fits(seed, nodes, layers):
    nodes = min(nodes, layers)
    inst = llm_instance_from_dict(tiny_dict(seed, nodes=nodes, layers=layers, tile=True))
    assert sum(n.max_layers for n in inst.nodes) == layers  # memory admits one copy of the model
    res = solve("single-pipeline/bottleneck", inst)
    chain = brute_single_pipeline(inst)
    value = 0.0 if res.status == Status.NO_SOLUTION else res.objective
    assert value == pytest.approx(chain, rel=1e-9, abs=1e-9)
    assert solve("F5-flow/highspy", inst).objective == pytest.approx(chain, rel=1e-6, abs=1e-6)


@settings(max_examples=8, **SETTINGS)
@given(seed=st.integers(0, 10_000))
def test_single_pipeline_matches_brute_force_on_richer_memory(seed):
    inst = llm_instance_from_dict(tiny_dict(seed, nodes=3, layers=4))
    res = solve("single-pipeline/bottleneck", inst)
    value = 0.0 if res.status == Status.NO_SOLUTION else res.objective
    assert value == pytest.approx(brute_single_pipeline(inst), rel=1e-9, abs=1e-9)
    pipe = solve("pipeedge/dp", inst)
    assert pipe.status == Status.NO_SOLUTION or pipe.objective <= value * (1 + 1e-9) + 1e-9  # one order only


def test_generated_clusters_solve_and_heuristics_stay_below_the_optimum():
    inst = generate_llm_cluster(layout="edge", seed=5, nodes=3)
    exact = solve("F5-flow/highspy", inst, time_limit=60)
    assert exact.status == Status.OPTIMAL, exact.message
    assert exact.evaluated_objective == pytest.approx(exact.objective, rel=1e-6)
    assert exact.extra["evaluation"]["latency_mean"] > 0
    for key in HEURISTICS:
        res = solve(key, inst)
        assert res.status == Status.FEASIBLE, (key, res.message)
        assert res.evaluated_objective <= exact.objective * (1 + 1e-6), key


# generated edge clusters on which HiGHS 1.14 with presolve off returned wrong F5-helix optima
AGREEMENT_CASES = ((7, "llama2_7b"), (8, "llama3_8b"), (10, "llama3_8b"), (6, "llama3_8b"), (5, "llama2_7b"))


@pytest.mark.parametrize("seed,model", AGREEMENT_CASES)
def test_f5_flow_and_f5_helix_agree_on_generated_clusters(seed, model):
    inst = generate_llm_cluster(layout="edge", seed=seed, nodes=3, model=model)
    results = {key: solve(key, inst, time_limit=60) for key in ("F5-flow/highspy", "F5-helix/highspy")}
    if seed == AGREEMENT_CASES[0][0]:
        results["F5-helix/scip"] = solve("F5-helix/scip", inst, time_limit=60)
    for key, res in results.items():
        assert res.status == Status.OPTIMAL, (key, res.message)
        assert res.evaluated_objective == pytest.approx(res.objective, rel=1e-6), key
    values = {key: res.objective for key, res in results.items()}
    assert max(values.values()) == pytest.approx(min(values.values()), rel=1e-6), values


# ----------------------------------------------------------------------------- Helix's published case


@needs_helix
def test_helix_reconstruction_is_helix_lp_file_entry_by_entry():
    import highspy

    from formulations.f5.helix import build_helix, lp_file_model

    inst = helix_instance()
    mine, _ = build_helix(inst)
    path = default_helix_dir() / HELIX_LP
    theirs = lp_file_model(read_lp(path))
    for nm in (mine, theirs):
        assert (nm.model.num_rows, nm.model.num_cols, int(nm.model.integer.sum()), nm.model.A.nnz) == (1848, 1376, 776, 13960)

    def entries(nm):
        A = nm.model.A.tocoo()
        coef = {(nm.rows[r], nm.cols[c]): v for r, c, v in zip(A.row, A.col, A.data)}
        rows = {n: (lo, hi) for n, lo, hi in zip(nm.rows, nm.model.row_lower, nm.model.row_upper)}
        cols = {n: (c, lo, hi, bool(i)) for n, c, lo, hi, i in zip(nm.cols, nm.model.c, nm.model.col_lower,
                                                                   nm.model.col_upper, nm.model.integer)}
        return coef, rows, cols

    a, b = entries(mine), entries(theirs)
    assert a[1] == b[1] and a[2] == b[2] and a[0].keys() == b[0].keys()
    assert all(math.isclose(a[0][k], b[0][k], rel_tol=1e-12) for k in a[0])
    # the LP reader agrees with HiGHS's own
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.readModel(str(path))
    lp = h.getLp()
    index = {n: i for i, n in enumerate(theirs.cols)}
    order = [index[n] for n in lp.col_names_]
    assert np.allclose(np.asarray(lp.col_cost_), -theirs.model.c[order])  # HiGHS keeps the maximisation
    assert np.asarray(lp.a_matrix_.value_).size == theirs.model.A.nnz


@needs_helix
def test_helix_tables_are_the_lp_file_rows():
    inst = helix_instance()
    text = (default_helix_dir() / HELIX_LP).read_text()
    for i in (0, 1, 6):
        row = re.search(rf"node_throughput_constraint_{i}:(.*?)<=", text, re.S).group(1)
        values = [float(v) for v, k in re.findall(rf"- ([0-9.]+) hold_{i}_(\d+)", row)]
        assert list(inst.nodes[i].throughput) == values
    assert sorted({round(float(c), 5) for c in inst.link_capacity}) == [61035.15625, 5e8]


@needs_helix
def test_helix_optimum_is_feasible_in_helix_own_model():
    from formulations.f5.helix import lp_file_model

    inst = helix_instance()
    res = solve("F5-flow/highspy", inst, time_limit=120)
    assert res.status == Status.OPTIMAL, res.message
    single = solve("single-pipeline/bottleneck", inst)
    assert res.objective == pytest.approx(single.objective, rel=1e-6)  # the published case: one pipeline
    assert res.lp_relaxation == pytest.approx(res.objective, rel=1e-6)  # the bound U closes the LP gap here
    bits = solve("F5-flow/highspy", helix_instance(link_capacity="bits"), time_limit=120)
    assert bits.objective == pytest.approx(res.objective, rel=1e-6)  # no link binds at 1 Gbit/s read as bits either
    # F5-flow's placement and flow, written as Helix's variables, satisfy every row of Helix's LP file
    nm = lp_file_model(read_lp(default_helix_dir() / HELIX_LP))
    place = Placement.from_dict(res.extra["llm_placement"])
    x = np.zeros(nm.model.num_cols)
    col = {n: i for i, n in enumerate(nm.cols)}
    for n, (s, k) in enumerate(place.ranges):
        x[col[f"start_{n}"]], x[col[f"hold_{n}_{k}"]] = s, 1.0
    for a, f in enumerate(place.link_flow):
        i, j = (("source" if e == inst.source else "sink" if e == inst.sink else str(e))
                for e in (int(inst.link_source[a]), int(inst.link_target[a])))
        x[col[f"flow_{i}_{j}"]] = f
        x[col[f"switch_{i}_{j}"]] = 1.0 if f > 0 else 0.0
    ends = {n: s + k for n, (s, k) in enumerate(place.ranges)}
    for a in range(inst.num_links):  # switches may be on wherever the layers meet
        i, j = int(inst.link_source[a]), int(inst.link_target[a])
        meet = (ends[i] == place.ranges[j][0]) if i < inst.num_nodes and j < inst.num_nodes else False
        if meet:
            x[col[f"switch_{i}_{j}"]] = 1.0
    Ax = nm.model.A @ x
    tol = 1e-6 * np.maximum(1.0, np.abs(Ax))
    assert np.all(Ax >= nm.model.row_lower - tol) and np.all(Ax <= nm.model.row_upper + tol)
    assert -float(nm.model.c @ x) == pytest.approx(res.objective, rel=1e-9)


# ----------------------------------------------------------------------------- roofline and data


def test_roofline_regimes_and_memory_limit():
    model = llm_model("llama2_70b", 1024)
    roof = Roofline()
    acc = ACCELERATORS["A100"]
    theta, _, _ = throughput_table(acc, model, roof)
    assert all(a >= b for a, b in zip(theta, theta[1:]))  # more layers, fewer tokens/s
    K = len(theta)
    kv = model.context_tokens * model.kv_cache_bytes
    assert K * (model.layer_param_bytes + kv) <= roof.memory_usable * acc.memory  # K layers fit with one request
    assert (K + 1) * (model.layer_param_bytes + kv) > roof.memory_usable * acc.memory  # K + 1 do not
    # batch 1 is memory-bound: reading the weights and one KV cache at the usable bandwidth
    bytes_read = model.layer_param_bytes + kv
    assert step_time(acc, model, 1, 1, roof) == pytest.approx(bytes_read / (roof.memory_efficiency * acc.memory_bandwidth))
    # a large batch is compute-bound: B x FLOPs at the usable peak
    t = step_time(acc, model, 1, 256, roof)
    assert t == pytest.approx(256 * model.decode_flops / (roof.compute_efficiency * acc.peak_fp16))
    # the decode FLOPs formula is the profile's own table where the context is one of its contexts
    layer = next(x for x in llm_profile("llama2_70b")["layers"] if x["kind"] == "decoder_layer")
    assert model.decode_flops == layer["decode_flops_per_token"]["1024"]


def test_shipped_llm_profiles_are_the_shared_file():
    shared = Path(__file__).resolve().parents[2] / "shared" / "profiles" / "llm_layer_profiles.json"
    if not shared.is_file():
        pytest.skip(f"{shared} not present")
    ours = Path(__file__).resolve().parents[1] / "instances" / "data" / "llm_layer_profiles.json"
    assert ours.read_bytes() == shared.read_bytes()


def test_cli_generates_shows_and_solves(tmp_path, capsys):
    from dnnsplit.cli import main

    out = tmp_path / "edge.json"
    assert main(["generate", "llm-cluster", "--seed", "2", "--nodes", "4", "-p", "layout=edge", "-o", str(out)]) == 0
    first = out.read_text()
    assert main(["generate", "llm-cluster", "--seed", "2", "--nodes", "4", "-p", "layout=edge", "-o", str(out)]) == 0
    assert out.read_text() == first
    assert main(["show", str(out)]) == 0
    assert "LLM pipeline placement" in capsys.readouterr().out
    assert main(["solve", str(out), "-f", "pipeedge", "-b", "dp"]) == 0
    assert "tokens/s" in capsys.readouterr().out
    assert main(["generate", "llm-cluster", "--layers", "5"]) == 2


@needs_helix
def test_helix_lp_file_backend_honours_the_time_limit():
    inst = helix_instance()
    spent = solve("F5-helix-lpfile/highspy", inst, time_limit=1e-7)
    assert spent.status == Status.TIME_LIMIT
    short = solve("F5-helix-lpfile/highspy", inst, time_limit=2.0)
    assert short.status == Status.TIME_LIMIT and short.wall_time <= 2.0 + 3.0
    assert short.lp_relaxation == pytest.approx(sum(n.throughput[0] for n in inst.nodes), rel=1e-6)  # sum theta_i(1)
    if short.objective is not None:  # its incumbent, if any, passed the evaluator and stays below the optimum
        assert short.evaluated_objective == pytest.approx(short.objective, rel=1e-6, abs=1e-9)
        assert short.objective <= 2045.7


def test_t8_measures_gaps_of_a_maximisation(tmp_path):
    from dnnsplit.tables import load_results
    from dnnsplit.tables.t8_llm import exact_table, heuristic_table

    def rec(pair, status, objective, bound=None, lp=None, kind="exact"):
        f, b = pair.split("/")
        return {"schema": "dnnsplit-bench-record", "key": pair, "formulation": f, "backend": b, "status": status,
                "instance_hash": "h", "instance_id": "helix", "set": "llm-helix", "solve_time": 1.0, "problem": "llm",
                "kind": kind, "objective_name": "throughput", "objective": objective, "evaluated_objective": objective,
                "bound": bound, "lp_relaxation": lp, "campaign": {"time_limit": 60.0}, "sizes": {"nodes": 24}}

    path = tmp_path / "r.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in (
        rec("F5-flow/highspy", "optimal", 2000.0, 2000.0, 2100.0),
        rec("F5-helix/highspy", "time_limit", 1000.0, 150000.0, 224000.0),
        rec("petals/aligned", "feasible", 500.0, kind="heuristic"))))
    long = load_results([path])
    exact = exact_table(long).set_index("pair")
    assert exact.loc["F5-flow/highspy", "LP gap %"] == pytest.approx(0.05)  # (2100 - 2000) / 2000
    assert exact.loc["F5-helix/highspy", "gap %"] == pytest.approx(149.0)  # |1000 - 150000| / 1000
    assert exact.loc["F5-helix/highspy", "below best %"] == pytest.approx(0.5)
    assert exact.loc["F5-helix/highspy", "LP gap %"] == pytest.approx(111.0)
    heur = heuristic_table(long).set_index("pair")
    assert heur.loc["petals/aligned", "below best %"] == pytest.approx(0.75)
