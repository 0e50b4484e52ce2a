"""The campaign runner: kill and resume, misbehaving solvers, the results file, the CLI.

Campaigns run as subprocesses (``python -m dnnsplit.campaign``) with the test-only backends
of ``tests/misbehaving_backends.py`` (DNNSPLIT_PLUGINS), on tiny hand-built instances.
Nothing here asserts timing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dnnsplit.campaign import cli as campaign
from dnnsplit.campaign import CampaignError, Settings, classify_exit, parse_memory, read_existing, tail_lines, task_key
from helpers import line_instance_dict
from instances.io import instance_from_dict, save

ROOT = Path(__file__).resolve().parent.parent


def _instances(folder: Path, n: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        d = line_instance_dict(bandwidth=1e5 * 10**i)
        d["name"] = f"line{i}"
        save(instance_from_dict(d), folder / f"line{i}.json")
    return folder


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["DNNSPLIT_PLUGINS"] = "tests.misbehaving_backends"
    return env


def _cmd(inst: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "dnnsplit.campaign", "--sets", str(inst), "--out", str(out), "--quiet", *extra]


def _run(inst: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(_cmd(inst, out, *extra), cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120)


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


SLEEP_ARGS = ("--pairs", "test-sleep/short", "--repeat", "2", "--time-limit", "10", "--warmup", "none", "--preload", "registry")


def _planned_keys(inst: Path, out: Path) -> list[str]:
    plan = _run(inst, out, *SLEEP_ARGS, "--dry-run")
    assert plan.returncode == 0, plan.stderr
    return [line.split()[0] for line in plan.stdout.splitlines()]


def test_sigkill_then_resume_gives_the_same_records(tmp_path: Path) -> None:
    """An uninterrupted run records every planned task once (test-sleep always succeeds, so no
    repeat is skipped): the planned keys are the reference."""
    inst = _instances(tmp_path / "inst", 4)
    out = tmp_path / "run.jsonl"
    planned = _planned_keys(inst, out)
    assert len(planned) == 8 and len(set(planned)) == 8 and not out.exists()

    # kill the campaign process (SIGKILL) while it runs, after a few records
    proc = subprocess.Popen(_cmd(inst, out, *SLEEP_ARGS), cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if out.exists() and out.read_text().count("\n") >= 3:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    partial = _records(out)
    assert 3 <= len(partial) < 8
    again = _run(inst, out, *SLEEP_ARGS, "--resume")
    assert again.returncode == 0, again.stderr
    full = out.read_text()
    keys = [r["key"] for r in _records(out)]
    assert len(keys) == len(set(keys)), "duplicated records after resume"
    assert set(keys) == set(planned)
    assert keys[: len(partial)] == [r["key"] for r in partial]  # nothing rewritten

    # a last line cut short by a kill mid-write: dropped, reported, its task run again
    lines = full.splitlines(keepends=True)
    trunc = tmp_path / "trunc.jsonl"
    trunc.write_text("".join(lines[:5]) + lines[5][: len(lines[5]) // 2])
    fixed = _run(inst, trunc, *SLEEP_ARGS, "--resume")
    assert fixed.returncode == 0, fixed.stderr
    assert "truncated last line" in fixed.stderr and "trunc.jsonl:6" in fixed.stderr
    keys = [r["key"] for r in _records(trunc)]
    assert len(keys) == len(set(keys)) and set(keys) == set(planned)
    assert trunc.read_text().startswith("".join(lines[:5]))


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in state


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc (Linux)")
def test_killed_campaign_leaves_no_orphan_solve(tmp_path: Path) -> None:
    inst = _instances(tmp_path / "inst", 1)
    pid_file = tmp_path / "pid"
    env = {**_env(), "DNNSPLIT_TEST_PID_FILE": str(pid_file)}
    cmd = _cmd(inst, tmp_path / "o.jsonl", "--pairs", "test-bad/hang", "--time-limit", "100", "--warmup", "none", "--preload", "registry")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    child = int(pid_file.read_text())
    assert _alive(child)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    deadline = time.monotonic() + 20
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = _alive(child)
    if alive:
        os.kill(child, signal.SIGKILL)
    assert not alive, "the hanging solve outlived the killed campaign"


def test_misbehaving_solvers_are_recorded_and_the_campaign_goes_on(tmp_path: Path) -> None:
    inst = _instances(tmp_path / "inst", 1)
    out = tmp_path / "bad.jsonl"
    done = _run(inst, out, "--pairs", "test-bad/*", "test-sleep/short", "--time-limit", "1", "--grace", "0.5",
                "--memory-limit", "256M", "--warmup", "none", "--preload", "registry")
    assert done.returncode == 0, done.stderr
    recs = {r["pair"]: r for r in _records(out)}
    assert list(recs) == sorted(recs)  # task order: test-bad/* first, the sound pair last
    status = {p: r["status"] for p, r in recs.items()}
    assert status == {
        "test-bad/abort": "error",
        "test-bad/badalloc": "memory_out",
        "test-bad/exit": "error",
        "test-bad/hang": "time_limit",
        "test-bad/oom": "memory_out",
        "test-bad/segfault": "error",
        "test-sleep/short": "feasible",
    }
    assert "SIGABRT" in recs["test-bad/abort"]["message"]
    assert "code 7" in recs["test-bad/exit"]["message"]
    assert "SIGSEGV" in recs["test-bad/segfault"]["message"] and "_segfault" in recs["test-bad/segfault"]["message"]
    assert "time limit 1 s" in recs["test-bad/hang"]["message"]
    assert "MemoryError" in recs["test-bad/oom"]["message"]
    sound = recs["test-sleep/short"]
    assert sound["evaluated_objective"] == pytest.approx(sound["objective"])
    assert sound["placement"]["tiers"] == ["device"] * 3
    for r in recs.values():
        assert r["campaign"]["memory_limit"] == 256 * 2**20 and r["machine"]["python"]


def test_warmup_failures_are_recorded_too(tmp_path: Path) -> None:
    inst = _instances(tmp_path / "inst", 1)
    out = tmp_path / "warm.jsonl"
    done = _run(inst, out, "--pairs", "test-bad/hang", "test-bad/abort", "test-sleep/short", "--time-limit", "1", "--grace", "0.5",
                "--preload", "registry")
    assert done.returncode == 0, done.stderr
    recs = {r["pair"]: r for r in _records(out)}
    assert recs["test-bad/hang"]["status"] == "time_limit" and "warm-up" in recs["test-bad/hang"]["message"]
    assert recs["test-bad/abort"]["status"] == "error" and "before the solve" in recs["test-bad/abort"]["message"]
    assert recs["test-sleep/short"]["status"] == "feasible" and recs["test-sleep/short"]["warmup_status"] == "feasible"


def test_existing_results_file_needs_resume_or_overwrite(tmp_path: Path) -> None:
    inst = _instances(tmp_path / "inst", 1)
    out = tmp_path / "c.jsonl"
    out.write_text('{"key": "x"}\n')
    code = campaign.main(["--sets", str(inst), "--pairs", "local-only/*", "--out", str(out), "--quiet"])
    assert code == 2
    assert out.read_text() == '{"key": "x"}\n'


def test_unknown_pair_pattern_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inst = _instances(tmp_path / "inst", 1)
    code = campaign.main(["--sets", str(inst), "--pairs", "no-such-formulation/*", "--dry-run"])
    assert code == 2
    assert "no-such-formulation/*" in capsys.readouterr().err


def test_read_existing_repairs_only_the_last_line(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    good = [json.dumps({"key": f"k{i}", "status": "optimal"}) for i in range(3)]
    path.write_text(good[0] + "\n" + good[1] + "\n" + good[2][:10])
    recs = read_existing(path, repair=True)
    assert [r["key"] for r in recs] == ["k0", "k1"]
    assert path.read_text() == good[0] + "\n" + good[1] + "\n"
    # a complete record that lost only its newline is kept
    path.write_text(good[0] + "\n" + good[1])
    assert [r["key"] for r in read_existing(path, repair=True)] == ["k0", "k1"]
    assert path.read_text().endswith("\n")
    # damage before the last line is an error naming the line
    path.write_text(good[0] + "\n{oops\n" + good[2] + "\n")
    with pytest.raises(CampaignError, match=r"r\.jsonl:2: not valid JSON"):
        read_existing(path, repair=True)
    path.write_text(good[0] + "\n[1, 2]\n")
    with pytest.raises(CampaignError, match=r"r\.jsonl:2: not a campaign record"):
        read_existing(path, repair=True)


def test_task_keys_are_unique_and_stable() -> None:
    s = Settings(time_limit=60)
    a = task_key("h1", "F2/highspy", 0, s)
    assert a == task_key("h1", "F2/highspy", 0, Settings(time_limit=60, grace=1, warmup="none"))  # method only
    others = {
        task_key("h2", "F2/highspy", 0, s),
        task_key("h1", "F2/scipy-dijkstra", 0, s),
        task_key("h1", "F2/highspy", 1, s),
        task_key("h1", "F2/highspy", 0, Settings(time_limit=30)),
        task_key("h1", "F2/highspy", 0, Settings(time_limit=60, memory_limit=2**30)),
        task_key("h1", "F2/highspy", 0, Settings(time_limit=60, seed=3)),
    }
    assert a not in others and len(others) == 6


def test_parse_memory() -> None:
    assert parse_memory("4G") == 4 * 2**30
    assert parse_memory("512M") == 512 * 2**20
    assert parse_memory("1.5GiB") == int(1.5 * 2**30)
    assert parse_memory("1000") == 1000
    assert parse_memory(None) is None and parse_memory("none") is None
    with pytest.raises(CampaignError):
        parse_memory("lots")


def test_classify_exit() -> None:
    assert classify_exit(-signal.SIGKILL, False, "")[0] == "memory_out"
    assert classify_exit(-signal.SIGSEGV, False, "")[0] == "error"
    assert classify_exit(-signal.SIGABRT, False, "what():  std::bad_alloc")[0] == "memory_out"
    status, message = classify_exit(3, False, "line a\nTraceback\nValueError: boom\n")
    assert status == "error" and "code 3" in message and "ValueError: boom" in message
    dump = "before\nFatal Python error: Segmentation fault\n\nCurrent thread 0x1:\n  File \"x.py\", line 3 in f\n  File \"y.py\", line 9 in g\n\nExtension modules: numpy (total: 1)\n"
    assert tail_lines(dump) == 'before | Fatal Python error: Segmentation fault | File "x.py", line 3 in f | File "y.py", line 9 in g'
