"""The command line as a new user meets it (issue 12): refusals instead of partial answers,
one-line errors instead of tracebacks, and the conventions researchers expect."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from bruteforce import brute_force, layered_networkx
from helpers import line_instance_dict

from dnnsplit.cli import main
from instances.generate import generate
from instances.io import instance_from_dict, load, save

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dnnsplit.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          input=stdin, timeout=300)


@pytest.fixture()
def multi(tmp_path: Path) -> Path:
    path = tmp_path / "multi.json"
    save(generate("waxman", seed=3, nodes=12, jobs=4), path)
    return path


def test_single_job_pair_on_a_multi_job_instance_is_refused(multi, capsys):
    assert main(["solve", str(multi), "--formulation", "F2", "--backend", "highspy"]) == 2
    err = capsys.readouterr().err
    assert "4 jobs" in err and "--job" in err and err.count("\n") == 1


def test_job_option_solves_that_job_alone(multi, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["solve", str(multi), "-f", "F2", "-b", "highspy", "--job", "2", "--out", str(out)]) == 0
    record = json.loads(out.read_text())
    inst = load(multi).only_job(2)
    assert record["status"] == "optimal"
    assert record["objective"] == pytest.approx(layered_networkx(inst), rel=1e-9)
    route = record["decision"][0]["routes"][0]
    names = inst.network.node_names
    assert route["placement_names"] == [names[n] for n in route["placement"]]
    assert all("->" in link for path in route["path_names"] for link in path)
    assert main(["solve", str(multi), "-f", "F2", "-b", "highspy", "--job", "9"]) == 2
    assert main(["solve", str(multi), "-f", "F3-latency-lp", "-b", "highspy", "--job", "0"]) == 2


def test_solve_reads_standard_input_and_names_units():
    text = json.dumps(line_instance_dict())
    proc = run("solve", "-", "-f", "F2", "-b", "layered-dijkstra", stdin=text)
    assert proc.returncode == 0, proc.stderr
    assert "optimal" in proc.stdout and " s " in proc.stdout and "evaluator" in proc.stdout
    opt = brute_force(instance_from_dict(line_instance_dict()))[0]
    assert f"{opt:.9g}" in proc.stdout


def test_show_prints_speeds_powers_and_memory(tmp_path):
    path = tmp_path / "line.json"
    save(instance_from_dict(line_instance_dict()), path)
    proc = run("show", str(path))
    assert proc.returncode == 0, proc.stderr
    for unit in ("GFLOP/s", "power", "memory", "Mbit/s", "ms"):
        assert unit in proc.stdout, unit


def test_version_list_header_and_help():
    from dnnsplit import __version__

    assert run("--version").stdout.strip() == f"dnnsplit {__version__}"
    listing = run("solve", "--list").stdout.splitlines()
    assert listing[0].split()[:4] == ["formulation", "backend", "problem", "kind"]
    for command in ("solve", "validate", "show"):
        help_text = run(command, "--help").stdout
        assert "standard input" in help_text, command
    assert "--out OUT, -o OUT" in run("solve", "--help").stdout


def test_output_to_a_folder_is_one_line_and_leaves_nothing(tmp_path):
    proc = run("generate", "waxman", "--seed", "3", "-o", str(tmp_path))
    assert proc.returncode == 2 and "is a folder" in proc.stderr and "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []  # no stray .tmp
    afile = tmp_path / "afile"
    afile.write_text("x")
    proc = run("generate", "--default-set", "small", "--out", str(afile))
    assert proc.returncode == 2 and "is a file" in proc.stderr and "Traceback" not in proc.stderr
    assert afile.read_text() == "x"
    proc = run("solve", str(afile), "-f", "F2", "-b", "highspy")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_sizes_beyond_the_generator_limits_are_refused():
    proc = run("generate", "erdos_renyi", "--nodes", "300000")
    assert proc.returncode == 2 and "limit" in proc.stderr and "Traceback" not in proc.stderr


def test_large_erdos_renyi_uses_the_linear_sampler():
    inst = generate("erdos_renyi", seed=1, nodes=6000, layers=1)
    assert inst.generator["topology"]["sampler"] == "fast_gnp"
    small = generate("erdos_renyi", seed=1, nodes=50, layers=1)  # the default sets' sampler, unchanged
    assert "sampler" not in small.generator["topology"]


def test_memory_limit_ends_with_memory_out(tmp_path):
    path = tmp_path / "h.json"
    save(generate("hierarchical", seed=1, nodes=40, layers=30), path)
    proc = run("solve", str(path), "-f", "F1-weak", "-b", "highspy", "--memory-limit", "20M", "--json")
    record = json.loads(proc.stdout)
    assert record["status"] == "memory_out", record["message"]
    proc = run("solve", str(path), "-f", "F2", "-b", "layered-dijkstra", "--memory-limit", "2G", "--json")
    assert json.loads(proc.stdout)["status"] == "optimal"
