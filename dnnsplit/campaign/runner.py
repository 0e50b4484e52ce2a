"""``dnnsplit bench``: a benchmark campaign, one process per solve, one JSON line per result.

    dnnsplit bench --sets small medium --pairs 'F2/*' 'F1-weak/highspy' --repeat 3 \\
        --time-limit 60 --memory-limit 4G --out results/campaign.jsonl [--resume]

Measurement, per task (``dnnsplit.campaign.child`` is the harness):

* Each solve runs in its own child process (multiprocessing ``forkserver`` by default: a server
  process imports the solver packages and ``dnnsplit.catalogue`` once, and each task is a fork
  of it, so a task starts in milliseconds; ``--start-method spawn`` starts a fresh interpreter
  instead). The child loads the instance, optionally warms up (``--warmup tiny``: one untimed
  solve of the same pair on a built-in 3-node instance, so lazy imports and first-call
  initialisation are not timed; ``same``: one untimed solve of the same instance; ``none``),
  and only then starts the measured solve. Process start, imports, instance loading and
  warm-up are outside every timing.
* ``build_time`` and ``solve_time`` are the backend's own split, ``wall_time`` is the
  registry's timing of the whole backend call, ``process_wall`` the parent's clock from "ready"
  to the child's exit, ``cpu_time`` the child's user+system time during the solve (a check
  that the solve used one thread).
* Time limit: every backend gets ``--time-limit`` with one meaning (wall clock of the whole
  backend call, build included; ``dnnsplit.options``); the child is killed after
  ``--time-limit + --grace`` seconds anyway (status ``time_limit``), a safety net.
* Memory limit: the child's address space may grow by ``--memory-limit`` after loading
  (RLIMIT_AS). A ``MemoryError``, a ``std::bad_alloc`` in the child's last output, or a SIGKILL
  the campaign did not send (the kernel's OOM killer) gives status ``memory_out``. Peak memory:
  the resident high-water mark of the solve minus the resident memory before it (one
  definition, ``child.py``).
* A child that crashes (signal, ``os._exit``, no result) gives status ``error`` with the exit
  code or signal and the last lines of its output. The campaign goes on with the next task.
* Single-threaded by default: ``--threads 1`` is the solver option and the BLAS/OpenMP thread
  variables are set to it before any child starts. ``--seed`` is passed where accepted.

Records (``records.py``) are appended with flush + fsync as each task ends; ``--resume`` skips
keys already in the file. Repeats after the first run only where the first ended optimal or
feasible (a pair that timed out once would time out again).
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence, TextIO

from dnnsplit.campaign.child import Limits, classify_exit, run_in_child
from dnnsplit.campaign.records import append_record, build_record, failure_result, now_iso, read_existing
from dnnsplit.campaign.tasks import OK_STATUSES, CampaignError, Settings, Task, solver_options

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")
# Imported once in the fork server (before any child forks; with one BLAS thread, importing
# them starts no thread), so no child pays for a solver package's lazy import inside its solve
# or warm-up. Names that fail to import are skipped. The catalogue comes after them.
PRELOAD = (
    "numpy", "scipy.sparse", "scipy.sparse.csgraph", "scipy.stats", "networkx", "highspy", "pyscipopt",
    "pyomo.environ", "pyomo.contrib.solver.common.factory", "pyomo.contrib.solver.common.results",
    "ortools.sat.python.cp_model", "ortools.graph.python.min_cost_flow", "numba",
)


# ---------------------------------------------------------------------------------------------
# the child's work


def _warmup_instance() -> Any:
    """A 3-node device-edge-cloud line with a 3-layer model: cheap for every pair."""
    from instances.io import instance_from_dict

    nodes = [
        {"name": n, "tier": n, "device_class": None, "speed": s, "power": p, "memory": 1e12}
        for n, s, p in (("device", 1e9, 5.0), ("edge", 1e10, 50.0), ("cloud", 1e11, 300.0))
    ]
    links = [
        {"source": a, "target": b, "bandwidth": bw, "delay": 1e-3, "energy_per_byte": 1e-7}
        for a, b, bw in (("device", "edge", 1e6), ("edge", "device", 1e6), ("edge", "cloud", 1e7), ("cloud", "edge", 1e7))
    ]
    layers = [
        {"name": f"l{i}", "flops": f, "output_bytes": o, "param_bytes": 1e6}
        for i, (f, o) in enumerate(((2e9, 4e5), (1e9, 1e5), (4e8, 1e3)))
    ]
    return instance_from_dict(
        {
            "format": "dnnsplit-instance",
            "version": 1,
            "name": "warmup",
            "utilisation_cap": 0.9,
            "generator": None,
            "nodes": nodes,
            "links": links,
            "models": [{"name": "m", "input_bytes": 6e5, "accuracy": None, "layers": layers, "exits": []}],
            "jobs": [{"name": "j0", "model": "m", "source": "device", "sink": "device", "rate": 1.0, "deadline": None, "accuracy_target": None}],
        }
    )


def solve_task(task: dict[str, Any], stage: Callable[..., None]) -> dict[str, Any]:
    """In the child: load the instance, warm up, say ready, solve; the result as a dict."""
    from dnnsplit import catalogue
    from dnnsplit.options import SolverOptions
    from instances.io import load

    spec = catalogue.get(task["formulation"], task["backend"])
    instance = load(task["instance_file"])
    options = SolverOptions(**task["options"])
    stage("loaded")
    warm = task["warmup"]
    info: dict[str, Any] = {"warmup": warm}
    if warm != "none":
        target = instance if warm == "same" else _warmup_instance()
        if spec.fits(target) or warm == "same":
            t0 = time.perf_counter()
            w = catalogue.run(spec, target, options)
            info["warmup_seconds"] = time.perf_counter() - t0
            info["warmup_status"] = w.status.value
        else:
            info["warmup_status"] = "skipped (pair does not fit the warm-up instance)"
    stage("ready", **info)
    return catalogue.run(spec, instance, options).to_dict()


# ---------------------------------------------------------------------------------------------
# the parent side of one task


class Runner:
    """Runs tasks one at a time in child processes from one multiprocessing context."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        for var in THREAD_VARS:  # before the fork server or any child starts
            os.environ.setdefault(var, str(settings.threads))
        self.ctx = mp.get_context(settings.start_method)
        if settings.start_method == "forkserver":
            from dnnsplit.catalogue import plugins

            heavy = list(PRELOAD) if settings.preload == "solvers" else []
            self.ctx.set_forkserver_preload([*heavy, "dnnsplit.catalogue", "dnnsplit.campaign.runner", "instances.io",
                                             *plugins()])
        self.tmp = Path(tempfile.mkdtemp(prefix="dnnsplit-bench-"))
        self.count = 0

    def close(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run(self, task: Task) -> dict[str, Any]:
        """Solve one task in a child; return the record fields from the result (or the failure)."""
        s = self.settings
        spec = task.spec
        options = solver_options(spec, s)
        payload = {
            "formulation": spec.formulation,
            "backend": spec.backend,
            "instance_file": str(task.entry.path),
            "options": options.to_dict(),
            "warmup": s.warmup,
        }
        self.count += 1
        limits = Limits(wall=s.time_limit + s.grace, address_space=s.memory_limit, ready_timeout=s.ready_timeout,
                        warmup_timeout=s.time_limit + s.grace)
        started = now_iso()
        out = run_in_child(self.ctx, solve_task, payload, limits, self.tmp, name=f"task{self.count}")
        elapsed = out.wall if out.wall is not None else 0.0
        fields: dict[str, Any] = {
            "started_at": started,
            "finished_at": now_iso(),
            "process_wall": out.wall,
            "exitcode": out.exitcode,
            "solver_time_limit_passed": options.time_limit is not None,
        }
        fields.update({k: v for k, v in out.extra.items() if k in ("warmup", "warmup_status", "warmup_seconds")})
        for k in ("baseline_rss", "peak_rss", "cpu_time"):
            if getattr(out, k) is not None:
                fields[k] = getattr(out, k)
        if out.value is not None:
            result = out.value
            if result.get("peak_memory") is None and out.peak_growth is not None:
                result["peak_memory"] = out.peak_growth
                fields["peak_memory_source"] = "resident high-water mark - resident before the solve"
        elif out.failure is not None:
            where = "" if out.stage == "ready" else f" (in the child, before the solve: stage {out.stage})"
            result = failure_result(spec, out.failure["status"], out.failure["message"] + where, elapsed)
        elif out.killed == "time":
            result = failure_result(
                spec, "time_limit",
                f"killed after {elapsed:.1f} s of wall clock (time limit {s.time_limit:g} s + grace {s.grace:g} s)",
                elapsed)
        elif out.killed == "memory":
            result = failure_result(spec, "memory_out", "killed: resident memory passed the limit", elapsed)
        elif out.killed == "ready" and out.stage == "loaded":
            result = failure_result(
                spec, "time_limit",
                f"the untimed warm-up solve ({s.warmup}) did not end within the time limit {s.time_limit:g} s + "
                f"grace {s.grace:g} s; killed", s.time_limit + s.grace)
        elif out.killed == "ready":
            result = failure_result(spec, "error", f"worker did not load the instance within {s.ready_timeout:g} s; killed",
                                    elapsed)
        else:
            status, message = classify_exit(out.exitcode, out.killed is not None, out.log)
            if out.stage != "ready":
                message += f" (before the solve: stage {out.stage})"
            result = failure_result(spec, status, message, elapsed)
        return {"result": result, "fields": fields}


# ---------------------------------------------------------------------------------------------
# progress and the campaign loop


def _clock(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    """'[ 12/40] 30% failed 1 skipped 2 elapsed 0:41 eta 1:35 F2/highspy small-003' on stderr."""

    def __init__(self, total: int, already: int, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.total, self.done, self.failed, self.skipped = total, already, 0, 0
        self.ran = 0
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.monotonic()
        self._width = 0

    def update(self, label: str, *, ran: bool = True, failed: bool = False, skipped: bool = False) -> None:
        self.done += 1
        self.ran += int(ran)
        self.failed += int(failed)
        self.skipped += int(skipped)
        self.show(label)

    def show(self, label: str = "", *, pending: bool = False) -> None:
        if not self.enabled or (pending and not self.tty):
            return
        elapsed = time.monotonic() - self.start
        remaining = self.total - self.done
        eta = elapsed / self.ran * remaining if self.ran else (0.0 if remaining == 0 else math.inf)
        pct = 100.0 * self.done / self.total if self.total else 100.0
        digits = len(str(self.total))
        line = (
            f"[{self.done:>{digits}}/{self.total}] {pct:3.0f}% failed {self.failed} skipped {self.skipped} "
            f"elapsed {_clock(elapsed)} eta {_clock(eta)} {label}"
        )
        if self.tty:
            pad = max(0, self._width - len(line))
            self.stream.write("\r" + line + " " * pad)
            self._width = len(line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()


@dataclass
class Summary:
    planned: int = 0
    already: int = 0
    ran: int = 0
    skipped: int = 0
    failed: int = 0
    by_status: dict[str, int] | None = None


def run_campaign(
    tasks: Sequence[Task],
    out: Path,
    settings: Settings,
    *,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    log: TextIO | None = None,
) -> Summary:
    """Run every task not yet in ``out`` and append its record; return counts."""
    from dnnsplit import machine

    log = log or sys.stderr
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists() and out.stat().st_size > 0 and not (resume or overwrite):
        raise CampaignError(f"{out} exists: pass --resume to continue it or --overwrite to start again")
    if overwrite and not resume:
        out.write_bytes(b"")
    existing = read_existing(out, repair=True, log=log) if resume else []
    status_of: dict[str, str] = {}
    for rec in existing:
        status_of.setdefault(rec["key"], str(rec.get("status")))
    todo = [t for t in tasks if t.key not in status_of]
    summary = Summary(planned=len(tasks), already=len(tasks) - len(todo), by_status={})
    if resume and existing:
        print(f"{out}: {len(existing)} records present, {summary.already} of {len(tasks)} planned tasks done", file=log)
    bar = Progress(len(tasks), summary.already, stream=log, enabled=progress)
    desc = machine.describe()
    settings_dict = asdict(settings)
    runner = Runner(settings) if todo else None
    try:
        with open(out, "a", encoding="utf-8") as fh:
            for task in todo:
                label = f"{task.spec.key} {task.entry.instance.name} r{task.repeat}"
                if task.repeat > 0 and status_of.get(task.first_key) not in OK_STATUSES:
                    summary.skipped += 1
                    bar.update(label + " (skipped: repeat 0 unsolved)", ran=False, skipped=True)
                    continue
                assert runner is not None
                bar.show(label + " ...", pending=True)
                outcome = runner.run(task)
                record = build_record(
                    outcome["result"],
                    instance=task.entry.instance,
                    spec=task.spec,
                    set_name=task.entry.set_name,
                    instance_file=str(task.entry.path),
                    repeat=task.repeat,
                    key=task.key,
                    source="campaign",
                    settings=settings_dict,
                    machine=desc,
                    extra_fields=outcome["fields"],
                )
                append_record(fh, record)
                status = record["status"]
                status_of[task.key] = status
                summary.ran += 1
                summary.by_status[status] = summary.by_status.get(status, 0) + 1
                bad = status not in OK_STATUSES
                summary.failed += int(bad)
                bar.update(label + f" {status}", failed=bad)
    finally:
        bar.finish()
        if runner is not None:
            runner.close()
    return summary


