"""What the campaign tests share (tests/test_campaign.py: the sequential runner;
tests/test_campaign_dask.py: the Dask engine): tiny instance folders, the campaign command as a
subprocess with the test-only backends of ``tests/misbehaving_backends.py``, its records, and
waiting on processes. Nothing here asserts anything.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

from helpers import line_instance_dict
from instances.io import instance_from_dict, save

ROOT = Path(__file__).resolve().parent.parent
# two solves per instance of a backend that sleeps 0.3 s and always succeeds (no repeat is skipped)
SLEEP_ARGS = ("--pairs", "test-sleep/short", "--repeat", "2", "--time-limit", "10", "--warmup", "none", "--preload", "registry")
# every misbehaving backend beside a sound one, and the status each must be recorded with
MISBEHAVING_ARGS = ("--pairs", "test-bad/*", "test-sleep/short", "--time-limit", "2", "--grace", "0.5", "--memory-limit",
                    "64M", "--warmup", "none", "--preload", "registry")
MISBEHAVING_STATUS = {
    "test-bad/abort": "error",
    "test-bad/badalloc": "memory_out",
    "test-bad/exit": "error",
    "test-bad/hang": "time_limit",
    "test-bad/oom": "memory_out",
    "test-bad/segfault": "error",
    "test-sleep/short": "feasible",
}


def make_instances(folder: Path, n: int) -> Path:
    """``n`` 3-node line instances line0..line{n-1} (bandwidths 1e5, 1e6, ...) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        d = line_instance_dict(bandwidth=1e5 * 10**i)
        d["name"] = f"line{i}"
        save(instance_from_dict(d), folder / f"line{i}.json")
    return folder


def campaign_env(**extra: str) -> dict[str, str]:
    """The environment of a campaign subprocess: this checkout first, the test-only backends."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["DNNSPLIT_PLUGINS"] = "tests.misbehaving_backends"
    env.update(extra)
    return env


def campaign_cmd(sets: Path | str | Sequence[Path | str], out: Path, *extra: str) -> list[str]:
    names = [str(sets)] if isinstance(sets, (str, Path)) else [str(s) for s in sets]
    return [sys.executable, "-m", "dnnsplit.campaign", "--sets", *names, "--out", str(out), "--quiet", *extra]


def run_campaign_cmd(sets: Path | str | Sequence[Path | str], out: Path, *extra: str, env: dict[str, str] | None = None,
                     timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(campaign_cmd(sets, out, *extra), cwd=ROOT, env=env or campaign_env(), capture_output=True,
                          text=True, timeout=timeout)


def start_campaign(sets: Path | str | Sequence[Path | str], out: Path, *extra: str, env: dict[str, str] | None = None,
                   **popen: object) -> subprocess.Popen:
    popen.setdefault("stdout", subprocess.DEVNULL)
    popen.setdefault("stderr", subprocess.PIPE)
    # as from a terminal: Ctrl-C interrupts, even where the tests themselves run in the background
    # of a non-interactive shell (which starts them with SIGINT ignored, and a child inherits that)
    popen.setdefault("preexec_fn", _default_sigint)
    return subprocess.Popen(campaign_cmd(sets, out, *extra), cwd=ROOT, env=env or campaign_env(), text=True, **popen)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def planned_keys(sets: Path | str | Sequence[Path | str], out: Path, *extra: str) -> list[str]:
    """The keys ``--dry-run`` lists (nothing is written)."""
    plan = run_campaign_cmd(sets, out, *extra, "--dry-run")
    assert plan.returncode == 0, plan.stderr
    return [line.split()[0] for line in plan.stdout.splitlines()]


def wait_for(predicate: Callable[[], bool], seconds: float = 150.0, what: str = "a condition") -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {seconds:g} s waiting for {what}")


def lines_in(path: Path, n: int) -> Callable[[], bool]:
    """A predicate: ``path`` holds at least ``n`` whole lines."""
    return lambda: path.exists() and path.read_text().count("\n") >= n


def alive(pid: int) -> bool:
    """The process exists and is not a zombie (Linux /proc)."""
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in state
