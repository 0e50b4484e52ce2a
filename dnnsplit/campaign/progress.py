"""Progress of a campaign: the start banner, the progress line, a heartbeat, the ETA.

    [ 12/40] 30% | errors 0, limits 1, infeasible 2, skipped 0 | busy 2/2 | 0:41, eta 1:35 | F2/highspy small-003 r0 optimal

"errors" are crashes and exceptions (what needs a look); "limits" runs stopped by the time or
memory limit; "infeasible" proven infeasible instances and heuristics that found no solution:
answers, not failures. "busy" (Dask engines) is solves running / workers.

ETA, never extrapolated from one task: each task left is charged the mean duration (the whole
task: process start to record) of the tasks of the same (pair, set) seen so far in this run,
else of earlier records of that (pair, set) (a resumed file, or ``make reproduce``'s reference
records), else the mean of every task seen in this run once at least :data:`MIN_OBSERVED`
have ended; never more than its time limit plus grace. The sum is divided by the number of
workers. Until every (pair, set) left can be charged, the ETA shows "?".

Heartbeat: while solves run, a terminal's line is redrawn every second with the longest-running
solve and its clock; into a file or pipe, a line is written when nothing was written for
:data:`HEARTBEAT_S` seconds.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from typing import Any, Iterable, Sequence, TextIO

MIN_OBSERVED = 5
HEARTBEAT_S = 60.0
TICK_S = 1.0
TASK_OVERHEAD_S = 0.05  # process start, load, warm-up and result of a short task (README: Parallel campaigns)


def clock(seconds: float) -> str:
    """'1:02:03', '4:05' or '?'."""
    if seconds is None or not math.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def task_label(task: Any) -> str:
    return f"{task.spec.key} {task.entry.instance.name} r{task.repeat}"


def _group(pair: str, set_name: str) -> tuple[str, str]:
    return (str(pair), str(set_name))


def record_seconds(record: dict[str, Any]) -> float | None:
    """How long a record's task took: the whole task where recorded, else the child's wall plus
    :data:`TASK_OVERHEAD_S` (records written before they carried ``task_seconds``)."""
    v = record.get("task_seconds")
    if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0:
        return float(v)
    for name in ("process_wall", "wall_time"):
        v = record.get(name)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0:
            return float(v) + TASK_OVERHEAD_S
    return None


class Estimator:
    """Seconds left for the tasks not yet ended (see the module docstring)."""

    def __init__(self) -> None:
        self.left: dict[tuple[str, str], int] = {}
        self.limit: dict[tuple[str, str], float] = {}
        self.seen: dict[tuple[str, str], list[float]] = {}
        self.prior: dict[tuple[str, str], list[float]] = {}

    def add(self, tasks: Iterable[Any], settings: Any) -> None:
        cap = float(settings.time_limit + settings.grace)
        for t in tasks:
            g = _group(t.spec.key, t.entry.set_name)
            self.left[g] = self.left.get(g, 0) + 1
            self.limit[g] = max(self.limit.get(g, 0.0), cap)

    def remove(self, task: Any) -> None:
        g = _group(task.spec.key, task.entry.set_name)
        if self.left.get(g, 0) > 0:
            self.left[g] -= 1

    def observe(self, task: Any, seconds: float | None) -> None:
        if seconds is not None:
            self.seen.setdefault(_group(task.spec.key, task.entry.set_name), []).append(seconds)

    def add_prior(self, records: Iterable[dict[str, Any]]) -> None:
        for rec in records:
            seconds = record_seconds(rec)
            if seconds is not None and rec.get("pair") and rec.get("set"):
                self.prior.setdefault(_group(rec["pair"], rec["set"]), []).append(seconds)

    def observed(self) -> int:
        return sum(len(v) for v in self.seen.values())

    def seconds_left(self, workers: int = 1) -> float:
        """The ETA in seconds; inf while some (pair, set) left has no estimate."""
        n_seen = self.observed()
        overall = (sum(sum(v) for v in self.seen.values()) / n_seen) if n_seen >= MIN_OBSERVED else None
        total = 0.0
        for g, n in self.left.items():
            if n <= 0:
                continue
            pool = self.seen.get(g) or self.prior.get(g)
            est = (sum(pool) / len(pool)) if pool else overall
            if est is None:
                return math.inf
            total += n * min(est, self.limit.get(g, est))
        return total / max(1, workers)

    def upper_bound(self) -> float:
        """Every task left at its time limit plus grace (one worker)."""
        return sum(n * self.limit.get(g, 0.0) for g, n in self.left.items() if n > 0)


class Progress:
    """The progress line of one campaign, or of several calls sharing it (``make reproduce``)."""

    def __init__(self, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.total = 0
        self.done = 0
        self.counts = {"error": 0, "limit": 0, "answered": 0, "skipped": 0}
        self.estimate = Estimator()
        self.start = time.monotonic()
        self.stage = ""
        self.engine: Any = None
        self.last_label = ""
        self._lock = threading.RLock()
        self._width = 0
        self._last_write = time.monotonic()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # -- the plan ------------------------------------------------------------------------
    def add_tasks(self, tasks: Sequence[Any], settings: Any) -> None:
        with self._lock:
            self.total += len(tasks)
            self.estimate.add(tasks, settings)

    def mark_done(self, tasks: Sequence[Any]) -> None:
        """Tasks already in the results file (resumed)."""
        with self._lock:
            for t in tasks:
                self.done += 1
                self.estimate.remove(t)

    def prior_from_records(self, records: Iterable[dict[str, Any]]) -> None:
        self.estimate.add_prior(records)

    # -- while it runs -------------------------------------------------------------------
    def attach(self, engine: Any) -> None:
        """Show ``engine``'s running solves until :meth:`detach` (starts the heartbeat)."""
        self.engine = engine
        if self.enabled and self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._beat, name="dnnsplit-progress", daemon=True)
            self._thread.start()

    def detach(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self._thread = None
        self.engine = None

    def tick_seconds(self) -> float:
        return TICK_S

    def finished(self, task: Any, record: dict[str, Any] | None, *, skipped: bool = False) -> None:
        from dnnsplit.campaign.runner import classify

        with self._lock:
            self.done += 1
            self.estimate.remove(task)
            if skipped:
                self.counts["skipped"] += 1
                label = task_label(task) + " (skipped: repeat 0 unsolved)"
            else:
                assert record is not None
                kind = classify(record["status"])
                if kind != "solved":
                    self.counts[kind] += 1
                self.estimate.observe(task, record_seconds(record))
                label = f"{task_label(task)} {record['status']}"
            self.last_label = label
            self.show(label)

    def tick(self) -> None:
        """Redraw a terminal's line (called by the campaign loop and the heartbeat)."""
        if self.enabled and self.tty:
            self.show(self._running_text(), pending=True)

    def _running_text(self) -> str:
        engine = self.engine
        running = engine.running() if engine is not None else []
        if not running:
            return self.last_label
        task, since = min(running, key=lambda r: r[1])
        more = f" (+{len(running) - 1})" if len(running) > 1 else ""
        return f"running {task_label(task)} {clock(time.monotonic() - since)}{more}"

    def _beat(self) -> None:
        while not self._stop.wait(TICK_S):
            try:
                if self.tty:
                    self.tick()
                elif time.monotonic() - self._last_write >= HEARTBEAT_S:
                    engine = self.engine
                    running = engine.running() if engine is not None else []
                    if running:
                        task, since = min(running, key=lambda r: r[1])
                        cap = self.estimate.limit.get(_group(task.spec.key, task.entry.set_name))
                        self.show(f"still running: {task_label(task)} for {clock(time.monotonic() - since)}"
                                  + (f" (killed at {clock(cap)})" if cap else "")
                                  + (f" (+{len(running) - 1} more)" if len(running) > 1 else ""))
            except Exception:  # noqa: BLE001 - a progress line never stops a campaign
                pass

    # -- output --------------------------------------------------------------------------
    def eta(self) -> float:
        workers = self.engine.workers() if self.engine is not None else 1
        return self.estimate.seconds_left(workers)

    def line(self, label: str = "") -> str:
        with self._lock:
            elapsed = time.monotonic() - self.start
            pct = 100.0 * self.done / self.total if self.total else 100.0
            digits = len(str(self.total))
            c = self.counts
            busy = ""
            if self.engine is not None and getattr(self.engine, "name", "") != "sequential":
                running, workers = self.engine.busy()
                busy = f" | busy {running}/{workers}"
            stage = f"{self.stage} | " if self.stage else ""
            return (f"{stage}[{self.done:>{digits}}/{self.total}] {pct:3.0f}% | errors {c['error']}, limits {c['limit']}, "
                    f"infeasible {c['answered']}, skipped {c['skipped']}{busy} | {clock(elapsed)}, eta {clock(self.eta())}"
                    + (f" | {label}" if label else ""))

    def show(self, label: str = "", *, pending: bool = False) -> None:
        if not self.enabled or (pending and not self.tty):
            return
        with self._lock:
            line = self.line(label)
            if self.tty:
                pad = max(0, self._width - len(line))
                self.stream.write("\r" + line + " " * pad)
                self._width = len(line)
            else:
                self.stream.write(line + "\n")
            self.stream.flush()
            self._last_write = time.monotonic()

    def say(self, text: str) -> None:
        """A line of its own (a stage header, a note), above the progress line."""
        with self._lock:
            if self.tty and self._width:
                self.stream.write("\r" + " " * self._width + "\r")
                self._width = 0
            self.stream.write(text + "\n")
            self.stream.flush()
            self._last_write = time.monotonic()

    def finish(self) -> None:
        self.detach()
        if self.enabled and self.tty and self._width:
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0


def banner(tasks_total: int, tasks_left: int, settings_list: Sequence[Any], estimate: Estimator, engine_text: str,
           workers: int) -> str:
    """The start banner: tasks, limits, engine and the estimate (what is left)."""
    limits = sorted({(s.time_limit, s.grace) for s in settings_list})
    limit_text = ", ".join(f"{t:g} s" for t, _ in limits) + f" (+{limits[0][1]:g} s grace)" if limits else "?"
    mems = sorted({s.memory_limit for s in settings_list}, key=lambda m: (m is None, m or 0))
    mem_text = ", ".join("none" if m is None else f"{m / 2**30:.3g} GiB" for m in mems)
    done = tasks_total - tasks_left
    head = f"{tasks_total} tasks" + (f", {done} done already, {tasks_left} left" if done else "")
    eta = estimate.seconds_left(workers)
    bound = estimate.upper_bound() / max(1, workers)
    est = (f"about {clock(eta)}" if math.isfinite(eta) else "unknown until a few tasks ended") + \
          f"; at most {clock(bound)} if every solve ran to its limit"
    return f"{head}; time limit {limit_text}, memory limit {mem_text}; engine {engine_text}; estimate {est}"
