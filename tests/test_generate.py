"""The generator: every family generates valid, deterministic instances; profiles; CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dnnsplit.cli import main as cli_main
from instances import profiles
from instances.defaults import SET_NAMES, canonical, default_set, write_default_sets
from instances.generate import FAMILIES, GenerationError, generate, reference_latency
from instances.io import dumps, load

# DNN-split families of synthetic networks; llm-cluster (an LLM fixes its layers, one request
# stream) is tested in tests/test_llm.py, the Topology Zoo below
SYNTHETIC = [f for f in FAMILIES if f not in ("zoo", "llm-cluster")]


@pytest.mark.parametrize("family", SYNTHETIC)
@pytest.mark.parametrize("nodes", [3, 7, 30])
def test_family_generates_deterministically(family, nodes):
    a = generate(family, seed=3, nodes=nodes, layers=4, jobs=2)
    b = generate(family, seed=3, nodes=nodes, layers=4, jobs=2)
    assert dumps(a) == dumps(b)
    assert a.hash == b.hash
    net = a.network
    assert abs(net.num_nodes - nodes) <= 2  # the grid rounds n to a near rectangle
    assert len(net.compute_nodes) >= 1
    assert a.models[0].num_layers == 4 and len(a.jobs) == 2
    # both directions of every undirected edge, with the same attributes
    fwd = {(int(i), int(j)): (b_, d) for i, j, b_, d in zip(net.link_source, net.link_target, net.bandwidth, net.delay)}
    assert all(fwd.get((j, i)) == v for (i, j), v in fwd.items())
    # sources are devices; the generator records its inputs
    assert all(net.tier[j.source] == "device" for j in a.jobs)
    g = dict(a.generator)
    assert (g["family"], g["seed"], g["nodes"], g["layers"], g["jobs"]) == (family, 3, nodes, 4, 2)


@pytest.mark.parametrize("family", SYNTHETIC)
def test_seeds_differ(family):
    texts = {dumps(generate(family, seed=s, nodes=12, layers=5)) for s in range(3)}
    assert len(texts) == 3


def test_large_families_and_tiers():
    for family in SYNTHETIC:
        inst = generate(family, seed=1, nodes=200, layers=3)
        tiers = set(inst.network.tier)
        assert {"device", "cloud"} <= tiers
        speeds = inst.network.speed
        assert np.all(speeds[np.array([t == "router" for t in inst.network.tier], dtype=bool)] == 0)


def test_hierarchical_structure_and_hardware():
    inst = generate("hierarchical", seed=0, nodes=40, layers=3)
    net = inst.network
    tiers = list(net.tier)
    assert tiers.count("cloud") == 2 and tiers.count("device") > tiers.count("edge") > 0
    classes = {t: c for t, c in zip(net.tier, net.device_class)}
    assert classes["device"] == "cpu1" and classes["edge"] == "cpu16" and classes["cloud"] == "gpu"
    speed = {t: s for t, s in zip(net.tier, net.speed)}
    assert speed["device"] < speed["edge"] < speed["cloud"]
    # access links (either end a device) are the slow ones
    dev = np.array([tiers[i] == "device" or tiers[j] == "device" for i, j in zip(net.link_source, net.link_target)])
    assert net.bandwidth[dev].max() <= 100e6 / 8 + 1e-6 < net.bandwidth[~dev].min()


def test_uplink_parameter_and_waxman_distance_delay():
    inst = generate("hierarchical", seed=0, nodes=3, uplink_mbps=10.0, multihome=0.0)
    net = inst.network
    dev = [a for a in range(net.num_links) if net.tier[net.link_source[a]] == "device"]
    assert [net.bandwidth[a] for a in dev] == [10e6 / 8]
    w1 = generate("waxman", seed=0, nodes=15, area_km=100.0, bandwidth_jitter=0.0)
    w2 = generate("waxman", seed=0, nodes=15, area_km=1000.0, bandwidth_jitter=0.0)
    # same graph, delays scale with the area (minus the fixed 0.1 ms equipment latency)
    assert np.allclose((w2.network.delay - 1e-4), 10 * (w1.network.delay - 1e-4))


def test_unknown_family_and_parameters_are_refused():
    with pytest.raises(GenerationError, match="unknown family"):
        generate("torus")
    with pytest.raises(GenerationError, match="unknown parameter 'bogus'"):
        generate("grid", bogus=1)
    with pytest.raises(ValueError, match="shape"):
        generate("grid", shape="zigzag")
    with pytest.raises(ValueError, match="unknown model"):
        generate("grid", model="lenet")
    with pytest.raises(ValueError, match="nodes"):
        generate("grid", nodes=1)
    with pytest.raises(ValueError, match="zoo needs"):
        generate("zoo")


# ----------------------------------------------------------------------------- DNN models


def test_all_profiles_load_with_shipped_totals():
    raw = {m["model"]: m for m in profiles.load_profiles()["models"]}
    assert set(raw) == set(profiles.PROFILE_NAMES) and len(raw) == 12
    for name in profiles.PROFILE_NAMES:
        for merge in (False, True):
            inst = generate("hierarchical", seed=0, nodes=4, model=name, merge_elementwise=merge)
            m = inst.models[0]
            assert m.flops.sum() == raw[name]["total_flops"]
            assert m.output_bytes[-1] == raw[name]["layers"][-1]["output_bytes"]
            assert set(m.measured_time) == {"gpu", "cpu16", "cpu1"}
            for cls in m.measured_time:
                shipped = sum(l["time_s"][cls] for l in raw[name]["layers"])
                assert m.measured_time[cls].sum() == pytest.approx(shipped, rel=1e-12)
            assert m.accuracy == profiles.TOP1_ACCURACY[name]
            if not merge:
                assert m.num_layers == len(raw[name]["layers"])


def test_merge_only_merges_same_size_zero_flop_layers():
    for name in profiles.PROFILE_NAMES:
        full = profiles.profile_model(name)["layers"]
        merged = profiles.profile_model(name, merge_elementwise=True)["layers"]
        assert len(merged) < len(full)
        # the split points kept are exactly the layers that are not merged away
        kept = [l for i, l in enumerate(full)
                if i == 0 or not (l["flops"] == 0 and l["output_bytes"] == full[i - 1]["output_bytes"])]
        assert [l["output_bytes"] for l in kept] == [l["output_bytes"] for l in merged]
        assert sum(l["param_bytes"] for l in merged) == sum(l["param_bytes"] for l in full)
    alex = profiles.profile_model("alexnet", merge_elementwise=True)["layers"]
    names = [l["name"] for l in alex]
    # ReLUs merge into their convolutions; max pools (zero FLOPs, smaller tensor) stay split points
    assert names[:4] == ["features_0+merged", "features_2", "features_3+merged", "features_5"]
    assert len(alex) == 11


def test_measured_times_drive_compute_time():
    inst = generate("hierarchical", seed=0, nodes=3, model="resnet18")
    tau = inst.compute_time(0)
    m = inst.models[0]
    for n, cls in enumerate(inst.network.device_class):
        assert np.array_equal(tau[:, n], m.measured_time[cls])


@pytest.mark.parametrize("shape", profiles.SHAPES)
def test_synthetic_shapes(shape):
    inst = generate("grid", seed=2, nodes=9, layers=12, shape=shape, gflops=3.0)
    m = inst.models[0]
    assert m.num_layers == 12 and m.flops.sum() == pytest.approx(3e9, rel=1e-6)
    assert m.output_bytes[-1] == profiles.SYNTHETIC_RESULT_BYTES
    assert not m.measured_time
    if shape == "bottleneck":
        assert m.output_bytes[5] < m.input_bytes / 5 and m.output_bytes[10] > m.output_bytes[5]
    if shape == "decreasing":
        assert m.output_bytes[0] > m.output_bytes[10]


def test_exits_jobs_deadlines_and_accuracy_targets():
    inst = generate("erdos_renyi", seed=4, nodes=12, layers=9, jobs=6, exits=3, deadline_factor=1.5,
                    accuracy_target_rel=0.95, models=["synthetic", "alexnet"], utilisation_cap=0.8)
    assert inst.utilisation_cap == 0.8
    assert [inst.models[j.model].name for j in inst.jobs] == ["synthetic-decreasing-L9", "alexnet"] * 3
    for m in inst.models:
        assert [e.after_layer for e in m.exits] == profiles.exit_positions(m.num_layers, 3)
        q = [e.probability for e in m.exits]
        acc = [e.accuracy for e in m.exits]
        assert 0 < sum(q) < 1 and acc == sorted(acc) and max(acc) < m.accuracy
    for j, job in enumerate(inst.jobs):
        assert job.deadline == pytest.approx(1.5 * reference_latency(inst, j))
        assert job.accuracy_target == pytest.approx(0.95 * inst.models[job.model].accuracy)
        assert 0.5 <= job.rate <= 2.0


def test_reference_latency_is_best_single_node():
    inst = generate("hierarchical", seed=0, nodes=3, model="vgg16", uplink_mbps=1.0, multihome=0.0)
    # at 1 Mbit/s shipping the 602 kB input costs > 4 s, so the device itself is the best node
    tau = inst.compute_time(0)
    src = inst.jobs[0].source
    assert reference_latency(inst, 0) == pytest.approx(tau[:, src].sum())


# ----------------------------------------------------------------------------- default sets


def test_default_sets_are_deterministic_and_named_uniquely(tmp_path):
    names = []
    for s in SET_NAMES:
        if s in ("multi-medium", "zoo-sample"):
            continue  # covered by the write test below
        a, b = default_set(s), default_set(s)
        assert [dumps(x) for x in a] == [dumps(x) for x in b]
        names += [x.name for x in a]
    assert len(names) == len(set(names))
    assert canonical("small").name == default_set("small")[0].name
    assert len(default_set("profiles")) == 48
    med = canonical("medium")
    assert 25 <= med.network.num_nodes <= 40 and 15 <= med.models[0].num_layers <= 30
    large = canonical("large")
    assert large.network.num_nodes >= 100 and large.models[0].num_layers >= 50
    with pytest.raises(ValueError):
        default_set("huge")


def test_write_default_sets(tmp_path):
    paths = write_default_sets(tmp_path, ["multi-medium"])
    assert len(paths) == 4
    jobs = [len(load(p).jobs) for p in paths]
    assert min(jobs) >= 50 and max(jobs) <= 100
    assert any(load(p).models[0].exits for p in paths)


def test_write_default_sets_drops_files_of_an_older_set_definition(tmp_path):
    folder = tmp_path / "fin"
    folder.mkdir()
    (folder / "fin-old-instance-s1.json").write_text("{}")  # an earlier version of the set
    (folder / "my-notes.json").write_text("{}")  # not the generator's: kept
    paths = write_default_sets(tmp_path, ["fin"])
    assert sorted(p.name for p in folder.iterdir()) == sorted([p.name for p in map(Path, paths)] + ["my-notes.json"])


def test_sweep_sets_vary_one_thing_each():
    from instances.defaults import EXIT_DEADLINES, EXIT_TARGETS, MULTI_JOBS, MULTI_JOBS_LOAD

    sweep = default_set("multi-jobs")
    assert [len(i.jobs) for i in sweep] == list(MULTI_JOBS)
    # the same network and model shape at every J; rates scaled so the total load stays in the same range
    assert len({(i.network.num_nodes, i.network.num_links, i.models[0].num_layers) for i in sweep}) == 1
    assert all(np.array_equal(i.network.link_source, sweep[0].network.link_source) for i in sweep)
    for inst in sweep:
        total = sum(j.rate for j in inst.jobs)
        assert MULTI_JOBS_LOAD[0] <= total <= MULTI_JOBS_LOAD[1]
    exits = default_set("exits")
    assert len(exits) == len(EXIT_TARGETS) * len(EXIT_DEADLINES)
    alpha = exits[0].models[0].accuracy
    grid = sorted({(round(i.jobs[0].accuracy_target / alpha, 6), i.generator["params"]["deadline_factor"]) for i in exits})
    assert grid == sorted((t, d) for t in EXIT_TARGETS for d in EXIT_DEADLINES)
    assert all(len(i.jobs) == 8 and i.models[0].exits for i in exits)
    for a, b in zip(exits, exits[1:]):  # only the targets and deadlines differ
        assert np.array_equal(a.network.bandwidth, b.network.bandwidth)
        assert [j.rate for j in a.jobs] == [j.rate for j in b.jobs]
    for inst in default_set("fin"):
        job = inst.jobs[0]
        assert len(inst.jobs) == 1 and inst.models[0].exits and job.deadline and job.accuracy_target
        assert job.deadline > reference_latency(inst, 0) * 0.99


# ----------------------------------------------------------------------------- CLI


def _cli(args, capsys):
    rc = cli_main(args)
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.mark.parametrize("family", SYNTHETIC)
def test_cli_generate_every_family(family, tmp_path, capsys):
    out = tmp_path / f"{family}.json"
    rc, _, err = _cli(["generate", family, "--seed", "2", "--nodes", "8", "--layers", "5", "--jobs", "2",
                       "--param", "exits=1", "--out", str(out)], capsys)
    assert rc == 0, err
    inst = load(out)
    assert dumps(inst) == dumps(generate(family, seed=2, nodes=8, layers=5, jobs=2, exits=1))


def test_cli_generate_zoo_and_default_set(zoo_archive, tmp_path, capsys):
    out = tmp_path / "abilene.json"
    rc, _, err = _cli(["generate", "zoo", "--zoo-archive", str(zoo_archive), "--zoo-name", "Abilene",
                       "--model", "resnet18", "--out", str(out)], capsys)
    assert rc == 0, err
    assert load(out).generator["params"]["zoo_name"] == "Abilene"
    rc, outtext, err = _cli(["generate", "--default-set", "small", "--out", str(tmp_path / "sets")], capsys)
    assert rc == 0, err
    assert len(list((tmp_path / "sets" / "small").glob("*.json"))) == len(default_set("small"))


@pytest.mark.parametrize(
    "args, message",
    [
        (["generate", "torus"], "unknown family"),
        (["generate", "grid", "--param", "bogus=1"], "unknown parameter"),
        (["generate", "grid", "--param", "exits"], "K=V"),
        (["generate", "grid", "--model", "lenet"], "unknown model"),
        (["generate", "--default-set", "huge", "--out", "x"], "unknown default set"),
        (["generate", "zoo", "--zoo-file", "/nonexistent/x.gml"], "cannot read zoo file"),
        (["generate"], "FAMILY"),
    ],
)
def test_cli_generate_errors_are_one_line(args, message, capsys):
    rc, _, err = _cli(args, capsys)
    assert rc == 2
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_generate_is_stable_across_processes():
    code = "from instances.generate import generate; print(generate('waxman', seed=9, nodes=14, layers=6, jobs=3).hash)"
    root = Path(__file__).resolve().parents[1]
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True).stdout
            for _ in range(2)}
    assert outs == {generate("waxman", seed=9, nodes=14, layers=6, jobs=3).hash + "\n"}


# ----------------------------------------------------------------------------- multi-job sets bind


def min_congestion(inst) -> float:
    """min theta such that splittable flows (F3 arc form, exits inactive, no deadlines) fit in
    theta x (kappa x capacity) on every node (C1) and link (C2): theta <= 1 means feasible.

    An LP written here from DESIGN.md, independent of the formulations package.
    """
    import scipy.sparse as sp
    from scipy.optimize import linprog

    net = inst.network
    N, A = net.num_nodes, net.num_links
    comp = net.compute_nodes
    C, kappa = len(comp), inst.utilisation_cap
    eq_r, eq_c, eq_v, b_eq, ld_r, ld_c, ld_v = [], [], [], [], [], [], []
    nvar = row = 0
    for job in inst.jobs:
        m = inst.models[job.model]
        L, tau, o = m.num_layers, inst.compute_time(m), m.tensor_sizes
        comp_base = nvar + (L + 1) * A
        for l in range(L + 1):  # communication arcs (i, l) -> (k, l)
            idx = nvar + l * A + np.arange(A)
            for ends, sign in ((net.link_source, 1.0), (net.link_target, -1.0)):
                eq_r += list(row + l * N + ends); eq_c += list(idx); eq_v += [sign] * A
            ld_r += list(N + np.arange(A)); ld_c += list(idx); ld_v += list(job.rate * o[l] / (kappa * net.bandwidth))
        for l in range(1, L + 1):  # computation arcs (n, l-1) -> (n, l)
            idx = comp_base + (l - 1) * C + np.arange(C)
            eq_r += list(row + (l - 1) * N + comp); eq_c += list(idx); eq_v += [1.0] * C
            eq_r += list(row + l * N + comp); eq_c += list(idx); eq_v += [-1.0] * C
            ld_r += list(comp); ld_c += list(idx); ld_v += list(job.rate * tau[l - 1, comp] / kappa)
        b = np.zeros((L + 1) * N)
        b[job.source] += 1
        b[L * N + job.sink] -= 1
        b_eq.append(b)
        nvar, row = comp_base + L * C, row + (L + 1) * N
    ld_r += list(range(N + A)); ld_c += [nvar] * (N + A); ld_v += [-1.0] * (N + A)
    cost = np.zeros(nvar + 1)
    cost[nvar] = 1.0
    res = linprog(cost, A_ub=sp.csr_matrix((ld_v, (ld_r, ld_c)), shape=(N + A, nvar + 1)), b_ub=np.zeros(N + A),
                  A_eq=sp.csr_matrix((eq_v, (eq_r, eq_c)), shape=(row, nvar + 1)), b_eq=np.concatenate(b_eq),
                  bounds=(0, None), method="highs")
    assert res.status == 0, res.message
    return float(res.fun)


def selfish_violations(inst) -> int:
    """Capacity violations when every job takes its own uncapacitated optimum (F2, alone)."""
    from dnnsplit import registry
    from dnnsplit.options import SolverOptions
    from instances.evaluate import capacity_violations, evaluate
    from instances.io import instance_from_dict, instance_to_dict

    spec = registry.get("F2", "layered-dijkstra")
    d = instance_to_dict(inst)
    decision = {}
    for j, jd in enumerate(d["jobs"]):
        result = registry.run(spec, instance_from_dict(dict(d, jobs=[jd])), SolverOptions())
        (decision[j],) = result.decision.values()
    return len(capacity_violations(inst, evaluate(inst, decision)))


def test_multi_small_capacities_bind_but_stay_feasible():
    insts = default_set("multi-small")
    theta = [min_congestion(i) for i in insts]
    assert all(t < 1 for t in theta), theta  # every instance is feasible when splittable
    binding = [selfish_violations(i) > 0 for i in insts]
    assert sum(binding) >= len(insts) // 2, binding  # ... and for most the selfish optimum is not
    assert any(i.models[0].exits for i in insts) and any(j.deadline for i in insts for j in i.jobs)
    assert any(j.accuracy_target for i in insts for j in i.jobs)
