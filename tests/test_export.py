"""``dnnsplit export``: the files, read back by HiGHS and SCIP, are the suite's model.

Independent checks: the optimum of the *file* (read by HiGHS's and SCIP's own readers) times
the model's scale equals the suite's optimum from another backend (the layered Dijkstra for the
single-job models, the Pyomo reference model for F3); the arrays read back from the MPS file are
bit-identical to the in-memory model; the names map covers every row and column, and its
symbols agree with the data (a y column's cost is the D^l of its pair, a C1 row touches only
computation arcs of its node, ...).
"""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from dnnsplit import catalogue, export
from dnnsplit.cli import main
from dnnsplit.options import SolverOptions
from dnnsplit.solvers import highs
from instances.generate import generate
from instances.io import save

OPTS = SolverOptions(time_limit=60)
REL = 1e-6


@pytest.fixture(scope="module")
def single():
    return generate("hierarchical", seed=3, nodes=7, layers=4, name="tiny-single")


@pytest.fixture(scope="module")
def multi():
    return generate("hierarchical", seed=5, nodes=8, layers=4, jobs=3, exits=2, deadline_factor=2.0,
                    accuracy_target_rel=0.9, rate_range=[0.5, 1.5], name="tiny-multi")


def _instance(name, single, multi):
    return single if name in export.SINGLE_FORMULATIONS else multi


def _write(tmp_path: Path, exp: export.Export, fmt: str) -> Path:
    path = tmp_path / f"model.{fmt}"
    export.write_model_files(exp, path)
    return path


def _names_csv(path: Path) -> list[dict[str, str]]:
    with open(path.with_name(path.name.split(".")[0] + ".names.csv"), newline="") as f:
        return list(csv.DictReader(f))


def _reference(formulation: str, inst) -> float:
    """The suite's optimum from a backend that builds no array model."""
    if formulation in export.SINGLE_FORMULATIONS:
        res = catalogue.run(catalogue.get("F2", "layered-dijkstra"), inst, OPTS)
    else:
        res = catalogue.run(catalogue.get(formulation, "pyomo-highs"), inst, OPTS)
    assert res.status.value == "optimal", (formulation, res.status, res.message)
    return res.objective


def _scip_optimum(path: Path) -> float:
    import pyscipopt

    m = pyscipopt.Model()
    m.hideOutput()
    m.setParam("limits/gap", 0.0)
    m.setParam("limits/absgap", 0.0)
    m.readProblem(str(path))
    m.optimize()
    assert m.getStatus() == "optimal", m.getStatus()
    return m.getObjVal()


@pytest.mark.parametrize("formulation", export.formulations())
def test_the_file_read_back_gives_the_suite_optimum(formulation, single, multi, tmp_path):
    inst = _instance(formulation, single, multi)
    exp = export.build_export(inst, formulation)
    want = _reference(formulation, inst)
    for fmt in ("mps", "lp"):
        path = _write(tmp_path, exp, fmt)
        model, _, _ = highs.read_model(str(path))
        run = highs.solve(model, OPTS, OPTS.clock())
        assert run.status.value == "optimal", (fmt, run.solver_status)
        assert math.isclose(run.objective * exp.scale, want, rel_tol=REL), (fmt, run.objective * exp.scale, want)
        got = _scip_optimum(path)
        assert math.isclose(got * exp.scale, want, rel_tol=REL), (fmt, "SCIP", got * exp.scale, want)


@pytest.mark.parametrize("formulation", ["F1-weak", "F2", "F3-latency-mem-milp", "F3-minmax-lp", "F3-exit-select-milp"])
def test_the_mps_file_is_the_model_bit_for_bit(formulation, single, multi, tmp_path):
    """Every cost, bound, coefficient and integrality flag survives the file exactly; the LP file
    holds the same model up to the readers' column order (matched by name)."""
    inst = _instance(formulation, single, multi)
    exp = export.build_export(inst, formulation)
    m = exp.model
    names = exp.cols.file_names()
    for fmt in ("mps", "lp"):
        path = _write(tmp_path, exp, fmt)
        got, cols, rows = highs.read_model(str(path))
        assert rows == exp.rows.file_names()
        order = [cols.index(n) for n in names] if fmt == "lp" else list(range(len(names)))
        assert (cols if fmt == "mps" else sorted(cols)) == (names if fmt == "mps" else sorted(names))
        np.testing.assert_array_equal(got.c[order], m.c)
        np.testing.assert_array_equal(got.col_lower[order], m.col_lower)
        np.testing.assert_array_equal(got.col_upper[order], m.col_upper)
        np.testing.assert_array_equal(got.row_lower, m.row_lower)
        np.testing.assert_array_equal(got.row_upper, m.row_upper)
        integer = np.zeros(m.num_cols, bool) if m.integer is None else m.integer
        got_int = np.zeros(m.num_cols, bool) if got.integer is None else got.integer[order]
        np.testing.assert_array_equal(got_int, integer)
        diff = abs(got.matrix()[:, order] - m.matrix())
        assert diff.nnz == 0 or diff.max() == 0.0


@pytest.mark.parametrize("formulation", export.formulations())
def test_the_names_map_covers_every_row_and_column(formulation, single, multi, tmp_path):
    inst = _instance(formulation, single, multi)
    exp = export.build_export(inst, formulation)
    path = _write(tmp_path, exp, "mps")
    lines = _names_csv(path)
    cols = [r for r in lines if r["kind"] == "col"]
    rows = [r for r in lines if r["kind"] == "row"]
    assert [int(r["index"]) for r in cols] == list(range(exp.model.num_cols))
    assert [int(r["index"]) for r in rows] == list(range(exp.model.num_rows))
    _, file_cols, file_rows = highs.read_model(str(path))
    assert [r["name"] for r in cols] == file_cols and [r["name"] for r in rows] == file_rows
    for kind in (cols, rows):
        assert len({r["symbol"] for r in kind}) == len(kind), "symbols are not unique"
        for r in kind:
            assert re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", r["name"]), r["name"]
            assert r["symbol"].startswith(r["block"]), r
    expected_blocks = {
        "F1-weak": {"x", "y", "A1", "A2", "A2'"}, "F1-aggregated": {"x", "y", "A1", "A3", "A4"}, "F2": {"f", "F2.1"},
    }.get(formulation, {"f", "y", "z", "t", "F3.1", "F3.2", "C1", "C2", "F3.3", "F3.4", "F3.5", "C3.z", "C3"})
    assert {r["block"] for r in lines} <= expected_blocks
    meta = json.loads(path.with_name("model.json").read_text())
    assert meta["instance_hash"] == inst.hash and meta["scale"] == exp.scale
    assert meta["columns"] == len(cols) and meta["rows"] == len(rows)


def _symbols(exp):
    return exp.cols.symbol, exp.rows.symbol


def test_f1_symbols_agree_with_the_data(single):
    """A y column's cost is D^l of its (stage, tail, head) pair; an x column's is tau of its layer
    on its node; every A1[l] row holds exactly the x columns of layer l."""
    from dnnsplit.graph.layered import job_data
    from dnnsplit.graph.shortest import TransferTables

    exp = export.build_export(single, "F1-weak")
    net = single.network
    _, _, L, sizes, tau = job_data(single, 0)
    tables = TransferTables(net, origins=np.arange(net.num_nodes))
    cols, rows = _symbols(exp)
    A = exp.model.matrix().tocsr()
    checked = 0
    for j, sym in enumerate(cols):
        if m := re.fullmatch(r"y\[l=(\d+),i=(.+),k=(.+)\]", sym):
            l, i, k = int(m[1]), net.index(m[2]), net.index(m[3])
            d = float(tables.dist(sizes[l], [i], [k])[0, 0])
            assert math.isclose(exp.model.c[j] * exp.scale, d, rel_tol=1e-12), sym
            checked += 1
        elif m := re.fullmatch(r"x\[l=(\d+),n=(.+)\]", sym):
            assert math.isclose(exp.model.c[j] * exp.scale, tau[int(m[1]) - 1, net.index(m[2])], rel_tol=1e-12), sym
    assert checked > 0
    for i, sym in enumerate(rows):
        if m := re.fullmatch(r"A1\[l=(\d+)\]", sym):
            members = {cols[j] for j in A.indices[A.indptr[i]:A.indptr[i + 1]]}
            assert members == {f"x[l={m[1]},n={net.node_names[n]}]" for n in net.compute_nodes}
    agg = export.build_export(single, "F1-aggregated")
    cols, rows = _symbols(agg)
    A = agg.model.matrix().tocsr()
    for i, sym in enumerate(rows):
        members = {cols[j] for j in A.indices[A.indptr[i]:A.indptr[i + 1]]}
        if m := re.fullmatch(r"A3\[l=(\d+),i=(.+)\]", sym):  # sum_k y_{l,i,k} = x_{l,i}
            l, n = int(m[1]), m[2]
            want = {c for c in cols if c.startswith(f"y[l={l},i={n},k=")} | ({f"x[l={l},n={n}]"} if l >= 1 else set())
            assert members == want, sym
        elif m := re.fullmatch(r"A4\[l=(\d+),k=(.+)\]", sym):  # sum_i y_{l,i,k} = x_{l+1,k}
            l, n = int(m[1]), m[2]
            want = {c for c in cols if re.fullmatch(rf"y\[l={l},i=.+,k={re.escape(n)}\]", c)}
            want |= {f"x[l={l + 1},n={n}]"} if l < L else set()
            assert members == want, sym


def test_f2_symbols_agree_with_the_data(single):
    """f[arc=(i,l)->(k,l)] costs o_l / b + delta of that link; F2.1[v] rows hold the arcs at v."""
    exp = export.build_export(single, "F2")
    net = single.network
    sizes = single.model_of(0).tensor_sizes
    cols, rows = _symbols(exp)
    A = exp.model.matrix().tocsr()
    for j, sym in enumerate(cols):
        m = re.fullmatch(r"f\[arc=\((.+),(\d+)\)->\((.+),(\d+)\)\]", sym)
        assert m, sym
        i, li, k, lk = net.index(m[1]), int(m[2]), net.index(m[3]), int(m[4])
        if li == lk:
            a = [a for a in range(net.num_links) if net.link_source[a] == i and net.link_target[a] == k]
            assert len(a) == 1
            want = sizes[li] / net.bandwidth[a[0]] + net.delay[a[0]]
            assert math.isclose(exp.model.c[j] * exp.scale, want, rel_tol=1e-12), sym
        else:
            assert i == k and lk == li + 1
    for r, sym in enumerate(rows):
        v = re.fullmatch(r"F2\.1\[v=(\(.+\))\]", sym)[1]
        for j in A.indices[A.indptr[r]:A.indptr[r + 1]]:
            assert f"({v[1:-1]})" in cols[j], (sym, cols[j])


def test_f3_symbols_agree_with_the_structure(multi):
    """C1[node=n] rows touch only computation arcs on n; C2[link=a->b] rows only arcs of that
    link (or computation arcs whose exit result crosses it); F3.1 rows only their job and
    configuration's arcs at their vertex, and its y; F3.5 rows one job's arcs and t."""
    for formulation in ("F3-minmax-milp", "F3-exit-select-lp", "F3-latency-mem-lp"):
        exp = export.build_export(multi, formulation)
        cols, rows = _symbols(exp)
        A = exp.model.matrix().tocsr()
        seen = set()
        for r, sym in enumerate(rows):
            members = [cols[j] for j in A.indices[A.indptr[r]:A.indptr[r + 1]]]
            block = exp.rows.block[r]
            seen.add(block)
            if m := re.fullmatch(r"C1\[node=(.+)\]", sym):
                assert all(re.search(rf"arc=\({re.escape(m[1])},\d+\)->\({re.escape(m[1])},\d+\)", c) for c in members)
            elif m := re.fullmatch(r"C2\[link=(.+)->(.+)\]", sym):
                a, b = map(re.escape, (m[1], m[2]))
                assert all(re.search(rf"arc=\({a},(\d+)\)->\({b},\1\)", c) or re.search(r"arc=\((.+),\d+\)->\(\1,\d+\)", c)
                           for c in members), (sym, members)
            elif m := re.fullmatch(r"F3\.1\[job=(\d+),c=(.+),v=\((.+),(\d+)\)\]", sym):
                prefix = f"job={m[1]},c={m[2]}"
                for c in members:
                    assert c == f"y[{prefix}]" or (prefix in c and f"({m[3]},{m[4]})" in c), (sym, c)
            elif m := re.fullmatch(r"F3\.5\[job=(\d+)\]", sym):
                assert all(c == "t" or c.startswith(f"f[job={m[1]},") for c in members)
            elif m := re.fullmatch(r"C3\.z\[job=(\d+),l=(\d+),n=(.+)\]", sym):
                assert any(c.startswith("z[") for c in members)
        assert {"F3.1", "F3.2", "C1", "C2"} <= seen


def test_known_values_follow_the_miplib_rules():
    rec = lambda f, status, obj=None, bound=None: dict(instance_hash="h", formulation=f, status=status,  # noqa: E731
                                                        objective=obj, bound=bound)
    k = export.known_value([rec("F2", "optimal", 2.0), rec("F1-weak", "time_limit", 2.5, 1.0)], "h", "F1-weak")
    assert (k.tag, k.value) == ("=opt=", 2.0)  # F2's optimum vouches for F1's model
    assert export.solu_lines("m", k, 0.5) == ["=opt= m 4.0"]
    k = export.known_value([rec("F3-latency-milp", "time_limit", 3.0, 2.0), rec("F3-latency-milp", "feasible", 2.8, 1.5)],
                           "h", "F3-latency-milp")
    assert (k.tag, k.value, k.bound) == ("=best=", 2.8, 2.0)
    assert export.solu_lines("m", k, 2.0) == ["=best= m 1.4", "=bestdual= m 1.0"]
    k = export.known_value([rec("F3-latency-milp", "infeasible")], "h", "F3-latency-milp")
    assert export.solu_lines("m", k, 1.0) == ["=inf= m"]
    k = export.known_value([rec("F3-latency-lp", "optimal", 1.0)], "h", "F3-latency-milp")  # another model's optimum
    assert k.tag is None and export.solu_lines("m", k, 1.0) == []
    k = export.known_value([rec("F3-minmax-milp", "optimal", 1.0), rec("F3-minmax-milp", "infeasible")], "h",
                           "F3-minmax-milp")
    assert k.tag is None and "disagree" in k.note


def test_library_solu_matches_the_files(tmp_path):
    """A library of the small set's F2 models with a campaign of two solved instances: the .solu
    lists their optima in model units, and each listed file's optimum is that value."""
    from instances.defaults import default_set

    insts = default_set("small")[:2]
    campaign = tmp_path / "campaign.jsonl"
    with open(campaign, "w") as f:
        for inst in insts:
            res = catalogue.run(catalogue.get("F2", "layered-dijkstra"), inst, OPTS)
            f.write(json.dumps({**res.to_dict(), "key": f"{inst.hash}|F2/layered-dijkstra"}) + "\n")
    out = tmp_path / "lib"
    stale = tmp_path / ".lib.partial-4194304"  # beyond Linux's largest pid: a killed export's leftovers
    stale.mkdir()
    (stale / "half.mps").write_text("NAME half\n")
    counts = export.write_library("small", out, patterns=["F2"], campaign=campaign)
    assert counts["models"] == len(default_set("small")) and counts["opt"] == 2
    solu = (out / "small.solu").read_text().splitlines()
    assert len(solu) == 2
    with open(out / "index.csv", newline="") as f:
        index = {r["model"]: r for r in csv.DictReader(f)}
    for line in solu:
        tag, name, value = line.split()
        assert tag == "=opt="
        model, _, _ = highs.read_model(str(out / index[name]["file"]))
        run = highs.solve(model, OPTS, OPTS.clock())
        assert math.isclose(run.objective, float(value), rel_tol=REL)
        assert math.isclose(float(value) * float(index[name]["scale"]), float(index[name]["campaign_value"]), rel_tol=1e-12)
    assert not list(tmp_path.glob(".lib.partial-*")), "a partial folder is left"
    # a second export into the non-empty folder is refused, the library stays
    assert main(["export", "--default-set", "small", "--out", str(out), "-f", "F2", "--campaign", str(campaign)]) == 2
    assert (out / "small.solu").read_text().splitlines() == solu


def test_library_of_the_committed_campaign(tmp_path):
    """The small set's F2 library with the committed campaign's values: every =opt= value is the
    optimum of its file, read back by HiGHS (the campaign's solvers against the exported model)."""
    if not export.CAMPAIGN.is_file():
        pytest.skip(f"no committed campaign at {export.CAMPAIGN}")
    out = tmp_path / "lib"
    export.write_library("small", out, patterns=["F2"])
    with open(out / "index.csv", newline="") as f:
        index = {r["model"]: r for r in csv.DictReader(f)}
    solu = [line.split() for line in (out / "small.solu").read_text().splitlines()]
    if not solu:
        pytest.skip("the committed campaign has no record of the small set")
    for tag, name, *value in solu:
        assert tag == "=opt=" and index[name]["campaign_tag"] == "=opt=", (tag, name)
        model, _, _ = highs.read_model(str(out / index[name]["file"]))
        run = highs.solve(model, OPTS, OPTS.clock())
        assert math.isclose(run.objective, float(value[0]), rel_tol=REL), (name, run.objective, value)


def test_cli_writes_and_refuses(single, multi, tmp_path, capsys):
    s, m = tmp_path / "s.json", tmp_path / "m.json"
    save(single, s)
    save(multi, m)
    out = tmp_path / "model.lp.gz"
    assert main(["export", str(s), "-f", "F1-aggregated", "-o", str(out), "--campaign", "none"]) == 0
    assert out.is_file() and (tmp_path / "model.names.csv.gz").is_file() and (tmp_path / "model.json").is_file()
    _, cols, _ = highs.read_model(str(out))
    assert math.isclose(_scip_optimum(out) * json.loads((tmp_path / "model.json").read_text())["scale"],
                        _reference("F1-aggregated", single), rel_tol=REL)
    import gzip
    with gzip.open(tmp_path / "model.names.csv.gz", "rt", newline="") as f:
        assert sorted(r["name"] for r in csv.DictReader(f) if r["kind"] == "col") == sorted(cols)  # LP: reader's order
    assert main(["export", str(m), "-f", "F2", "--job", "1", "-o", str(tmp_path / "j1.mps"), "--campaign", "none"]) == 0
    meta = json.loads((tmp_path / "j1.json").read_text())
    assert meta["job"] == 1 and meta["job_of"]["instance_hash"] == multi.hash
    folder = tmp_path / "d.mps"
    folder.mkdir()
    (tmp_path / "file.txt").write_text("not a folder\n")
    llm = tmp_path / "llm.json"
    assert main(["generate", "llm-cluster", "--seed", "2", "--nodes", "4", "-p", "layout=edge", "-o", str(llm)]) == 0
    capsys.readouterr()
    for args, words in (
        ([str(m), "-f", "F2", "-o", str(tmp_path / "x.mps")], "single-job model"),
        ([str(s), "-f", "greedy", "-o", str(tmp_path / "x.mps")], "has no model that export writes"),
        ([str(s), "-f", "F9-weak", "-o", str(tmp_path / "x.mps")], "not a formulation of the suite"),
        ([str(s), "-f", "F2", "-o", str(folder)], f"{folder}: is a folder"),
        ([str(llm), "-f", "F2", "-o", str(tmp_path / "x.mps")], "LLM pipeline-placement instance"),
        (["--default-set", "small", "-o", str(tmp_path / "file.txt")], "is a file, expected a folder"),
        ([str(s), "-f", "F2", "-o", str(tmp_path / "x.txt")], "ending in .mps"),
        ([str(s), "-f", "F2", "-o", str(tmp_path / "nowhere" / "x.mps")], "no such folder"),
        (["--default-set", "nope", "-o", str(tmp_path / "lib")], "unknown default set"),
    ):
        assert main(["export", *args, "--campaign", "none"]) == 2, args
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and words in err and "Traceback" not in err, err
    assert not list(tmp_path.glob(".*tmp-*")) and not (tmp_path / "x.mps").exists()
    assert not any(folder.iterdir()) and (tmp_path / "file.txt").read_text() == "not a folder\n"


def test_a_terminated_library_export_leaves_nothing(tmp_path):
    """SIGTERM in the middle of a library export (after its first model): exit 143, one line,
    no partial folder and no library folder."""
    import os
    import signal
    import subprocess
    import sys

    out = tmp_path / "lib"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "dnnsplit.cli", "export", "--default-set", "medium", "--out",
                             str(out), "--campaign", "none"], stderr=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env=env, cwd=Path(__file__).resolve().parent.parent)
    seen = []
    for line in proc.stderr:  # the progress lines: one per model written into the partial folder
        seen.append(line)
        if line.lstrip().startswith("1 "):
            assert list(tmp_path.glob(".lib.partial-*")), "the models are written into a partial folder"
            proc.send_signal(signal.SIGTERM)
            break
    rest = proc.stderr.read()
    rc = proc.wait(timeout=120)
    assert rc == 143, (rc, seen, rest)
    lines = rest.strip().splitlines()  # progress lines of models written before the signal landed, then one line
    assert lines[-1] == "dnnsplit export: terminated (SIGTERM); partial files removed", rest
    assert all(re.match(r"\s*\d+ ", ln) for ln in lines[:-1]), rest
    assert not out.exists() and not list(tmp_path.iterdir())


def test_writers_handle_ranges_bounds_integers_and_an_offset(tmp_path):
    """A model with every row and bound kind (none of the suite's has them all): both files read
    back by HiGHS and SCIP give the optimum of the in-memory model; the MPS one bit for bit."""
    import scipy.sparse as sp

    from dnnsplit.solvers.model import SparseModel

    A = sp.csc_array(np.array([[1.0, 1.0, 0.0, 1.0, 0.0, 0.0],    # ranged: 1 <= . <= 3.5
                               [1.0, 0.0, 1.0, 0.0, 1.0, 0.0],    # <= 7
                               [0.0, 1.0, -1.0, 0.0, 0.0, 1.0],   # >= -2.25
                               [0.0, 0.0, 1.0, 1.0, 1.0, 1.0]]))  # = 4
    model = SparseModel(
        c=np.array([1.0, -2.0, 0.5, 0.0, 3.0, -1.0]), A=A,
        row_lower=np.array([1.0, -np.inf, -2.25, 4.0]), row_upper=np.array([3.5, 7.0, np.inf, 4.0]),
        col_lower=np.array([0.0, -np.inf, -1.5, 0.0, 2.0, 0.0]), col_upper=np.array([1.0, np.inf, 5.0, 3.0, 2.0, np.inf]),
        integer=np.array([True, False, True, False, False, True]), offset=7.25)
    want = highs.solve(model, OPTS, OPTS.clock())
    assert want.status.value == "optimal"
    cols, rows = [f"c_{k}" for k in range(6)], [f"r_{k}" for k in range(4)]
    for fmt, writer in (("mps", export.write_mps), ("lp", export.write_lp)):
        path = tmp_path / f"m.{fmt}"
        with open(path, "w") as f:
            writer(f, model, cols, rows)
        got, got_cols, _ = highs.read_model(str(path))
        assert got.offset == model.offset
        run = highs.solve(got, OPTS, OPTS.clock())
        assert math.isclose(run.objective, want.objective, rel_tol=1e-12), fmt
        assert math.isclose(_scip_optimum(path), want.objective, rel_tol=1e-9), fmt
        if fmt == "mps":
            assert got_cols == cols
            for name in ("c", "row_lower", "row_upper", "col_lower", "col_upper", "integer"):
                np.testing.assert_array_equal(getattr(got, name), getattr(model, name))
            assert abs(got.matrix() - model.matrix()).max() == 0.0
