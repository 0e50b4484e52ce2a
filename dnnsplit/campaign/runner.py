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

* Preloaded once per fork server (``preload.py``): the solver packages, the catalogue, numba's
  compiled kernels and one tiny solve by the compiled engine, so a short task costs a fork, the
  instance load, the warm-up and the result (about 40 ms on the reference machine, was 0.3 s
  when every child loaded numba's kernels from its disk cache).

Engines (:func:`run_campaign`'s ``engine``): :class:`SequentialEngine` (default: one task at a
time, the timing reference) or ``dask_engine.DaskEngine`` (``--workers N``, ``--scheduler``).
Either way this process is the only writer: records (``records.py``) are appended with flush +
fsync as each task ends, with ``engine``, ``worker``, ``concurrent_solves`` (the most campaign
solves running on that machine at once during this one: :class:`SolveSlots`), ``task_seconds``
(the whole task: child start to result), ``code_version`` and the worker's ``machine``.
``--resume`` skips tasks already in the file, whatever engine wrote them; records of another
code version (the key's ``@<version>``) are refused unless ``keep_other_versions``. Repeats
after the first run only where the first ended optimal or feasible (a pair that timed out once
would time out again); on Dask a repeat waits until its repeat 0 has ended.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import socket
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence, TextIO

from dnnsplit.campaign.child import Limits, classify_exit, run_in_child
from dnnsplit.campaign.progress import Progress, banner
from dnnsplit.campaign.records import append_record, build_record, failure_result, now_iso, read_existing
from dnnsplit.campaign.tasks import (OK_STATUSES, CampaignError, Settings, Task, code_version, key_version,
                                     solver_options, source_digest, task_id)

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
    """In the child: load the instance (and check its hash where the task asks: a file read
    from a shared path by a Dask worker), warm up, say ready, solve; the result as a dict."""
    from dnnsplit import catalogue
    from dnnsplit.options import SolverOptions
    from instances.io import load

    info: dict[str, Any] = {}
    if task.get("preload") == "solvers":
        from dnnsplit.graph.shortest import warm_up_jit

        # 0.0 when the fork server loaded the compiled kernels (preload.py), as it should
        info["jit_load_s"] = warm_up_jit()
    spec = catalogue.get(task["formulation"], task["backend"])
    instance = load(task["instance_file"])
    expected = task.get("instance_hash")
    if task.get("check_hash") and expected and instance.hash != expected:
        raise ValueError(f"instance file {task['instance_file']} has content hash {instance.hash}, the campaign "
                         f"planned {expected}: the file differs from the one the task was planned on")
    options = SolverOptions(**task["options"])
    stage("loaded")
    warm = task["warmup"]
    info["warmup"] = warm
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
# concurrent solves on this machine


class SolveSlots:
    """How many campaign solves run on this machine at once (any campaign process of this user).

    Each process that runs a solve holds a file named after its pid in a machine-local folder
    (``$TMPDIR/dnnsplit-solves-<uid>``) while the solve runs; :meth:`count` counts the files
    of live processes (and removes those of dead ones). A process runs one solve at a time.
    """

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or Path(tempfile.gettempdir()) / f"dnnsplit-solves-{os.getuid()}"
        self.mine = self.folder / str(os.getpid())

    def __enter__(self) -> "SolveSlots":
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.mine.write_text("")
        except OSError:
            pass
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            self.mine.unlink()
        except OSError:
            pass

    def count(self) -> int:
        n = 0
        try:
            names = os.listdir(self.folder)
        except OSError:
            return 1
        for name in names:
            try:
                os.kill(int(name), 0)
                n += 1
            except ValueError:
                continue
            except PermissionError:
                n += 1
            except ProcessLookupError:
                try:
                    (self.folder / name).unlink()
                except OSError:
                    pass
        return max(n, 1)


# ---------------------------------------------------------------------------------------------
# the parent side of one task


def task_payload(task: Task, settings: Settings, code: str) -> dict[str, Any]:
    """What a child (on this machine or a Dask worker) needs to run ``task``: JSON-ready."""
    spec = task.spec
    return {
        "key": task.key,
        "formulation": spec.formulation,
        "backend": spec.backend,
        "instance_file": str(task.entry.path) if task.entry.path is not None else None,
        "instance_hash": task.key.split("/", 1)[0],  # = task.entry.instance.hash, without hashing again
        "check_hash": False,  # the child re-hashes what it loads (Dask workers reading a shared path)
        "options": solver_options(spec, settings).to_dict(),
        "warmup": settings.warmup,
        "preload": settings.preload,
        "settings": asdict(settings),
        "code_version": code,
        "source_digest": source_digest(),
    }


def _settings_of(payload: dict[str, Any]) -> Settings:
    return Settings(**payload["settings"])


class Runner:
    """Runs tasks one at a time in child processes from one multiprocessing context."""

    def __init__(self, settings: Settings, workdir: Path | None = None) -> None:
        self.settings = settings
        for var in THREAD_VARS:  # before the fork server or any child starts
            os.environ.setdefault(var, str(settings.threads))
        self.ctx = mp.get_context(settings.start_method)
        if settings.start_method == "forkserver":
            from dnnsplit.catalogue import plugins

            heavy = list(PRELOAD) if settings.preload in ("solvers", "imports") else []
            warm = ["dnnsplit.campaign.preload"] if settings.preload == "solvers" else []
            self.ctx.set_forkserver_preload([*heavy, "dnnsplit.catalogue", "dnnsplit.campaign.runner", "instances.io",
                                             *plugins(), *warm])
        if workdir is not None:
            workdir.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix="dnnsplit-bench-", dir=workdir))
        self.count = 0
        self.slots = SolveSlots()

    def close(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run(self, task: Task) -> dict[str, Any]:
        """Solve one task in a child; return the record fields from the result (or the failure)."""
        return self.run_payload(task_payload(task, self.settings, code_version()))

    def run_payload(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Solve the task of ``payload`` (:func:`task_payload`) in a child: ``{"result", "fields"}``."""
        from dnnsplit import catalogue

        t_task = time.perf_counter()
        s = _settings_of(payload)
        spec = catalogue.get(payload["formulation"], payload["backend"])
        self.count += 1
        limits = Limits(wall=s.time_limit + s.grace, address_space=s.memory_limit, ready_timeout=s.ready_timeout,
                        warmup_timeout=s.time_limit + s.grace)
        started = now_iso()
        with self.slots:
            concurrent = [self.slots.count()]
            last = [time.monotonic()]

            def watch() -> None:  # sample the machine's solves about once a second
                if time.monotonic() - last[0] >= 1.0:
                    last[0] = time.monotonic()
                    concurrent.append(self.slots.count())

            out = run_in_child(self.ctx, solve_task, payload, limits, self.tmp, name=f"task{self.count}", watch=watch)
            concurrent.append(self.slots.count())
        elapsed = out.wall if out.wall is not None else 0.0
        fields: dict[str, Any] = {
            "started_at": started,
            "finished_at": now_iso(),
            "process_wall": out.wall,
            "exitcode": out.exitcode,
            "solver_time_limit_passed": payload["options"].get("time_limit") is not None,
            "concurrent_solves": max(concurrent),
            "code_version": payload.get("code_version"),
        }
        fields.update({k: v for k, v in out.extra.items() if k in ("warmup", "warmup_status", "warmup_seconds", "jit_load_s")})
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
        fields["task_seconds"] = time.perf_counter() - t_task  # the whole task: child start to its end
        return {"result": result, "fields": fields}


# ---------------------------------------------------------------------------------------------
# engines: where tasks run


@dataclass
class Done:
    """A finished task: what the engine ran it on and what came back."""

    task: Task
    outcome: dict[str, Any]  # {"result", "fields"[, "machine"]}


class SequentialEngine:
    """Today's runner: one task at a time in a child of this process (the timing reference)."""

    name = "sequential"

    def __init__(self) -> None:
        self._runners: dict[tuple[Any, ...], Runner] = {}
        self._queued: list[tuple[Task, Settings]] = []
        self._running: tuple[Task, float] | None = None
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self.code = code_version()

    def describe(self) -> str:
        return "sequential (one solve at a time in this process's children)"

    def workers(self) -> int:
        return 1

    def capacity(self) -> int:
        return 1

    def in_flight(self) -> int:
        return len(self._queued)

    def submit(self, task: Task, settings: Settings) -> None:
        self._queued.append((task, settings))

    def running(self) -> list[tuple[Task, float]]:
        return [self._running] if self._running else []

    def busy(self) -> tuple[int, int]:
        return (1 if self._running else 0), 1

    def _runner(self, settings: Settings) -> Runner:
        which = (settings.start_method, settings.preload, settings.threads)
        if which not in self._runners:
            self._runners[which] = Runner(settings)
        runner = self._runners[which]
        runner.settings = settings
        return runner

    def wait(self, timeout: float) -> list[Done]:
        if not self._queued:
            return []
        task, settings = self._queued.pop(0)
        self._running = (task, time.monotonic())
        try:
            outcome = self._runner(settings).run_payload(task_payload(task, settings, self.code))
        finally:
            self._running = None
        outcome["fields"].update({"engine": self.name, "worker": self.worker})
        return [Done(task, outcome)]

    def close(self) -> None:
        for runner in self._runners.values():
            runner.close()
        self._runners.clear()


# ---------------------------------------------------------------------------------------------
# resuming: what is done already


@dataclass
class ResumeState:
    records: int = 0  # records in the file
    status_of: dict[str, str] = field(default_factory=dict)  # task id (key without version) -> status
    other_versions: dict[str, int] = field(default_factory=dict)  # code version -> records of planned tasks
    kept_other: int = 0  # records of other code versions counted as done (--keep-other-versions)


def resume_state(tasks: Sequence[Task], existing: Sequence[dict[str, Any]], *, keep_other_versions: bool,
                 out: Path) -> ResumeState:
    """Which planned tasks ``existing`` records hold. Records of a planned task measured by
    another code version are refused (CampaignError) unless ``keep_other_versions``."""
    code = code_version()
    planned = {task_id(t.key) for t in tasks}
    state = ResumeState(records=len(existing))
    for rec in existing:
        key = rec["key"]
        tid = task_id(key)
        version = key_version(key)
        if version != code:
            if tid not in planned:
                continue
            label = version or "none (keys written before they carried a code version)"
            state.other_versions[label] = state.other_versions.get(label, 0) + 1
            if not keep_other_versions:
                continue
            state.kept_other += 1
        state.status_of.setdefault(tid, str(rec.get("status")))
    if state.other_versions and not keep_other_versions:
        raise other_versions_error(out, state.other_versions)
    return state


def other_versions_error(out: Path, other_versions: dict[str, int]) -> CampaignError:
    """The refusal of records measured by another code version, with what to do."""
    counts = ", ".join(f"{v}: {n}" for v, n in sorted(other_versions.items()))
    total = sum(other_versions.values())
    return CampaignError(
        f"{out}: {total} records of the planned tasks were measured by another code version ({counts}); "
        f"this code is {code_version()}. Pass --keep-other-versions (make ... KEEP_VERSIONS=1) to count them as done "
        f"(the file then mixes versions; each record names its own), or start a new results file (--overwrite, or "
        f"make reproduce without RESUME=1) to measure everything with this code")


def open_results(out: Path, *, resume: bool, overwrite: bool, dry_run: bool = False, log: TextIO | None = None
                 ) -> list[dict[str, Any]]:
    """Check ``out`` and return the records already in it (``resume``), with one-line errors for
    a folder, an unreadable path or a file that needs --resume/--overwrite. Truncates it for
    ``overwrite``; ``dry_run`` changes nothing on disk."""
    if out.is_dir():
        raise CampaignError(f"--out {out}: is a folder; give the results file, e.g. {out / 'campaign.jsonl'}")
    if out.exists() and not out.is_file():
        raise CampaignError(f"--out {out}: not a regular file")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise CampaignError(f"--out {out}: {parent} is a file, not a folder")
            break
    if resume and overwrite:
        raise CampaignError("--resume and --overwrite exclude each other: --resume continues the file, --overwrite empties it")
    if out.exists() and out.stat().st_size > 0 and not (resume or overwrite):
        raise CampaignError(f"{out} exists: pass --resume to continue it or --overwrite to start again")
    if dry_run:
        return read_existing(out, repair=False) if resume else []
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if overwrite:
            out.write_bytes(b"")
        existing = read_existing(out, repair=True, log=log) if resume else []
        with open(out, "a", encoding="utf-8"):
            pass
    except OSError as err:
        raise CampaignError(f"--out {out}: cannot write: {err.strerror or err}") from None
    return existing


# ---------------------------------------------------------------------------------------------
# the campaign loop


@dataclass
class Summary:
    planned: int = 0
    already: int = 0
    ran: int = 0
    skipped: int = 0
    failed: int = 0  # errors (crash, exception): what needs a look
    limits: int = 0  # stopped by the time or memory limit
    by_status: dict[str, int] | None = None


def classify(status: str) -> str:
    """'solved', 'answered' (proven infeasible, or a heuristic found nothing: a result, not a
    failure), 'limit' (time or memory) or 'error'."""
    if status in OK_STATUSES:
        return "solved"
    if status in ("infeasible", "no_solution"):
        return "answered"
    if status in ("time_limit", "memory_out"):
        return "limit"
    return "error"


def run_campaign(
    tasks: Sequence[Task],
    out: Path,
    settings: Settings,
    *,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool | Progress = True,
    log: TextIO | None = None,
    engine: Any = None,
    keep_other_versions: bool = False,
) -> Summary:
    """Run every task not yet in ``out`` on ``engine`` (default: sequential) and append its
    record as it ends (this process is the only writer); return counts.

    ``progress`` may be a :class:`Progress` shared by several calls (``make reproduce``: one
    overall ETA over its stages). An engine passed in stays open; one made here is closed.
    """
    from dnnsplit import machine

    log = log or sys.stderr
    existing = open_results(out, resume=resume, overwrite=overwrite, log=log)
    state = resume_state(tasks, existing, keep_other_versions=keep_other_versions, out=out)
    status_of = state.status_of
    todo = [t for t in tasks if task_id(t.key) not in status_of]
    summary = Summary(planned=len(tasks), already=len(tasks) - len(todo), by_status={})
    if resume and existing and not isinstance(progress, Progress):  # a shared progress: its caller reports
        kept = f" ({state.kept_other} measured by other code versions, kept)" if state.kept_other else ""
        print(f"{out}: {len(existing)} records present, {summary.already} of {len(tasks)} planned tasks done{kept}", file=log)
    own_engine = engine is None
    if own_engine and todo:
        engine = SequentialEngine()
    if isinstance(progress, Progress):
        bar, own_bar = progress, False
    else:
        bar, own_bar = Progress(stream=log, enabled=bool(progress)), True
        bar.add_tasks(tasks, settings)
        todo_ids = {task_id(t.key) for t in todo}
        bar.mark_done([t for t in tasks if task_id(t.key) not in todo_ids])
        bar.prior_from_records(existing)
        if progress and todo:
            text = banner(len(tasks), len(todo), [settings], bar.estimate,
                          engine.describe() if engine is not None else "sequential", engine.workers() if engine else 1)
            print(f"dnnsplit bench: {text}", file=log)
    desc = machine.describe()
    settings_dict = asdict(settings)
    ids_left = {task_id(t.key) for t in todo}
    try:
        with open(out, "a", encoding="utf-8") as fh:
            if not todo:
                return summary
            bar.attach(engine)
            queue = list(todo)
            waiting: list[Task] = []  # repeats whose repeat 0 is still running
            while queue or waiting or engine.in_flight():
                # hand the engine what it can take; a repeat goes only after its repeat 0 solved
                while queue and engine.in_flight() < engine.capacity():
                    task = queue.pop(0)
                    first = task_id(task.first_key)
                    if task.repeat > 0 and first not in status_of and first in ids_left:
                        waiting.append(task)
                        continue
                    if task.repeat > 0 and status_of.get(first) not in OK_STATUSES:
                        summary.skipped += 1
                        ids_left.discard(task_id(task.key))
                        bar.finished(task, None, skipped=True)
                        continue
                    engine.submit(task, settings)
                for done in engine.wait(timeout=bar.tick_seconds()):
                    task, outcome = done.task, done.outcome
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
                        machine=outcome.get("machine") or desc,
                        extra_fields=outcome["fields"],
                    )
                    append_record(fh, record)
                    status = record["status"]
                    status_of[task_id(task.key)] = status
                    ids_left.discard(task_id(task.key))
                    summary.ran += 1
                    summary.by_status[status] = summary.by_status.get(status, 0) + 1
                    kind = classify(status)
                    summary.failed += int(kind == "error")
                    summary.limits += int(kind == "limit")
                    bar.finished(task, record)
                    # repeats waiting for this task go back to the front of the queue
                    released = [t for t in waiting if task_id(t.first_key) == task_id(task.key)]
                    if released:
                        waiting = [t for t in waiting if t not in released]
                        queue[:0] = released
                bar.tick()
                if not queue and waiting and not engine.in_flight():  # cannot happen: a waiting repeat's first ran
                    queue, waiting = waiting, []
    finally:
        bar.detach()
        if own_bar:
            bar.finish()
        if own_engine and engine is not None:
            engine.close()
    return summary
