"""The table generator: every output from fixture records, numbers against an independent
computation, refusal of malformed inputs with nothing written, and both real inputs
(a campaign with the real registry, a pytest-benchmark JSON)."""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dnnsplit import tables
from dnnsplit.tables import ResultsError, TableSpec, TablesError, generate, load_results
from dnnsplit.tables.t1_solve_time import solve_time_table
from dnnsplit.tables.t2_lp_gap import lp_gap_table
from dnnsplit.tables.f3_fin_gamma import fin_gamma_table
from dnnsplit.tables.t3_profiles import profile_table
from dnnsplit.tables.t4_multi_jobs import multi_jobs_table
from dnnsplit.tables.t5_energy_exits import energy_table
from dnnsplit.tables.t6_heuristic_gap import heuristic_gap_table
from helpers import line_instance_dict
from instances.io import instance_from_dict, save

ROOT = Path(__file__).resolve().parent.parent
MACHINE = {"cpu": "Test CPU", "machine": "x86_64", "usable_cpus": 2, "memory_bytes": 2**34, "os": "Linux", "python": "3.11",
           "packages": {"highspy": "1.14.0"}}


def rec(instance: str, pair: str, solve_time: float, *, status: str = "optimal", repeat: int = 0, set_name: str = "small",
        **kw: Any) -> dict[str, Any]:
    formulation, backend = pair.split("/")
    r = {
        "schema": "dnnsplit-bench-record", "key": f"{instance}/{pair}/r{repeat}", "source": "campaign",
        "formulation": formulation, "backend": backend, "status": status, "instance_hash": instance,
        "instance_id": f"inst-{instance}", "set": set_name, "solve_time": solve_time, "build_time": 0.0, "repeat": repeat,
        "kind": "heuristic" if backend == "heuristic" else "exact", "problem": "single",
        "sizes": {"nodes": 3, "links": 4, "compute_nodes": 3, "jobs": 1, "max_layers": 3, "layered_arcs": 25},
        "campaign": {"time_limit": 10.0}, "machine": MACHINE, "solver": "HiGHS", "solver_version": "1.14.0",
        "finished_at": "2026-11-23T01:00:00+00:00",
    }
    r.update(kw)
    return r


def fixture_records() -> list[dict[str, Any]]:
    out = []
    f1 = "F1-weak/highspy"
    out += [rec("A", f1, 1.0, objective=10.0, lp_relaxation=8.0), rec("A", f1, 3.0, repeat=1, objective=10.0, lp_relaxation=8.0)]
    out += [rec("B", f1, 2.0, objective=5.0, lp_relaxation=4.5), rec("B", f1, 2.0, repeat=1, objective=5.0, lp_relaxation=4.5)]
    out += [rec("C", f1, 12.0, status="time_limit", message="killed")]
    f2 = "F2/highspy"
    for inst, times, obj in (("A", [0.1, 0.3], 10.0), ("B", [0.2], 5.0), ("C", [0.5], 7.0)):
        out += [rec(inst, f2, t, repeat=i, objective=obj, lp_relaxation=obj, lp_integral=True) for i, t in enumerate(times)]
    out += [rec(i, "F2/layered-dijkstra", t, objective=o) for i, t, o in (("A", 0.01, 10.0), ("B", 0.02, 5.0), ("C", 0.04, 7.0))]
    out += [rec("A", "local-only/heuristic", 0.001, status="feasible", objective=12.0)]
    # profiles: two bandwidths of one DNN
    gen = {"model": "alexnet", "params": {"uplink_mbps": 1.0}}
    gen2 = {"model": "alexnet", "params": {"uplink_mbps": 100.0}}
    dev = {"nodes": ["dev"] * 3, "tiers": ["device"] * 3, "source": "dev", "sink": "dev"}
    split = {"nodes": ["dev", "dev", "edge"], "tiers": ["device", "device", "edge"], "source": "dev", "sink": "dev"}
    for inst, g, opt, place, simple in (("P1", gen, 0.020, dev, (0.020, 0.5, 0.020)), ("P2", gen2, 0.010, split, (0.020, 0.015, 0.012))):
        kw = {"set_name": "profiles", "instance_generator": g}
        out.append(rec(inst, "F2/layered-dijkstra", 0.001, objective=opt, evaluated_objective=opt, placement=place, **kw))
        for pair, value in zip(("local-only/heuristic", "best-remote/heuristic", "two-way-split/heuristic"), simple):
            out.append(rec(inst, pair, 0.001, status="feasible", objective=value, evaluated_objective=value, **kw))
    multi = rec("M", "F3-latency-lp/highspy", 0.3, set_name="multi-small", problem="multi", objective=3.0)
    multi["sizes"] = dict(multi["sizes"], jobs=5, layered_arcs=400)
    out.append(multi)
    return out + t456_records() + llm_records()


def llm_records() -> list[dict[str, Any]]:
    """T8/F7 (LLM placement, throughput maximised): F5-flow optimal, F5-helix stopped, a heuristic."""
    kw = {"set_name": "llm-helix", "problem": "llm", "objective_name": "throughput"}
    return [rec("H", "F5-flow/highspy", 1.0, objective=2000.0, evaluated_objective=2000.0, bound=2000.0,
                lp_relaxation=2000.0, **kw),
            rec("H", "F5-helix/highspy", 60.0, status="time_limit", objective=1000.0, evaluated_objective=1000.0,
                bound=150000.0, lp_relaxation=224000.0, **kw),
            rec("H", "single-pipeline/bottleneck", 0.1, status="feasible", objective=1500.0, evaluated_objective=1500.0,
                kind="heuristic", **kw)]


def _multi(instance: str, pair: str, solve_time: float, jobs: int, set_name: str, **kw: Any) -> dict[str, Any]:
    r = rec(instance, pair, solve_time, set_name=set_name, problem="multi", **kw)
    r["sizes"] = dict(r["sizes"], jobs=jobs, layered_arcs=100 * jobs)
    if r["formulation"] in ("greedy", "dina", "fin") or (pair.endswith("milp/colgen") and "kind" not in kw):
        r["kind"] = "heuristic"
    return r


def t456_records() -> list[dict[str, Any]]:
    """Records for T4/F4 (jobs sweep), T5/F5 (exits), T6 (heuristic gaps) and F3 (FIN against gamma)."""
    out = []
    # jobs sweep: J10 all solved; J20: the arc-form MILP hits the 10 s limit (bound only), two repeats of the LP
    mj = "multi-jobs"
    out += [_multi("J10", "F3-latency-lp/highspy", 0.2, 10, mj, objective=4.0, gap=0.0),
            _multi("J10", "F3-latency-lp/colgen", 0.01, 10, mj, objective=4.0, gap=0.0),
            _multi("J10", "F3-latency-milp/highspy", 1.5, 10, mj, objective=4.4, evaluated_objective=4.4, gap=0.0),
            _multi("J10", "F3-latency-milp/colgen", 0.02, 10, mj, status="feasible", objective=4.6, bound=4.0, gap=0.13),
            _multi("J20", "F3-latency-lp/highspy", 0.4, 20, mj, objective=5.0, gap=0.0),
            _multi("J20", "F3-latency-lp/highspy", 0.6, 20, mj, objective=5.0, gap=0.0, repeat=1),
            _multi("J20", "F3-latency-milp/highspy", 10.3, 20, mj, status="time_limit", objective=5.5, bound=5.2, gap=0.0545)]
    # heuristics on the sweep: J10 against the MILP optimum 4.4, J20 against the bound max(LP 5.0, MILP bound 5.2)
    out += [_multi("J10", "greedy/rate", 0.05, 10, mj, status="feasible", objective=4.84),
            _multi("J20", "greedy/rate", 0.07, 20, mj, status="feasible", objective=5.72),
            _multi("J10", "dina/capacity", 0.1, 10, mj, status="no_solution")]
    # exits: 2 targets x 1 deadline factor
    ex = "exits"
    for inst, acc, sel, base, lp in (("E1", 0.9, 8.0, 10.0, 7.5), ("E2", 0.99, None, 10.5, 9.0)):
        gen = {"params": {"accuracy_target_rel": acc, "deadline_factor": 1.5}}
        kw = {"instance_generator": gen, "objective_name": "energy"}
        out.append(_multi(inst, "F3-exit-select-milp/highspy", 1.0, 8, ex, status="optimal" if sel else "infeasible",
                          objective=sel, **kw))
        out.append(_multi(inst, "F3-exit-select-lp/highspy", 0.1, 8, ex, objective=lp, **kw))
        out.append(_multi(inst, "F3-energy-milp/highspy", 0.5, 8, ex, objective=base, **kw))
    # FIN: reference 1.0 (F1a) and 2.0 (F1b); gamma 10 finds nothing on F1a
    for inst, ref, g10, g50 in (("F1a", 1.0, None, 1.1), ("F1b", 2.0, 2.4, 2.0)):
        kw = {"objective_name": "energy", "set_name": "fin"}
        out.append(rec(inst, "F3-exit-select-milp/highspy", 0.3, objective=ref, problem="multi", **kw))
        out.append(rec(inst, "fin/g10", 0.01, status="feasible" if g10 else "infeasible", objective=g10, kind="heuristic", **kw))
        out.append(rec(inst, "fin/g50", 0.05, status="feasible", objective=g50, kind="heuristic", **kw))
    return out


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _sgm(values: list[float], shift: float = 10.0) -> float:
    return math.exp(sum(math.log(v + shift) for v in values) / len(values)) - shift


EXPECTED_FILES = [
    "t1_solve_time.md", "t1_solve_time.tex", "t1_solve_time.csv", "t2_lp_gap.md", "t2_lp_gap.tex", "t2_lp_gap.csv",
    "t3_profiles.md", "t3_profiles.tex", "t3_profiles.csv", "f1_scaling.png", "f1_scaling.pdf", "f1_scaling_multi.png",
    "f1_scaling_multi.pdf", "f2_split.png", "f2_split.pdf", "index.md", "machine.md",
    "t4_multi_jobs.md", "t4_multi_jobs.tex", "t4_multi_jobs.csv", "f4_multi_jobs.png", "f4_multi_jobs.pdf",
    "t5_energy_exits.md", "t5_energy_exits.tex", "t5_energy_exits.csv", "f5_energy_exits.png", "f5_energy_exits.pdf",
    "t6_heuristic_gap.md", "t6_heuristic_gap.tex", "t6_heuristic_gap.csv",
    "f3_fin_gamma.md", "f3_fin_gamma.tex", "f3_fin_gamma.csv", "f3_fin_gamma.png", "f3_fin_gamma.pdf", tables.MANIFEST,
    "t8_llm.md", "t8_llm.tex", "t8_llm.csv", "t8_llm_heuristics.md", "t8_llm_heuristics.tex", "t8_llm_heuristics.csv",
    "f7_llm.png", "f7_llm.pdf",
]


def test_every_output_from_fixture_records(tmp_path: Path) -> None:
    results = write_jsonl(tmp_path / "results.jsonl", fixture_records())
    out = tmp_path / "out"
    ctx = generate([results], out)
    assert sorted(p.name for p in out.iterdir()) == sorted(EXPECTED_FILES)
    assert not ctx.skipped
    t1_md = (out / "t1_solve_time.md").read_text()
    sets = t1_md.split("Instance sets: ", 1)[1].split(".")[0].split(", ")
    assert sets[:2] == ["small", "multi-small"] and "profiles" in sets  # in the tables' set order
    # the machine is stated once, in index.md and machine.md; a caption points there
    assert "Test CPU" not in t1_md and "Machine and package versions: machine.md." in t1_md and "2026-11-23" in t1_md
    assert (out / "index.md").read_text().count("Test CPU") == 1
    tex = (out / "t1_solve_time.tex").read_text()
    assert "\\toprule" in tex and "\\bottomrule" in tex and "F1-weak/highspy" in tex and "\\caption{" in tex
    assert "![f2_split](f2_split.png)" in (out / "index.md").read_text()
    assert "Test CPU" in (out / "machine.md").read_text()
    assert (out / "f1_scaling.png").read_bytes()[:4] == b"\x89PNG" and (out / "f2_split.pdf").read_bytes()[:4] == b"%PDF"


def test_t1_numbers_match_an_independent_computation(tmp_path: Path) -> None:
    long = load_results([write_jsonl(tmp_path / "r.jsonl", fixture_records())])
    t1 = solve_time_table(long).set_index(["set", "pair"])
    # F1-weak/highspy: per-instance medians over repeats; C timed out -> the 10 s limit
    f1 = {"A": statistics.median([1.0, 3.0]), "B": statistics.median([2.0, 2.0]), "C": 10.0}
    row = t1.loc[("small", "F1-weak/highspy")]
    assert row["instances"] == 3 and row["solved"] == 2 and row["repeats"] == 2
    assert row["median solve (s)"] == pytest.approx(statistics.median(f1.values()))
    assert row["sgm10 solve (s)"] == pytest.approx(_sgm(list(f1.values())))
    assert row["repeat spread"] == pytest.approx(statistics.median([(3.0 - 1.0) / 2.0, 0.0]))
    f2 = {"A": statistics.median([0.1, 0.3]), "B": 0.2, "C": 0.5}
    row = t1.loc[("small", "F2/highspy")]
    assert row["solved"] == 3
    assert row["sgm10 solve (s)"] == pytest.approx(_sgm(list(f2.values())))
    assert row["speed-up solve"] == pytest.approx(math.prod(f1[i] / f2[i] for i in f1) ** (1 / 3))
    # no F1-weak on layered-dijkstra: the speed-up falls back to F1-weak/highspy
    dij = {"A": 0.01, "B": 0.02, "C": 0.04}
    row = t1.loc[("small", "F2/layered-dijkstra")]
    assert row["speed-up solve"] == pytest.approx(math.prod(f1[i] / dij[i] for i in f1) ** (1 / 3))
    assert row["baseline"].startswith("F1-weak/highspy")
    assert math.isnan(t1.loc[("multi-small", "F3-latency-lp/highspy")]["speed-up solve"])
    # the CSV keeps the same numbers at full precision
    out = tmp_path / "out"
    generate([tmp_path / "r.jsonl"], out, only=["T1"])
    with open(out / "t1_solve_time.csv") as fh:
        rows = {(r["set"], r["pair"]): r for r in csv.DictReader(fh)}
    assert float(rows[("small", "F1-weak/highspy")]["sgm10 solve (s)"]) == pytest.approx(_sgm(list(f1.values())))


def test_t2_and_t3_numbers(tmp_path: Path) -> None:
    long = load_results([write_jsonl(tmp_path / "r.jsonl", fixture_records())])
    t2 = lp_gap_table(long).set_index(["set", "formulation"])
    gaps = [(10.0 - 8.0) / 10.0, (5.0 - 4.5) / 5.0]  # C timed out: no gap
    row = t2.loc[("small", "F1-weak")]
    assert row["instances"] == 2
    assert row["mean gap %"] == pytest.approx(sum(gaps) / 2) and row["max gap %"] == pytest.approx(max(gaps))
    assert t2.loc[("small", "F2")]["max gap %"] == 0 and t2.loc[("small", "F2")]["LP integral"] == "3/3"
    t3, _ = profile_table(long)
    t3 = t3.set_index("uplink (Mbit/s)")
    assert t3.loc[1.0, "gain %"] == pytest.approx(0.0) and t3.loc[1.0, "optimal split"] == "all on device"
    assert t3.loc[100.0, "gain %"] == pytest.approx((0.012 - 0.010) / 0.012)
    assert t3.loc[100.0, "optimal split"] == "device 1-2 -> edge 3" and t3.loc[100.0, "layers on device"] == 2
    assert t3.loc[100.0, "best-remote (ms)"] == pytest.approx(15.0)


def _p90(values: list[float]) -> float:
    """90th percentile with linear interpolation between order statistics (written out)."""
    v = sorted(values)
    pos = 0.9 * (len(v) - 1)
    lo = math.floor(pos)
    return v[lo] + (pos - lo) * (v[min(lo + 1, len(v) - 1)] - v[lo])


def test_t4_jobs_sweep_numbers(tmp_path: Path) -> None:
    long = load_results([write_jsonl(tmp_path / "r.jsonl", fixture_records())])
    t4 = multi_jobs_table(long).set_index(["jobs", "pair"])
    assert list(t4.index.get_level_values(0)) == [10, 10, 10, 10, 20, 20]  # sorted by jobs; no other set leaks in
    row = t4.loc[(10, "F3-latency-milp/highspy")]
    assert (row["form"], row["problem"], row["status"]) == ("arc", "MILP", "optimal")
    assert row["over LP %"] == pytest.approx((4.4 - 4.0) / 4.0) and row["median solve (s)"] == pytest.approx(1.5)
    row = t4.loc[(10, "F3-latency-milp/colgen")]
    assert (row["form"], row["status"]) == ("path", "feasible") and row["gap %"] == pytest.approx(0.13)
    assert row["over LP %"] == pytest.approx((4.6 - 4.0) / 4.0)
    row = t4.loc[(20, "F3-latency-lp/highspy")]
    assert row["median solve (s)"] == pytest.approx(statistics.median([0.4, 0.6])) and row["over LP %"] == 0
    row = t4.loc[(20, "F3-latency-milp/highspy")]  # timed out: penalised at the 10 s limit, no objective counted
    assert row["status"] == "time_limit" and row["median solve (s)"] == pytest.approx(10.0) and math.isnan(row["objective"])


def test_t5_energy_numbers(tmp_path: Path) -> None:
    long = load_results([write_jsonl(tmp_path / "r.jsonl", fixture_records())])
    t5 = energy_table(long).set_index("target (x alpha_L)")
    assert list(t5.index) == [0.9, 0.99] and (t5["deadline factor"] == 1.5).all()
    assert t5.loc[0.9, "F3-exit-select-milp (J/s)"] == pytest.approx(8.0)
    assert t5.loc[0.9, "exit saving %"] == pytest.approx((10.0 - 8.0) / 10.0)
    assert t5.loc[0.99, "F3-exit-select-milp status"] == "infeasible"
    assert math.isnan(t5.loc[0.99, "F3-exit-select-milp (J/s)"]) and math.isnan(t5.loc[0.99, "exit saving %"])
    assert t5.loc[0.99, "F3-energy-milp (J/s)"] == pytest.approx(10.5) and t5.loc[0.99, "F3-exit-select-lp (J/s)"] == 9.0


def test_t6_heuristic_gaps_against_optimum_or_bound(tmp_path: Path) -> None:
    long = load_results([write_jsonl(tmp_path / "r.jsonl", fixture_records())])
    t6 = heuristic_gap_table(long).set_index(["set", "pair"])
    g = [(4.84 - 4.4) / 4.4, (5.72 - 5.2) / 5.2]  # J10: MILP optimum; J20: best bound (MILP bound 5.2 > LP 5.0)
    row = t6.loc[("multi-jobs", "greedy/rate")]
    assert row["reference"] == "F3-latency-milp" and (row["vs optimum"], row["vs bound"]) == (1, 1)
    assert row["median gap %"] == pytest.approx(statistics.median(g)) and row["worst gap %"] == pytest.approx(max(g))
    assert row["p90 gap %"] == pytest.approx(_p90(g)) and row["median time (s)"] == pytest.approx(0.06)
    row = t6.loc[("multi-jobs", "dina/capacity")]  # no solution: run, but no gap; counted as such
    assert row["instances"] == 1 and row["with result"] == 0 and math.isnan(row["median gap %"])
    assert (row["no solution"], row["stopped"], row["error"]) == (1, 0, 0)
    row = t6.loc[("multi-jobs", "F3-latency-milp/colgen")]  # price-and-branch: against the exact MILP
    assert row["reference"] == "F3-latency-milp" and row["median gap %"] == pytest.approx((4.6 - 4.4) / 4.4)
    row = t6.loc[("small", "local-only/heuristic")]
    assert row["reference"] == "F2" and row["median gap %"] == pytest.approx((12.0 - 10.0) / 10.0)
    prof = [(0.020 - 0.020) / 0.020, (0.020 - 0.010) / 0.010]
    row = t6.loc[("profiles", "local-only/heuristic")]
    assert row["p90 gap %"] == pytest.approx(_p90(prof)) and row["worst gap %"] == pytest.approx(1.0)
    fin = t6.loc[("fin", "fin/g50")]
    assert fin["reference"] == "F3-exit-select-milp" and fin["median gap %"] == pytest.approx(statistics.median([0.1, 0.0]))


def test_fin_gamma_numbers(tmp_path: Path) -> None:
    long = load_results([write_jsonl(tmp_path / "r.jsonl", fixture_records())])
    f3 = fin_gamma_table(long).set_index("gamma")
    assert list(f3.index) == [10, 50]
    assert f3.loc[10, "deployment found"] == 1 and f3.loc[10, "with reference"] == 1
    assert f3.loc[10, "median gap %"] == pytest.approx((2.4 - 2.0) / 2.0)
    assert f3.loc[50, "median gap %"] == pytest.approx(0.05) and f3.loc[50, "worst gap %"] == pytest.approx(0.1)
    assert f3.loc[50, "median time (s)"] == pytest.approx(0.05)


def test_new_tables_skip_cleanly_without_their_records(tmp_path: Path) -> None:
    only_t1 = [r for r in fixture_records() if r["set"] == "small" and r["formulation"].startswith("F")]
    out = tmp_path / "out"
    ctx = generate([write_jsonl(tmp_path / "r.jsonl", only_t1)], out, only=["T4", "T5", "T6", "F3", "F4", "F5"])
    assert sorted(name for name, _ in ctx.skipped) == ["F3", "F4", "F5", "T4", "T5", "T6"]
    assert sorted(p.name for p in out.iterdir()) == sorted(["index.md", "machine.md", tables.MANIFEST])
    assert "T4: no F3-latency-lp/F3-latency-milp record" in (out / "index.md").read_text().replace("- T4", "T4")


def _cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    tables.add_arguments(parser)
    return tables.run_cli(parser.parse_args(list(argv)))


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda lines: lines[:2] + ["{not json"] + lines[2:], r"bad\.jsonl:3: not valid JSON"),
        (lambda lines: [lines[0], json.dumps({k: v for k, v in json.loads(lines[1]).items() if k != "status"})] + lines[2:],
         r"bad\.jsonl:2: missing field 'status'"),
        (lambda lines: lines[:3] + [json.dumps(dict(json.loads(lines[3]), status="solved"))], r"bad\.jsonl:4: field 'status' is 'solved'"),
        (lambda lines: [json.dumps(dict(json.loads(lines[0]), solve_time="fast"))], r"bad\.jsonl:1: field 'solve_time' is not a number"),
        (lambda lines: lines[:1] + ["[1, 2]"], r"bad\.jsonl:2: not a JSON object"),
    ],
)
def test_malformed_results_are_refused_naming_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], mutate: Any, message: str) -> None:
    lines = [json.dumps(r) for r in fixture_records()]
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(mutate(lines)) + "\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "t1_solve_time.md").write_text("old")
    assert _cli(str(bad), "--out", str(out)) == 2
    import re

    assert re.search(message, capsys.readouterr().err)
    assert [p.name for p in out.iterdir()] == ["t1_solve_time.md"] and (out / "t1_solve_time.md").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary folder left


def test_truncated_last_line_and_bad_benchmark_json(tmp_path: Path) -> None:
    lines = [json.dumps(r) for r in fixture_records()[:3]]
    cut = tmp_path / "cut.jsonl"
    cut.write_text(lines[0] + "\n" + lines[1] + "\n" + lines[2][:20])
    with pytest.raises(ResultsError, match=r"cut\.jsonl:3: not valid JSON .*--resume"):
        load_results([cut])
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps({"benchmarks": [{"name": "test_x", "extra_info": {}}]}))
    with pytest.raises(ResultsError, match=r"bench\.json: benchmarks\[0\] \(test_x\): extra_info holds no dnnsplit record"):
        load_results([bench])


def test_a_failing_table_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tables.tables()  # register the real ones first

    def broken(long: Any, ctx: Any) -> list[Path]:
        ctx.write_table("tx", long[["pair"]].head(1), "half-written")
        raise RuntimeError("boom")

    monkeypatch.setitem(tables._TABLES, "TX", TableSpec("TX", "broken", broken, 999))
    results = write_jsonl(tmp_path / "r.jsonl", fixture_records())
    out = tmp_path / "out"
    with pytest.raises(TablesError, match="table TX .*boom"):
        generate([results], out, only=["T1", "TX"])
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["r.jsonl"]


def _tiny_profile_instances(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for i, mbps in enumerate((1.0, 100.0)):
        d = line_instance_dict(bandwidth=mbps * 1.25e5)
        d["name"] = f"tiny-up{int(mbps)}"
        d["generator"] = {"model": "m", "params": {"uplink_mbps": mbps}}
        save(instance_from_dict(d), folder / f"tiny{i}.json")
    return folder


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("DNNSPLIT_PLUGINS", None)
    return env


def test_campaign_with_the_real_registry_gives_every_table(tmp_path: Path) -> None:
    inst = _tiny_profile_instances(tmp_path / "profiles")
    results = tmp_path / "c.jsonl"
    pairs = ["F1-weak/highspy", "F2/highspy", "F2/layered-dijkstra", "local-only/*", "best-remote/*", "two-way-split/*"]
    done = subprocess.run(
        [sys.executable, "-m", "dnnsplit.campaign", "--sets", str(inst), "--pairs", *pairs, "--out", str(results),
         "--time-limit", "30", "--quiet", "--preload", "registry"],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    out = tmp_path / "out"
    ctx = generate([results], out)
    names = {p.name for p in out.iterdir()}
    for stem in ("t1_solve_time", "t2_lp_gap", "t3_profiles"):
        assert {f"{stem}.md", f"{stem}.tex", f"{stem}.csv"} <= names
    assert {"f1_scaling.png", "f1_scaling.pdf", "f2_split.png", "f2_split.pdf"} <= names
    long = ctx.long
    assert set(long["status"]) <= {"optimal", "feasible"} and len(long) == 2 * 6
    t3, _ = profile_table(long)
    assert len(t3) == 2 and (t3["gain %"] >= -1e-9).all()  # the optimum is never worse than a simple split
    t1 = solve_time_table(long)
    assert (t1["solved"] == 2).all()


def test_pytest_benchmark_json_is_read_round_by_round(tmp_path: Path) -> None:
    inst = _tiny_profile_instances(tmp_path / "tiny")
    out_json = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "benchmarks", "--bench-sets", str(inst),
         "--bench-pairs", "F2/layered-dijkstra", "local-only/*", "--bench-rounds", "2", f"--benchmark-json={out_json}",
         "--benchmark-min-time=0"],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    long = load_results([out_json])
    assert len(long) == 2 * 2 * 2  # instances x pairs x rounds
    assert set(long["repeat"]) == {0, 1} and set(long["set"]) == {"tiny"}
    assert set(long["source"]) == {"pytest-benchmark"} and long["machine"].notna().all()
    t1 = solve_time_table(long)
    assert set(t1["pair"]) == {"F2/layered-dijkstra", "local-only/heuristic"} and (t1["solved"] == 2).all()


def test_t2_arc_milp_takes_its_splittable_sibling_as_lp_relaxation(tmp_path: Path) -> None:
    """An arc-form MILP record has no LP value: T2 uses the -lp variant's optimum on the same instance."""
    ms = "multi-small"
    records = [
        _multi("A", "F3-latency-lp/highspy", 0.1, 5, ms, objective=4.0, lp_integral=False),
        _multi("A", "F3-latency-milp/highspy", 1.0, 5, ms, objective=5.0),
        _multi("B", "F3-latency-lp/highspy", 0.1, 5, ms, objective=3.0, lp_integral=True),
        _multi("B", "F3-latency-milp/highspy", 1.0, 5, ms, objective=3.0),
        _multi("C", "F3-latency-milp/highspy", 1.0, 5, ms, objective=7.0),  # no sibling: no row for C
    ]
    for r in records:
        r.pop("lp_relaxation", None)
    for r in records[:1] + records[2:3]:
        r["lp_relaxation"] = r["objective"]
    frame = lp_gap_table(load_results([write_jsonl(tmp_path / "r.jsonl", records)]))
    row = frame[frame["formulation"] == "F3-latency-milp"].iloc[0]
    gaps = [(5.0 - 4.0) / 5.0, 0.0]  # instances A and B
    assert row["instances"] == 2
    assert row["mean gap %"] == pytest.approx(statistics.mean(gaps))
    assert row["max gap %"] == pytest.approx(max(gaps))
    assert row["LP integral"] == "1/2"


def test_t1_charges_runs_that_ended_their_measured_time_and_counts_statuses(tmp_path: Path) -> None:
    """A heuristic that ends without a solution, or an exact run that proves infeasibility,
    costs what it took; only a stopped run (time or memory limit) costs the limit."""
    records = [rec("X", "dina/capacity", 0.1, status="no_solution", kind="heuristic"),
               rec("Y", "dina/capacity", 0.3, status="feasible", kind="heuristic", objective=1.0),
               rec("Z", "dina/capacity", 0.2, status="infeasible", kind="heuristic"),  # an older record's word
               rec("X", "F1-weak/highspy", 0.5, status="infeasible"),
               rec("Y", "F1-weak/highspy", 11.0, status="memory_out"),
               rec("Z", "F1-weak/highspy", 0.7, status="error", message="boom")]
    long = load_results([write_jsonl(tmp_path / "r.jsonl", records)])
    t1 = solve_time_table(long).set_index(["set", "pair"])
    row = t1.loc[("small", "dina/capacity")]
    assert row["median solve (s)"] == pytest.approx(0.2)  # 0.1, 0.3, 0.2: never the 10 s limit
    assert row["solved"] == 1 and row["statuses"] == "1 feasible, 1 infeasible, 1 no solution"
    row = t1.loc[("small", "F1-weak/highspy")]
    # infeasible (a proof) is solved; the memory-out run costs the limit; the error its time
    assert row["solved"] == 1 and row["sgm10 solve (s)"] == pytest.approx(_sgm([0.5, 10.0, 0.7]))
    assert row["statuses"] == "1 infeasible, 1 memory limit, 1 error"


def test_t3_counts_every_layer_on_the_device_as_its_split_string_shows(tmp_path: Path) -> None:
    back = {"nodes": ["edge", "edge", "dev"], "tiers": ["edge", "edge", "device"], "source": "dev", "sink": "dev"}
    gen = {"model": "squeezenet1_0", "params": {"uplink_mbps": 1000.0}}
    r = rec("Q", "F2/layered-dijkstra", 0.001, objective=0.01, evaluated_objective=0.01, placement=back,
            set_name="profiles", instance_generator=gen)
    t3, _ = profile_table(load_results([write_jsonl(tmp_path / "r.jsonl", [r])]))
    line = t3.iloc[0]
    assert line["optimal split"] == "edge 1-2 -> device 3"
    assert line["layers on device"] == line["optimal split"].count("device") == 1


def test_caption_lists_each_solver_library_once() -> None:
    import pandas as pd

    from dnnsplit.tables._render import solver_families

    rows = pd.DataFrame({"solver": ["HiGHS", "HiGHS via Pyomo", "HiGHS (column generation)", "SCIP", "HiGHS"],
                         "solver_version": ["1.14.0", "pyomo 6.10.1", "1.14.0", "10.0.2", "1.14.0"]})
    assert solver_families(rows) == ["HiGHS 1.14.0", "SCIP 10.0.2"]


def test_tables_folder_never_mixes_runs_and_a_file_twice_counts_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = write_jsonl(tmp_path / "r.jsonl", fixture_records())
    out = tmp_path / "out"
    generate([results], out)
    (out / "README.md").write_text("mine")  # not an output: left alone
    assert (out / "t6_heuristic_gap.md").exists()
    assert _cli(str(results), str(results), "--out", str(out), "--only", "T1") == 0
    err = capsys.readouterr().err
    assert "removed" in err and "t6_heuristic_gap.md" in err and "counted once" in err
    names = {p.name for p in out.iterdir()}
    assert names == {"t1_solve_time.md", "t1_solve_time.tex", "t1_solve_time.csv", "index.md", "machine.md",
                     tables.MANIFEST, "README.md"}
    # the same file twice: the same repeats as once
    once = solve_time_table(load_results([results]))
    twice = solve_time_table(load_results([results, results]))
    assert once.equals(twice)


def test_tables_out_must_be_a_folder_and_defaults_under_results(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    tables.add_arguments(parser)
    assert parser.parse_args(["x.jsonl"]).out == "results/tables"
    results = write_jsonl(tmp_path / "r.jsonl", fixture_records())
    target = tmp_path / "taken.md"
    target.write_text("keep")
    assert _cli(str(results), "--out", str(target)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(target) in err and "not a folder" in err
    assert target.read_text() == "keep"
