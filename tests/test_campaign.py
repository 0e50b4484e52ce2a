"""The campaign runner: kill and resume, misbehaving solvers, the results file, the CLI.

Campaigns run as subprocesses (``python -m dnnsplit.campaign``) with the test-only backends
of ``tests/misbehaving_backends.py`` (DNNSPLIT_PLUGINS), on tiny hand-built instances.
Nothing here asserts timing.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dnnsplit.campaign import cli as campaign
from dnnsplit.campaign import CampaignError, Settings, classify_exit, parse_memory, read_existing, tail_lines, task_key
from _campaign_helpers import (MISBEHAVING_ARGS, MISBEHAVING_STATUS, ROOT, SLEEP_ARGS, alive, campaign_cmd,
                               campaign_env, lines_in, make_instances, planned_keys, records, run_campaign_cmd,
                               start_campaign, wait_for)


def test_sigkill_then_resume_gives_the_same_records(tmp_path: Path) -> None:
    """An uninterrupted run records every planned task once (test-sleep always succeeds, so no
    repeat is skipped): the planned keys are the reference."""
    inst = make_instances(tmp_path / "inst", 4)
    out = tmp_path / "run.jsonl"
    planned = planned_keys(inst, out, *SLEEP_ARGS)
    assert len(planned) == 8 and len(set(planned)) == 8 and not out.exists()

    # kill the campaign process (SIGKILL) while it runs, after a few records
    proc = subprocess.Popen(campaign_cmd(inst, out, *SLEEP_ARGS), cwd=ROOT, env=campaign_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lines_in(out, 3), seconds=150, what="3 records")
    finally:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    partial = records(out)
    assert 3 <= len(partial) < 8
    again = run_campaign_cmd(inst, out, *SLEEP_ARGS, "--resume")
    assert again.returncode == 0, again.stderr
    full = out.read_text()
    keys = [r["key"] for r in records(out)]
    assert len(keys) == len(set(keys)), "duplicated records after resume"
    assert set(keys) == set(planned)
    assert keys[: len(partial)] == [r["key"] for r in partial]  # nothing rewritten

    # a last line cut short by a kill mid-write: dropped, reported, its task run again
    lines = full.splitlines(keepends=True)
    trunc = tmp_path / "trunc.jsonl"
    trunc.write_text("".join(lines[:5]) + lines[5][: len(lines[5]) // 2])
    fixed = run_campaign_cmd(inst, trunc, *SLEEP_ARGS, "--resume")
    assert fixed.returncode == 0, fixed.stderr
    assert "truncated last line" in fixed.stderr and "trunc.jsonl:6" in fixed.stderr
    keys = [r["key"] for r in records(trunc)]
    assert len(keys) == len(set(keys)) and set(keys) == set(planned)
    assert trunc.read_text().startswith("".join(lines[:5]))



@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc (Linux)")
def test_killed_campaign_leaves_no_orphan_solve(tmp_path: Path) -> None:
    inst = make_instances(tmp_path / "inst", 1)
    pid_file = tmp_path / "pid"
    env = {**campaign_env(), "DNNSPLIT_TEST_PID_FILE": str(pid_file)}
    cmd = campaign_cmd(inst, tmp_path / "o.jsonl", "--pairs", "test-bad/hang", "--time-limit", "100", "--warmup", "none", "--preload", "registry")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    child = int(pid_file.read_text())
    assert alive(child)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    deadline = time.monotonic() + 20
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    outlived = alive(child)
    if outlived:
        os.kill(child, signal.SIGKILL)
    assert not outlived, "the hanging solve outlived the killed campaign"


def test_misbehaving_solvers_are_recorded_and_the_campaign_goes_on(tmp_path: Path) -> None:
    inst = make_instances(tmp_path / "inst", 1)
    out = tmp_path / "bad.jsonl"
    done = run_campaign_cmd(inst, out, *MISBEHAVING_ARGS)
    assert done.returncode == 0, done.stderr
    recs = {r["pair"]: r for r in records(out)}
    assert list(recs) == sorted(recs)  # task order: test-bad/* first, the sound pair last
    assert {p: r["status"] for p, r in recs.items()} == MISBEHAVING_STATUS
    assert "SIGABRT" in recs["test-bad/abort"]["message"]
    assert "code 7" in recs["test-bad/exit"]["message"]
    assert "SIGSEGV" in recs["test-bad/segfault"]["message"] and "_segfault" in recs["test-bad/segfault"]["message"]
    assert "time limit 2 s" in recs["test-bad/hang"]["message"]
    assert "MemoryError" in recs["test-bad/oom"]["message"]
    sound = recs["test-sleep/short"]
    assert sound["evaluated_objective"] == pytest.approx(sound["objective"])
    assert sound["placement"]["tiers"] == ["device"] * 3
    for r in recs.values():
        assert r["campaign"]["memory_limit"] == 64 * 2**20 and r["machine"]["python"]


def test_warmup_failures_are_recorded_too(tmp_path: Path) -> None:
    inst = make_instances(tmp_path / "inst", 1)
    out = tmp_path / "warm.jsonl"
    done = run_campaign_cmd(inst, out, "--pairs", "test-bad/hang", "test-bad/abort", "test-sleep/short", "--time-limit", "1", "--grace", "0.5",
                "--preload", "registry")
    assert done.returncode == 0, done.stderr
    recs = {r["pair"]: r for r in records(out)}
    assert recs["test-bad/hang"]["status"] == "time_limit" and "warm-up" in recs["test-bad/hang"]["message"]
    assert recs["test-bad/abort"]["status"] == "error" and "before the solve" in recs["test-bad/abort"]["message"]
    assert recs["test-sleep/short"]["status"] == "feasible" and recs["test-sleep/short"]["warmup_status"] == "feasible"


def test_existing_results_file_needs_resume_or_overwrite(tmp_path: Path) -> None:
    inst = make_instances(tmp_path / "inst", 1)
    out = tmp_path / "c.jsonl"
    out.write_text('{"key": "x"}\n')
    code = campaign.main(["--sets", str(inst), "--pairs", "local-only/*", "--out", str(out), "--quiet"])
    assert code == 2
    assert out.read_text() == '{"key": "x"}\n'


def test_unknown_pair_pattern_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inst = make_instances(tmp_path / "inst", 1)
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


# --------------------------------------------------------------------------------------------
# code versions in task keys, --out errors, Ctrl-C, --dry-run, progress and ETA


def test_task_keys_carry_the_code_version() -> None:
    from dnnsplit.campaign.tasks import code_version, key_version, task_id

    s = Settings(time_limit=60)
    key = task_key("h1", "F2/highspy", 0, s)
    assert key_version(key) == code_version() and key.endswith("@" + code_version())
    other = task_key("h1", "F2/highspy", 0, s, code="0.0.1+0123456789ab")
    assert other != key and task_id(other) == task_id(key) == "h1/F2/highspy/r0/" + key.split("/")[-1].split("@")[0]
    assert key_version("h1/F2/highspy/r0/abcd1234") is None  # a key written before keys carried one


def _with_version(path: Path, target: Path, version: str) -> None:
    """``path``'s records as if measured by code ``version``."""
    lines = []
    for rec in records(path):
        rec["key"] = rec["key"].split("@")[0] + "@" + version
        lines.append(json.dumps(rec))
    target.write_text("\n".join(lines) + "\n")


def test_resume_refuses_records_of_another_code_version(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inst = make_instances(tmp_path / "inst", 2)
    out = tmp_path / "v.jsonl"

    def bench(path: Path, *extra: str) -> tuple[int, str, str]:  # in this process: no plugin pair is needed
        code = campaign.main(["--sets", str(inst), "--out", str(path), "--quiet", "--pairs", "local-only/heuristic",
                              "--warmup", "none", "--preload", "registry", *extra])
        got = capsys.readouterr()
        return code, got.out, got.err

    assert bench(out)[0] == 0 and len(records(out)) == 2
    old = tmp_path / "old.jsonl"
    _with_version(out, old, "0.0.1+0123456789ab")
    before = old.read_text()
    code, _, err = bench(old, "--resume")
    assert code == 2
    assert "0.0.1+0123456789ab: 2" in err and "--keep-other-versions" in err
    assert "Traceback" not in err and old.read_text() == before
    # told to keep them: they count as done, nothing runs, nothing is rewritten
    code, _, err = bench(old, "--resume", "--keep-other-versions")
    assert code == 0, err
    assert old.read_text() == before and "2 already done, 0 run" in err
    # the dry run says the same without touching the file
    code, _, err = bench(old, "--resume", "--dry-run")
    assert code == 2 and "another code version" in err
    code, listed, err = bench(old, "--resume", "--keep-other-versions", "--dry-run")
    assert code == 0 and listed == "" and "0 left" in err
    assert old.read_text() == before


@pytest.mark.parametrize("flag", ["--resume", "--overwrite"])
def test_out_that_is_a_folder_is_a_one_line_error(tmp_path: Path, flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    inst = make_instances(tmp_path / "inst", 1)
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "keep.txt").write_text("x")
    code = campaign.main(["--sets", str(inst), "--pairs", "local-only/*", "--out", str(folder), "--quiet", flag])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and str(folder) in err and "is a folder" in err
    assert sorted(p.name for p in folder.iterdir()) == ["keep.txt"]


def test_out_below_a_file_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inst = make_instances(tmp_path / "inst", 1)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code = campaign.main(["--sets", str(inst), "--pairs", "local-only/*", "--out", str(blocker / "c.jsonl"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and str(blocker) in err and "is a file" in err
    assert blocker.read_text() == "x"


def test_dry_run_writes_nothing_and_counts_what_is_left(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def bench(*argv: str) -> tuple[int, str, str]:
        code = campaign.main([*argv, "--pairs", "local-only/heuristic", "--warmup", "none", "--preload", "registry", "--quiet"])
        got = capsys.readouterr()
        return code, got.out, got.err

    inst_dir = tmp_path / "never-written"
    out = tmp_path / "never.jsonl"
    code, listed, err = bench("--sets", "small", "--out", str(out), "--instances-dir", str(inst_dir), "--max-instances", "2",
                              "--dry-run")
    assert code == 0, err
    assert len(listed.splitlines()) == 2 and "2 tasks planned, 0 done" in err
    assert not inst_dir.exists() and not out.exists()
    # after a partial run (and a half-written last line), --resume --dry-run counts what is left
    inst = make_instances(tmp_path / "inst", 4)
    out = tmp_path / "part.jsonl"
    assert bench("--sets", str(inst), "--out", str(out), "--repeat", "2")[0] == 0 and len(records(out)) == 8
    lines = out.read_text().splitlines(keepends=True)
    out.write_text("".join(lines[:3]) + lines[3][:20])
    before = out.read_bytes()
    code, listed, err = bench("--sets", str(inst), "--out", str(out), "--repeat", "2", "--resume", "--dry-run")
    assert code == 0, err
    assert len(listed.splitlines()) == 5 and "8 tasks planned, 3 done" in err and "5 left" in err
    assert {line.split()[0] for line in listed.splitlines()} == {r["key"] for r in [json.loads(x) for x in lines[3:]]}
    assert out.read_bytes() == before  # not even the half line repaired


def test_ctrl_c_leaves_whole_records_and_no_traceback(tmp_path: Path) -> None:
    """Ctrl-C reaches the whole process group (campaign, fork server, solve): the campaign
    stops with one message, the file holds whole records only, and --resume completes it.
    Interrupted after 1 and 2 records (the child traceback came in a few runs of 25)."""
    inst = make_instances(tmp_path / "inst", 3)
    for n in (1, 2):
        out = tmp_path / f"int{n}.jsonl"
        proc = start_campaign(inst, out, *SLEEP_ARGS, start_new_session=True)
        try:
            wait_for(lines_in(out, n), seconds=150, what=f"{n} records")
        finally:
            os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        assert "Traceback" not in err and "Error" not in err, err
        assert "interrupted" in err and "--resume" in err
        assert out.read_text().endswith("\n") and len(records(out)) >= n
        again = run_campaign_cmd(inst, out, *SLEEP_ARGS, "--resume")
        assert again.returncode == 0 and "Traceback" not in again.stderr
        keys = [r["key"] for r in records(out)]
        assert len(keys) == len(set(keys)) == 6


class _Spec:
    def __init__(self, key: str) -> None:
        self.key = key


class _Entry:
    def __init__(self, set_name: str) -> None:
        self.set_name = set_name
        self.instance = type("I", (), {"name": "i"})()


class _Task:
    def __init__(self, pair: str, set_name: str, repeat: int = 0) -> None:
        self.spec, self.entry, self.repeat, self.key = _Spec(pair), _Entry(set_name), repeat, f"{pair}/{set_name}"


def test_eta_never_extrapolates_from_one_task() -> None:
    import math

    from dnnsplit.campaign.progress import MIN_OBSERVED, Estimator

    est = Estimator()
    a = [_Task("A/x", "s") for _ in range(10)]
    b = [_Task("B/y", "s") for _ in range(10)]
    est.add(a + b, Settings(time_limit=60, grace=5))
    assert est.upper_bound() == 20 * 65
    est.remove(a[0])
    est.observe(a[0], 2.0)
    assert math.isinf(est.seconds_left())  # B has no duration yet, and one task says nothing
    for t in a[1:MIN_OBSERVED]:
        est.remove(t)
        est.observe(t, 4.0)
    mean_a = (2.0 + 4.0 * (MIN_OBSERVED - 1)) / MIN_OBSERVED
    left_a = 10 - MIN_OBSERVED
    # now B is charged the mean of every task seen; A its own mean; two workers halve it
    assert est.seconds_left() == pytest.approx(left_a * mean_a + 10 * mean_a)
    assert est.seconds_left(workers=2) == pytest.approx((left_a * mean_a + 10 * mean_a) / 2)
    est.remove(b[0])
    est.observe(b[0], 1000.0)  # beyond its limit: charged at the limit
    assert est.seconds_left() == pytest.approx(left_a * mean_a + 9 * 65)
    # earlier records of a (pair, set) count before any task of it ran here
    fresh = Estimator()
    fresh.add(b, Settings(time_limit=60, grace=5))
    fresh.add_prior([{"pair": "B/y", "set": "s", "task_seconds": 3.0}, {"pair": "B/y", "set": "s", "process_wall": 5.0}])
    from dnnsplit.campaign.progress import TASK_OVERHEAD_S

    assert fresh.seconds_left() == pytest.approx(10 * (3.0 + 5.0 + TASK_OVERHEAD_S) / 2)


def test_progress_counts_infeasible_as_an_answer_not_a_failure() -> None:
    import io

    from dnnsplit.campaign.progress import Progress
    from dnnsplit.campaign.runner import classify

    assert [classify(s) for s in ("optimal", "feasible", "infeasible", "no_solution", "time_limit", "memory_out", "error")] == \
        ["solved", "solved", "answered", "answered", "limit", "limit", "error"]
    stream = io.StringIO()
    bar = Progress(stream=stream)
    tasks = [_Task("A/x", "s") for _ in range(3)]
    bar.add_tasks(tasks, Settings(time_limit=10))
    for t, status in zip(tasks, ("infeasible", "error", "optimal")):
        bar.finished(t, {"status": status, "task_seconds": 0.1})
    last = stream.getvalue().splitlines()[-1]
    assert "[3/3] 100%" in last and "errors 1, limits 0, infeasible 1" in last


def test_solve_slots_count_live_processes_only(tmp_path: Path) -> None:
    from dnnsplit.campaign.runner import SolveSlots

    folder = tmp_path / "slots"
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with SolveSlots(folder) as mine:
            assert mine.count() == 1
            (folder / str(other.pid)).write_text("")
            assert mine.count() == 2
            dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
            (folder / dead.stdout.strip()).write_text("")  # a process that ended without cleaning up
            assert mine.count() == 2 and not (folder / dead.stdout.strip()).exists()
        assert not (folder / str(os.getpid())).exists()
    finally:
        other.kill()
        other.wait()


def test_pytest_benchmark_groups_by_instance_and_keeps_no_instance_dump(tmp_path: Path) -> None:
    """``make bench``'s JSON: one group per instance (ratios compare pairs on one instance) and
    params that name the instance by id and hash instead of holding it; ``dnnsplit tables`` reads it."""
    out = tmp_path / "b.json"
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "benchmarks", "--bench-max-instances", "2",
           "--bench-pairs", "best-remote/heuristic", "local-only/heuristic", "--bench-rounds", "1", f"--benchmark-json={out}"]
    done = subprocess.run(cmd, cwd=ROOT, env=campaign_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    benches = json.loads(out.read_text())["benchmarks"]
    assert len(benches) == 4
    groups: dict[str, set[str]] = {}
    for b in benches:
        info = b["extra_info"]
        assert b["group"] == f"{info['set']}/{info['instance_id']}"
        assert b["params"] == {"case": b["param"], "pair": info["pair"], "set": info["set"],
                               "instance_id": info["instance_id"], "instance_hash": info["instance_hash"]}
        groups.setdefault(b["group"], set()).add(info["pair"])
    assert list(groups.values()) == [{"best-remote/heuristic", "local-only/heuristic"}] * 2
    from dnnsplit import tables

    assert tables.generate([out], tmp_path / "tables").outputs


def test_reproduce_dry_run_numbers_its_stages_and_writes_nothing(tmp_path: Path) -> None:
    from dnnsplit import reproduce

    out, inst = tmp_path / "tables", tmp_path / "instances"
    done = subprocess.run([sys.executable, "-m", "dnnsplit.reproduce", "--quick", "--dry-run", "--resume", "--workers", "2",
                           "--keep-other-versions", "--out", str(out), "--instances-dir", str(inst)], cwd=ROOT, env=campaign_env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    n = len(reproduce.QUICK)
    for i, stage in enumerate(reproduce.QUICK, 1):
        assert f"stage {i}/{n} {stage.name}:" in done.stderr
    assert "0 done" in done.stderr and "estimate" in done.stderr and "nothing was written" in done.stderr
    assert "engine 2 workers (local Dask cluster)" in done.stderr
    assert not out.exists() and not inst.exists()


def test_tables_flag_records_measured_under_concurrency(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every record carries ``concurrent_solves``; a table's caption flags the solves measured
    beside others (here the same records as if measured 2 at once) and says nothing when each
    ran alone."""
    import re

    from dnnsplit import tables

    inst = make_instances(tmp_path / "inst", 2)
    out = tmp_path / "c.jsonl"
    code = campaign.main(["--sets", str(inst), "--out", str(out), "--quiet", "--pairs", "local-only/heuristic",
                          "best-remote/heuristic", "--warmup", "none", "--preload", "registry"])
    assert code == 0, capsys.readouterr().err
    lines = out.read_text().splitlines()
    assert len(lines) == 4 and all(re.search(r'"concurrent_solves": [1-9]', line) for line in lines)
    # the same records as if measured alone, and two at a time (whatever else ran on this machine)
    alone_file, shared = tmp_path / "alone.jsonl", tmp_path / "shared.jsonl"
    alone_file.write_text("".join(re.sub(r'"concurrent_solves": \d+', '"concurrent_solves": 1', x) + "\n" for x in lines))
    shared.write_text("".join(re.sub(r'"concurrent_solves": \d+', '"concurrent_solves": 2', x) + "\n" for x in lines))
    alone = tables.generate([alone_file], tmp_path / "t-alone")
    both = tables.generate([shared], tmp_path / "t-shared")
    assert both.outputs and len(both.outputs) == len(alone.outputs)
    flagged = [o.caption for o in both.outputs if "Measured under concurrency" in o.caption]
    # every solve of each flagged table ran beside another one
    assert flagged and all("up to 2 at once" in c and re.search(r"(\d+) of \1 solves", c) for c in flagged)
    assert not any("Measured under concurrency" in o.caption for o in alone.outputs)


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_reproduce_passes_workers_and_resume_through() -> None:
    """``make reproduce WORKERS=N RESUME=1 KEEP_VERSIONS=1`` runs dnnsplit.reproduce with the
    matching flags (``make -n``: printed, not run), and plain ``make reproduce`` starts afresh
    with one worker."""
    def command(*assignments: str) -> list[str]:
        done = subprocess.run(["make", "-n", "-s", "reproduce", *assignments], cwd=ROOT, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, done.stderr
        line = next(x for x in done.stdout.splitlines() if "dnnsplit.reproduce" in x)
        return line.split("dnnsplit.reproduce", 1)[1].split()

    assert command("WORKERS=2", "RESUME=1", "KEEP_VERSIONS=1") == ["--workers", "2", "--resume", "--keep-other-versions"]
    assert command() == ["--workers", "1"]  # the dry-run test below runs these flags
