"""The campaign on Dask (``dnnsplit bench --workers N`` / ``--scheduler`` / a caller's client):
the same records as the sequential runner; Ctrl-C, SIGKILL and --resume of the client; a worker
killed mid-solve; misbehaving solvers on workers; a scheduler that goes away; instances and code
checked on the worker.

Everything runs on the loopback (127.0.0.1): local clusters started by the campaign itself or
by a test script, and for the scheduler test a ``dask scheduler`` and ``dask worker`` on
127.0.0.1. Campaigns run as subprocesses (``python -m dnnsplit.campaign``) with the test-only
backends of ``tests/misbehaving_backends.py``. Nothing here asserts timing.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from _campaign_helpers import (MISBEHAVING_ARGS, MISBEHAVING_STATUS, ROOT, SLEEP_ARGS, alive, campaign_env, lines_in,
                               make_instances, planned_keys, records, run_campaign_cmd, start_campaign, wait_for)

pytest.importorskip("distributed")

DASK_BIN = Path(sys.executable).parent / "dask"
LINUX = pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc (Linux)")

# fields that describe how and where a record was measured, not what was found
MEASUREMENT_FIELDS = {
    "build_time", "solve_time", "wall_time", "process_wall", "cpu_time", "peak_rss", "baseline_rss", "peak_memory",
    "peak_memory_source", "started_at", "finished_at", "warmup_seconds", "task_seconds", "engine", "worker",
    "concurrent_solves", "machine",
}
MEASUREMENT_EXTRA = ("_time", "_s", "_seconds")  # backends' own timings in ``extra`` (lp_relaxation_time, jit_warmup_s)


def _parent(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2 :].split()[1])


def _worker_pid(record: dict) -> int:
    return int(record["worker"].rsplit("pid ", 1)[1].rstrip(")"))


def _comparable(rec: dict) -> dict:
    out = {k: v for k, v in rec.items() if k not in MEASUREMENT_FIELDS}
    out["extra"] = {k: v for k, v in (rec.get("extra") or {}).items() if not k.endswith(MEASUREMENT_EXTRA)}
    return out


# ---------------------------------------------------------------------------------------------


@LINUX
def test_local_cluster_gives_the_sequential_records(tmp_path: Path) -> None:
    """Real pairs (LP, min-cost flow, compiled Dijkstra, MILP, a heuristic) and a repeated test
    pair: the 2-worker campaign writes the same records as the sequential one, field for field,
    except where and how long (MEASUREMENT_FIELDS)."""
    inst = make_instances(tmp_path / "inst", 2)
    args = ("--pairs", "F2/highspy", "F2/ortools-mcf", "F2/layered-dijkstra", "F1-aggregated/highspy",
            "local-only/heuristic", "test-sleep/short", "--repeat", "2", "--time-limit", "20")
    seq, par = tmp_path / "seq.jsonl", tmp_path / "par.jsonl"
    done = run_campaign_cmd([str(inst)], seq, *args)
    assert done.returncode == 0, done.stderr
    done = run_campaign_cmd([str(inst)], par, *args, "--workers", "2")
    assert done.returncode == 0, done.stderr
    a = {r["key"]: r for r in records(seq)}
    b = {r["key"]: r for r in records(par)}
    assert len(a) == len(records(seq)) == 24 and len(b) == len(records(par))  # each task once
    assert set(a) == set(b)
    for key in a:
        assert _comparable(a[key]) == _comparable(b[key]), key
    assert {r["engine"] for r in a.values()} == {"sequential"} and {r["engine"] for r in b.values()} == {"dask-local"}
    assert all(r["concurrent_solves"] >= 1 and r["worker"] for r in [*a.values(), *b.values()])
    assert len({_worker_pid(r) for r in b.values()}) == 2  # both workers solved
    assert all(r["worker"].startswith("tcp://127.0.0.1:") for r in b.values())  # the loopback only
    # the fork server (sequential) and each Dask worker's fork server loaded numba's kernels
    # once: no child of either paid for them
    dijkstra = [r for r in [*a.values(), *b.values()] if r["pair"] == "F2/layered-dijkstra"]
    assert dijkstra and all(r["jit_load_s"] == 0.0 for r in dijkstra)
    assert all(r["status"] in ("optimal", "feasible") for r in a.values())


CALLERS_CLIENT = """
import dask
from distributed import Client, LocalCluster
from dnnsplit.campaign.cli import main

if __name__ == "__main__":
    dask.config.set({{"distributed.scheduler.allowed-failures": 2}})
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                           scheduler_kwargs={{"dashboard_address": "127.0.0.1:0"}})
    client = Client(cluster)
    code = main({argv!r}, client=client)
    client.close()
    cluster.close()
    raise SystemExit(code)
"""


@LINUX
def test_client_interrupted_killed_and_resumed_on_dask(tmp_path: Path) -> None:
    """Ctrl-C of a 2-worker campaign, then SIGKILL of its resumed client, then --resume on a
    caller's own Dask client (the README's cluster recipe, a LocalCluster in place of
    dask-jobqueue's SLURMCluster): whole records only, no solve outlives the killed client, and
    in the end every planned task exactly once, nothing rewritten."""
    inst = make_instances(tmp_path / "inst", 6)
    out = tmp_path / "run.jsonl"
    planned = planned_keys(inst, out, *SLEEP_ARGS)
    assert len(planned) == 12 and len(set(planned)) == 12 and not out.exists()

    # Ctrl-C: the whole foreground process group gets SIGINT
    proc = start_campaign(inst, out, *SLEEP_ARGS, "--workers", "2", start_new_session=True)
    wait_for(lines_in(out, 2), what="2 records")
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err and "--resume" in err
    assert out.read_text().endswith("\n")
    interrupted = records(out)
    assert len(interrupted) >= 2

    # SIGKILL of the resumed client: the local cluster's workers (and their solves) die with it
    proc = start_campaign(inst, out, *SLEEP_ARGS, "--workers", "2", "--resume", stderr=subprocess.DEVNULL)
    wait_for(lines_in(out, len(interrupted) + 2), what="2 more records")
    proc.kill()
    proc.wait(timeout=30)
    partial = records(out)
    assert len(interrupted) + 2 <= len(partial) < 12
    workers = {_worker_pid(r) for r in partial[len(interrupted):]}
    wait_for(lambda: not any(alive(p) for p in workers), seconds=30, what="the killed client's workers to end")

    # --resume on the caller's own client finishes the file
    argv = ["--sets", str(inst), "--out", str(out), "--resume", "--quiet", *SLEEP_ARGS]
    script = tmp_path / "campaign_on_my_cluster.py"
    script.write_text(CALLERS_CLIENT.format(argv=argv))
    done = subprocess.run([sys.executable, str(script)], cwd=ROOT, env=campaign_env(), capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    final = records(out)
    keys = [r["key"] for r in final]
    assert len(keys) == len(set(keys)), "duplicated records after resume"
    assert set(keys) == set(planned)
    assert keys[: len(partial)] == [r["key"] for r in partial]  # nothing rewritten
    assert {r["status"] for r in final} == {"feasible"}
    assert final[-1]["engine"] == "dask" and {r["engine"] for r in final[: len(partial)]} == {"dask-local"}


def _kill_worker_of(pid_file: Path) -> tuple[int, int]:
    """SIGKILL the Dask worker whose solve wrote ``pid_file`` (solve -> fork server -> worker);
    (solve, worker) pids."""
    wait_for(lambda: pid_file.exists() and pid_file.read_text().strip() != "", what="a hanging solve")
    solve = int(pid_file.read_text())
    worker = _parent(_parent(solve))
    pid_file.write_text("")
    os.kill(worker, signal.SIGKILL)
    return solve, worker


@LINUX
def test_worker_killed_mid_solve_is_retried_then_recorded_once(tmp_path: Path) -> None:
    """A hanging solve whose worker is SIGKILLed runs again (a new solve process, --retries 1);
    its worker killed again, the task is recorded once, as error with the reason; the other
    task of the campaign is unaffected."""
    inst = make_instances(tmp_path / "inst", 1)
    out = tmp_path / "kill.jsonl"
    pid_file = tmp_path / "pid"
    args = ("--pairs", "test-bad/hang", "test-sleep/short", "--time-limit", "60", "--warmup", "none", "--preload",
            "registry", "--workers", "2", "--retries", "1")
    proc = start_campaign(inst, out, *args, env=campaign_env(DNNSPLIT_TEST_PID_FILE=str(pid_file)))
    first = _kill_worker_of(pid_file)
    second = _kill_worker_of(pid_file)  # the retry: the same task solving again, in another process
    assert second[0] != first[0] and second[1] != first[1]
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    recs = records(out)
    assert len(recs) == len({r["key"] for r in recs}) == 2  # every task ended exactly once
    by_pair = {r["pair"]: r for r in recs}
    hang = by_pair["test-bad/hang"]
    assert hang["status"] == "error" and "died 2 time(s)" in hang["message"] and "KilledWorker" in hang["message"]
    assert by_pair["test-sleep/short"]["status"] == "feasible"


@LINUX
def test_misbehaving_solvers_on_dask_workers(tmp_path: Path) -> None:
    inst = make_instances(tmp_path / "inst", 1)
    out = tmp_path / "bad.jsonl"
    done = run_campaign_cmd(inst, out, *MISBEHAVING_ARGS, "--workers", "2")
    assert done.returncode == 0, done.stderr
    recs = {r["pair"]: r for r in records(out)}
    assert len(records(out)) == 7
    assert {p: r["status"] for p, r in recs.items()} == MISBEHAVING_STATUS
    assert "time limit 2 s" in recs["test-bad/hang"]["message"]
    assert "MemoryError" in recs["test-bad/oom"]["message"]
    assert all(r["engine"] == "dask-local" for r in recs.values())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not DASK_BIN.exists(), reason="the dask command is not installed beside this Python")
def test_scheduler_gone_ends_the_campaign_resumably(tmp_path: Path) -> None:
    """A scheduler killed mid-campaign: one clear message, exit 2, whole records; the file is
    resumed by the sequential engine (keys do not depend on the engine), each task once."""
    inst = make_instances(tmp_path / "inst", 6)
    out = tmp_path / "sched.jsonl"
    planned = planned_keys(inst, out, *SLEEP_ARGS)
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = campaign_env()
    loopback = ("--dashboard-address", "127.0.0.1:0", "--no-dashboard")
    scheduler = subprocess.Popen([str(DASK_BIN), "scheduler", "--host", "127.0.0.1", "--port", str(port), *loopback],
                                 env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = subprocess.Popen([str(DASK_BIN), "worker", address, "--nthreads", "1", "--host", "127.0.0.1", *loopback],
                              env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        campaign = start_campaign(inst, out, *SLEEP_ARGS, "--scheduler", address, env=env)
        wait_for(lines_in(out, 2), what="2 records")
        scheduler.kill()
        _, err = campaign.communicate(timeout=120)
    finally:
        for p in (scheduler, worker):
            p.kill()
            p.wait(timeout=30)
    assert campaign.returncode == 2, err
    assert "lost the Dask scheduler" in err and "--resume" in err and "Traceback" not in err
    partial = records(out)  # every line a whole record
    assert 2 <= len(partial) < 12 and {r["engine"] for r in partial} == {"dask"}
    again = run_campaign_cmd(inst, out, *SLEEP_ARGS, "--resume")
    assert again.returncode == 0, again.stderr
    final = records(out)
    keys = [r["key"] for r in final]
    assert len(keys) == len(set(keys)) and set(keys) == set(planned)
    assert {r["engine"] for r in final[len(partial):]} == {"sequential"}


def _payload(tmp_path: Path, **over: object) -> dict:
    from dnnsplit import catalogue
    from dnnsplit.campaign.runner import task_payload
    from dnnsplit.campaign.tasks import InstanceEntry, Settings, plan

    from instances.io import load

    inst = make_instances(tmp_path / "inst", 1)

    path = inst / "line0.json"
    entry = InstanceEntry("s", path, load(path))
    settings = Settings(time_limit=120, warmup="none", preload="registry")
    task = plan([entry], [catalogue.get("local-only", "heuristic")], 1, settings)[0]
    payload = task_payload(task, settings, "0.1.0+test")
    payload.update(over)
    return payload


def test_a_worker_with_other_code_refuses_to_solve(tmp_path: Path) -> None:
    from dnnsplit.campaign.dask_engine import solve_on_worker

    out = solve_on_worker(_payload(tmp_path, code_version="9.9.9+0000deadbeef", source_digest="0" * 16))
    assert out["result"]["status"] == "error"
    assert "9.9.9+0000deadbeef" in out["result"]["message"] and "same code" in out["result"]["message"]


def test_shipped_and_shared_instances_are_checked_by_hash(tmp_path: Path) -> None:
    import zlib

    from dnnsplit.campaign.dask_engine import solve_on_worker
    from dnnsplit.campaign.runner import solve_task
    from dnnsplit.campaign.tasks import source_digest

    payload = _payload(tmp_path, source_digest=source_digest())
    text = Path(payload["instance_file"]).read_bytes()
    # a shipped text that is not the planned instance: refused before any solve
    wrong = text.replace(b'"line0"', b'"other"')
    out = solve_on_worker({**payload, "instance_text_z": zlib.compress(wrong)})
    assert out["result"]["status"] == "error" and payload["instance_hash"] in out["result"]["message"]
    # a shared file that differs from the one the task was planned on: the child refuses it
    changed = tmp_path / "changed.json"
    changed.write_bytes(wrong)
    with pytest.raises(ValueError, match="differs from the one the task was planned on"):
        solve_task({**payload, "instance_file": str(changed), "check_hash": True}, lambda *a, **k: None)
    # the planned file itself passes the check and is solved
    assert solve_task({**payload}, lambda *a, **k: None)["status"] == "feasible"
