"""The one child-process harness: run a function in its own process under hard limits, measure it.

Used by the campaign (one solve per child), the benchmarks' memory measurements
(``benchmarks/speed_single.py``) and the scale scripts (``benchmarks/scale_multi.py``), so a
peak memory, a kill or a crash means the same everywhere.

Protocol. :func:`run_in_child` starts ``target(payload, stage)`` in a child of the given
multiprocessing context. The target may call ``stage("loaded")`` (its input is read) and must
call ``stage("ready")`` right before the work that is measured; ``stage("ready")`` applies the
address-space limit, resets the peak-memory mark and starts the CPU clock. What the target
returns (JSON-ready) comes back in :attr:`ChildOutcome.value`; an exception becomes
``failure`` (status "memory_out" for a MemoryError, else "error", with its message).

Limits (all inside the child's lifetime, so a hung or memory-hungry solver is killed and
recorded wherever it runs):

- ``wall``: the parent kills the child this many seconds after "ready" (``killed="time"``);
  ``ready_timeout`` bounds reaching "loaded" and ``warmup_timeout`` the time from "loaded" to
  "ready" (an untimed warm-up);
- ``address_space``: RLIMIT_AS of the child, set at "ready" to its address space then plus this
  many bytes (bounds what the measured work allocates; solvers overstate address space, so this
  is a backstop);
- ``resident``: the parent polls the child's resident memory every 0.1 s and kills it above
  this many bytes (``killed="memory"``).

Peak memory, one definition: at "ready" the child resets its resident high-water mark
(``/proc/self/clear_refs``; Linux) and records its resident memory; at the end it reads the
high-water mark (VmHWM). ``peak_rss`` is that mark, ``baseline_rss`` the resident memory at
"ready", and ``peak_growth`` their difference: what the measured work added. (``ru_maxrss`` is
not used: a forked or spawned child inherits its parent's high-water mark.) The parent's own
samples (``sampled_peak_rss``) cover a child that was killed.

A child that dies (signal, ``os._exit``, no result) is classified by :func:`classify_exit`:
SIGKILL not sent by us is the kernel's OOM killer (memory), a ``bad_alloc``/MemoryError in its
last output is memory, anything else an error with the exit code and the output's tail.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

MEMORY_HINTS = ("MemoryError", "bad_alloc", "Cannot allocate memory", "out of memory", "Out of memory")
POLL_S = 0.1
EXIT_NO_WORKDIR = 75  # the child's work folder was removed under it (its parent was interrupted)


@dataclass(frozen=True)
class Limits:
    wall: float | None = None  # seconds after "ready"
    address_space: int | None = None  # bytes the measured work may add to the address space
    resident: int | None = None  # bytes of resident memory (parent watchdog)
    ready_timeout: float = 120.0  # seconds to reach "loaded" (or "ready" directly)
    warmup_timeout: float | None = None  # seconds from "loaded" to "ready" (default: wall)


@dataclass
class ChildOutcome:
    stage: str  # the last stage reached: "start", "loaded", "ready"
    value: Any = None  # the target's return value (None when it did not finish)
    failure: dict[str, str] | None = None  # {"status", "message"} of an exception inside the target
    killed: str | None = None  # "time", "memory", "ready" (too slow to get ready) or None
    exitcode: int | None = None
    wall: float | None = None  # seconds from "ready" to the child's end (None: never ready)
    peak_rss: int | None = None  # resident high-water mark after the reset at "ready"
    baseline_rss: int | None = None  # resident memory at "ready"
    sampled_peak_rss: int | None = None  # the parent's largest sample of the child's resident memory
    cpu_time: float | None = None  # user + system seconds after "ready"
    log: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # what the target added with stage info

    @property
    def finished(self) -> bool:
        return self.value is not None or self.failure is not None

    @property
    def peak_growth(self) -> int | None:
        if self.peak_rss is None or self.baseline_rss is None:
            return None
        return max(0, self.peak_rss - self.baseline_rss)


# ----------------------------------------------------------------------------- in the child


def _page_size() -> int:
    return os.sysconf("SC_PAGE_SIZE")


def statm() -> tuple[int, int]:
    """(address space, resident) bytes of this process."""
    try:
        vm, rss = (int(x) for x in Path("/proc/self/statm").read_text().split()[:2])
        return vm * _page_size(), rss * _page_size()
    except (OSError, ValueError):
        return 0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _status_field(name: str, pid: int | str = "self") -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def resident_of(pid: int) -> int | None:
    """Resident memory of process ``pid`` in bytes (Linux), None when it cannot be read."""
    return _status_field("VmRSS", pid)


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _die_with_parent() -> None:
    """Linux: get SIGKILL when the parent dies, so a killed campaign leaves no orphan solves.

    Under forkserver the parent is the fork server, which exits when the campaign's end of its
    "alive" pipe closes; every child inherits a copy of that end, so the child closes its copy
    (it never starts processes itself), or a hanging child would keep the server, and so
    itself, alive after the campaign was killed.
    """
    try:
        from multiprocessing import forkserver

        server = forkserver._forkserver  # private, hence the guard
        fd = getattr(server, "_forkserver_alive_fd", None)
        if fd is not None:
            os.close(fd)
            server._forkserver_alive_fd = None
    except (ImportError, AttributeError, OSError):
        pass
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _child_entry(target: Callable[[Any, Callable[..., None]], Any], payload: Any, conn: Any, result_path: str,
                 log_path: str, address_space: int | None) -> None:
    """Runs in the child: output to the log, limits at "ready", the result file at the end.

    The child ignores SIGINT (and starts with it blocked, see :func:`run_in_child`): a Ctrl-C
    reaches the whole process group, and the parent, which owns the child's lifetime, kills it. A work folder that is gone (the parent was interrupted
    and cleaned up) ends the child quietly: nobody is left to read its output.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    except OSError:
        os._exit(EXIT_NO_WORKDIR)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    import faulthandler

    faulthandler.enable()
    _die_with_parent()
    out: dict[str, Any] = {}
    old_limit = resource.getrlimit(resource.RLIMIT_AS)
    usage0: list[Any] = []

    def stage(name: str, **info: Any) -> None:
        if info:
            out.setdefault("extra", {}).update(info)
        if name == "ready":
            vm, rss = statm()
            out["baseline_rss"] = rss
            out["peak_reset"] = _reset_peak()
            if address_space:
                cap = vm + int(address_space)
                if old_limit[1] != resource.RLIM_INFINITY:
                    cap = min(cap, old_limit[1])
                resource.setrlimit(resource.RLIMIT_AS, (cap, old_limit[1]))
            usage0.append(resource.getrusage(resource.RUSAGE_SELF))
        conn.send(name)

    try:
        value = target(payload, stage)
        usage1 = resource.getrusage(resource.RUSAGE_SELF)
        resource.setrlimit(resource.RLIMIT_AS, old_limit)
        if usage0:
            u0 = usage0[0]
            out["cpu_time"] = (usage1.ru_utime - u0.ru_utime) + (usage1.ru_stime - u0.ru_stime)
        hwm = _status_field("VmHWM")
        out["peak_rss"] = hwm if hwm is not None and out.get("peak_reset") else usage1.ru_maxrss * 1024
        out["value"] = value
    except BaseException as err:  # noqa: BLE001 - reported to the parent
        try:
            resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        except (ValueError, OSError):
            pass
        out["failure"] = {"status": "memory_out" if isinstance(err, MemoryError) else "error",
                          "message": f"{type(err).__name__}: {err}"}
    from dnnsplit.results import json_default

    tmp = result_path + ".tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(out, fh, default=json_default)
        os.replace(tmp, result_path)
    except FileNotFoundError:  # the parent was interrupted and removed the work folder
        os._exit(EXIT_NO_WORKDIR)
    conn.close()


# ----------------------------------------------------------------------------- in the parent


def read_log(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def tail_lines(text: str, lines: int = 6, chars: int = 800) -> str:
    """The informative end of a child's output, on one line.

    A faulthandler dump ("Fatal Python error ... Current thread ... most recent call first")
    is cut to the lines before it, the error line and its innermost frames; the list of
    extension modules it ends with is dropped.
    """
    kept = [ln.rstrip() for ln in text.splitlines() if ln.strip() and not ln.startswith("Extension modules:")]
    fatal = next((i for i, ln in enumerate(kept) if ln.startswith("Fatal Python error")), None)
    if fatal is not None:
        frames = [ln.strip() for ln in kept[fatal + 1 :] if ln.lstrip().startswith("File ")]
        kept = kept[max(0, fatal - 2) : fatal + 1] + frames[:2]
    else:
        kept = kept[-lines:]
    return " | ".join(ln.strip() for ln in kept)[-chars:]


def classify_exit(exitcode: int | None, killed_by_us: bool, output: str) -> tuple[str, str]:
    """(status, message) for a child that ended without a result file; ``output`` is its log."""
    memory_hint = any(h in output for h in MEMORY_HINTS)
    tail = tail_lines(output)
    if exitcode is None:
        return "error", "worker did not end"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        if -exitcode == signal.SIGKILL and not killed_by_us:
            return "memory_out", f"worker killed by {name} (not sent by the campaign: most likely the kernel's OOM killer)"
        status = "memory_out" if memory_hint else "error"
        return status, f"worker died with {name}" + (f"; last output: {tail}" if tail else "")
    status = "memory_out" if memory_hint else "error"
    return status, f"worker exited with code {exitcode} without a result" + (f"; last output: {tail}" if tail else "")


def _wait(proc: Any, recv: Any, seconds: float | None, wanted: tuple[str, ...]) -> str | None:
    """The next stage message within ``seconds`` (None: none came, or the child ended)."""
    deadline = None if seconds is None else time.perf_counter() + seconds
    while True:
        left = None if deadline is None else deadline - time.perf_counter()
        if left is not None and left <= 0:
            return None
        if recv.poll(POLL_S if left is None else min(left, POLL_S)):
            try:
                message = recv.recv()
            except (EOFError, OSError):
                return None
            return message if message in wanted else None
        if not proc.is_alive() and not recv.poll(0):
            return None


def run_in_child(ctx: Any, target: Callable[[Any, Callable[..., None]], Any], payload: Any, limits: Limits,
                 workdir: Path, name: str = "task", watch: Callable[[], None] | None = None) -> ChildOutcome:
    """Run ``target(payload, stage)`` in a child process of ``ctx`` under ``limits``.

    ``watch`` (optional) is called while the measured work runs, about once a second or at
    every resident-memory poll (the campaign samples how many solves run on the machine).
    """
    result_path = workdir / f"{name}.json"
    log_path = workdir / f"{name}.log"
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child_entry, args=(target, payload, send, str(result_path), str(log_path),
                                                  limits.address_space), daemon=True)
    # A Ctrl-C while the child (or the fork server, on first use) starts is held back until the
    # child is started and then raised where the child is killed: the start itself is never cut
    # half-way (that left a fork server's child reading an empty pipe: a traceback on the
    # terminal). SIGINT is blocked in this thread, so the child inherits the blocked mask, and the
    # Python handler defers it, since another thread of this process (which does not block it)
    # may receive it.
    deferred: list[int] = []
    previous = signal.getsignal(signal.SIGINT) if threading.current_thread() is threading.main_thread() else None
    if callable(previous):
        signal.signal(signal.SIGINT, lambda signum, frame: deferred.append(signum))
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        proc.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        if callable(previous):
            signal.signal(signal.SIGINT, previous)  # runs a pending SIGINT's handler (deferred) first
    send.close()
    outcome = ChildOutcome(stage="start")
    sampled = 0
    t_ready = None
    try:
        if deferred and callable(previous):  # the held-back Ctrl-C, now that the child can be killed
            previous(signal.SIGINT, None)
        got = _wait(proc, recv, limits.ready_timeout, ("loaded", "ready"))
        if got == "loaded":
            outcome.stage = "loaded"
            warm = limits.warmup_timeout if limits.warmup_timeout is not None else limits.wall
            got = _wait(proc, recv, warm, ("ready",))
        if got == "ready":
            outcome.stage = "ready"
            t_ready = time.perf_counter()
            deadline = None if limits.wall is None else t_ready + limits.wall
            while proc.is_alive():
                if watch is not None:
                    watch()
                if limits.resident is not None:
                    rss = resident_of(proc.pid) or 0
                    sampled = max(sampled, rss)
                    if rss > limits.resident:
                        outcome.killed = "memory"
                        break
                if deadline is not None and time.perf_counter() >= deadline:
                    outcome.killed = "time"
                    break
                proc.join(POLL_S if limits.resident is not None or deadline is None
                          else min(POLL_S * 10, max(deadline - time.perf_counter(), 0.0)))
        elif proc.is_alive():
            proc.join(1.0)
            if proc.is_alive():
                outcome.killed = "ready"
        if proc.is_alive():
            proc.kill()
            if outcome.killed is None:
                outcome.killed = "ready"
        proc.join()
    finally:
        if proc.is_alive():  # KeyboardInterrupt while waiting
            proc.kill()
            proc.join()
        recv.close()
    outcome.wall = None if t_ready is None else time.perf_counter() - t_ready
    outcome.exitcode = proc.exitcode
    outcome.sampled_peak_rss = sampled or None
    if result_path.exists() and outcome.killed is None:
        try:
            data = json.loads(result_path.read_text())
        except (OSError, json.JSONDecodeError):
            data = {}
        outcome.value = data.get("value")
        outcome.failure = data.get("failure")
        outcome.peak_rss = data.get("peak_rss")
        outcome.baseline_rss = data.get("baseline_rss")
        outcome.cpu_time = data.get("cpu_time")
        outcome.extra = data.get("extra", {})
    outcome.log = read_log(log_path)
    for p in (result_path, log_path, Path(str(result_path) + ".tmp")):
        try:
            p.unlink()
        except OSError:
            pass
    return outcome
