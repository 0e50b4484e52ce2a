"""``dnnsplit bench``: a benchmark campaign, one process per solve, one JSON line per result.

    dnnsplit bench --sets small medium --pairs 'F2/*' 'F1-weak/highspy' --repeat 3 \\
        --time-limit 60 --memory-limit 4G --out results/campaign.jsonl [--resume]

Tasks are (instance, pair, repeat) for every instance of the named sets (names from
``instances.defaults.SET_NAMES``, or instance files and folders), every registered pair whose
key matches one of the ``--pairs`` patterns (fnmatch) and that ``spec.fits`` the instance.
Order: repeat, then set, then instance, then pair. Repeats after the first run only where the
first ended optimal or feasible (a pair that timed out once would time out again).

Measurement, per task:

* Each solve runs in its own child process (multiprocessing ``forkserver`` by default: a server
  process imports the registry and every formulation once, and each task is a fork of it, so a
  task starts in milliseconds; ``--start-method spawn`` starts a fresh interpreter instead).
  The child loads the instance, optionally warms up (``--warmup tiny``: one untimed solve of
  the same pair on a built-in 3-node instance, so lazy imports and first-call initialisation
  are not timed; ``same``: one untimed solve of the same instance; ``none``), applies the
  memory limit, tells the parent it is ready, and only then solves. Process start, imports,
  instance loading and warm-up are outside every timing.
* ``build_time`` and ``solve_time`` are the backend's own split (its ``time.perf_counter``),
  ``wall_time`` is the registry's timing of the whole ``spec.solve`` call, ``process_wall`` the
  parent's clock from "ready" to the child's exit, ``cpu_time`` the child's user+system time
  during the solve (a check that the solve used one thread).
* Time limit: backends that accept ``time_limit`` get ``--time-limit``; every child is killed
  after ``--time-limit + --grace`` seconds of wall clock anyway (status ``time_limit``).
* Memory limit: ``RLIMIT_AS`` of the child is set to its address-space size after loading plus
  ``--memory-limit``, so the limit bounds what the solve itself allocates. A ``MemoryError``, a
  ``std::bad_alloc`` in the child's last output, or a SIGKILL the campaign did not send
  (the kernel's OOM killer) gives status ``memory_out``.
* A child that crashes (signal, ``os._exit``, no result) gives status ``error`` with the exit
  code or signal and the last lines of its output. The campaign goes on with the next task.
* Single-threaded by default: ``--threads 1`` is the solver option and the BLAS/OpenMP thread
  variables are set to it before any child starts. ``--seed`` is passed where accepted.

Records (one JSON object per line, appended with flush + fsync as each task ends) carry the
full :class:`dnnsplit.results.SolveResult` plus the set, instance sizes and generator
parameters, the placement of job 0 by node and tier, the campaign settings, timestamps and a
machine description (:func:`dnnsplit.machine.describe`). ``key`` identifies the task (instance
hash, pair, repeat, campaign settings); ``--resume`` skips keys already in the file and repairs
a truncated last line (from a kill mid-write) by dropping it, so its task runs again.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import fnmatch
import hashlib
import json
import math
import multiprocessing as mp
import os
import resource
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence, TextIO

RECORD_SCHEMA = "dnnsplit-bench-record"
RECORD_VERSION = 1
OK_STATUSES = frozenset({"optimal", "feasible"})
WARMUP_MODES = ("tiny", "same", "none")
START_METHODS = ("forkserver", "spawn")
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")
# Imported once in the fork server (before any child forks; with one BLAS thread, importing
# them starts no thread), so no child pays for a solver package's lazy import inside its solve
# or warm-up. Names that fail to import are skipped. The registry modules come after them.
PRELOAD = (
    "numpy", "scipy.sparse", "scipy.sparse.csgraph", "scipy.stats", "networkx", "highspy", "pyomo.environ",
    "pyomo.contrib.solver.common.factory", "pyomo.contrib.solver.common.results",
    "ortools.sat.python.cp_model", "ortools.graph.python.min_cost_flow", "numba",
)
MEMORY_HINTS = ("MemoryError", "bad_alloc", "Cannot allocate memory", "out of memory", "Out of memory")


class CampaignError(Exception):
    """An expected failure (bad argument, unknown set, malformed results file): exit 2."""


# ---------------------------------------------------------------------------------------------
# settings, tasks and keys


@dataclass(frozen=True)
class Settings:
    """Campaign-wide settings; those in :meth:`key_fields` are part of every task key."""

    time_limit: float = 60.0
    grace: float = 5.0
    memory_limit: int | None = None  # bytes the solve may add to the child's address space
    threads: int = 1
    seed: int = 0
    mip_gap: float | None = None
    warmup: str = "tiny"
    ready_timeout: float = 120.0  # loading the instance; the warm-up gets time_limit + grace
    start_method: str = "forkserver"
    preload: str = "solvers"  # fork server imports: "solvers" (PRELOAD + registry) or "registry"

    def key_fields(self) -> dict[str, Any]:
        return {
            "time_limit": self.time_limit,
            "memory_limit": self.memory_limit,
            "threads": self.threads,
            "seed": self.seed,
            "mip_gap": self.mip_gap,
        }


def parse_memory(text: str | int | None) -> int | None:
    """'4G', '512M', '1.5GiB', '2000000' -> bytes; None/'none'/'0' -> no limit."""
    if text is None:
        return None
    if isinstance(text, int):
        return text or None
    t = str(text).strip().lower().removesuffix("ib").removesuffix("b")
    if t in ("", "none", "0", "inf"):
        return None
    factor = {"k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}.get(t[-1], 1)
    number = t[:-1] if t[-1] in "kmgt" else t
    try:
        value = float(number) * factor
    except ValueError:
        raise CampaignError(f"--memory-limit: cannot read {text!r} (examples: 4G, 512M)") from None
    if value <= 0:
        raise CampaignError(f"--memory-limit must be positive, got {text!r}")
    return int(value)


def task_key(instance_hash: str, pair: str, repeat: int, settings: Settings) -> str:
    """'<instance hash>/<pair>/r<repeat>/<8 hex of the settings>': unique per task."""
    digest = hashlib.sha256(json.dumps(settings.key_fields(), sort_keys=True).encode()).hexdigest()[:8]
    return f"{instance_hash}/{pair}/r{repeat}/{digest}"


@dataclass(frozen=True)
class InstanceEntry:
    set_name: str
    path: Path | None  # None: generated in memory (pytest-benchmark suite)
    instance: Any  # instances.model.Instance


@dataclass(frozen=True)
class Task:
    entry: InstanceEntry
    spec: Any  # dnnsplit.registry.SolverSpec
    repeat: int
    key: str
    first_key: str  # key of repeat 0 of the same (instance, pair)


def _spread(items: list[Any], n: int | None) -> list[Any]:
    """At most n items, evenly spaced and including the first and last (deterministic)."""
    if n is None or len(items) <= n:
        return items
    if n <= 1:
        return items[:1]
    idx = sorted({round(i * (len(items) - 1) / (n - 1)) for i in range(n)})
    return [items[i] for i in idx]


def resolve_sets(names: Sequence[str], instances_dir: Path | None, max_instances: int | None = None) -> list[InstanceEntry]:
    """Instance entries for each name: a default set or an instance file or folder.

    A default set is written to ``instances_dir`` (the campaign's children read files), or
    generated in memory when ``instances_dir`` is None.
    """
    from instances.io import load

    entries: list[InstanceEntry] = []
    for name in names:
        p = Path(name)
        if p.is_dir() or p.is_file():
            paths = sorted(p.rglob("*.json")) if p.is_dir() else [p]
            set_name = p.name if p.is_dir() else (p.parent.name or p.stem)
            if not paths:
                raise CampaignError(f"set {name!r}: no instance files (*.json) found")
            found = [InstanceEntry(set_name, path, load(path)) for path in _spread(paths, max_instances)]
        else:
            try:
                from instances import defaults
            except ImportError as err:
                raise CampaignError(f"set {name!r} is not a file or folder, and the default sets are unavailable ({err})") from None
            if name not in defaults.SET_NAMES:
                raise CampaignError(f"unknown set {name!r}: not a file or folder; default sets: {', '.join(defaults.SET_NAMES)}")
            if instances_dir is None:
                found = [InstanceEntry(name, None, inst) for inst in _spread(list(defaults.default_set(name)), max_instances)]
            else:
                paths = [Path(x) for x in defaults.write_default_sets(instances_dir, sets=[name])]
                found = [InstanceEntry(name, path, load(path)) for path in _spread(paths, max_instances)]
        if not found:
            raise CampaignError(f"set {name!r} holds no instance")
        entries.extend(found)
    return entries


def select_pairs(patterns: Sequence[str]) -> list[Any]:
    """Registered specs whose key matches any pattern; a pattern that matches nothing is an error."""
    from dnnsplit import registry

    all_specs = registry.specs()
    chosen = []
    for pattern in patterns:
        hit = [s for s in all_specs if fnmatch.fnmatchcase(s.key, pattern)]
        if not hit:
            known = ", ".join(s.key for s in all_specs) or "none"
            raise CampaignError(f"--pairs {pattern!r} matches no registered pair (registered: {known})")
        chosen.extend(s for s in hit if s not in chosen)
    return sorted(chosen, key=lambda s: s.key)


def plan(entries: Sequence[InstanceEntry], specs: Sequence[Any], repeat: int, settings: Settings) -> list[Task]:
    tasks = []
    for r in range(repeat):
        for entry in entries:
            for spec in specs:
                if not spec.fits(entry.instance):
                    continue
                key = task_key(entry.instance.hash, spec.key, r, settings)
                first = task_key(entry.instance.hash, spec.key, 0, settings)
                tasks.append(Task(entry, spec, r, key, first))
    return tasks


def solver_options(spec: Any, settings: Settings) -> Any:
    """The SolverOptions a pair gets: only the options it accepts (one thread by default)."""
    from dnnsplit.options import SolverOptions

    kw: dict[str, Any] = {}
    if settings.time_limit and "time_limit" in spec.accepts:
        kw["time_limit"] = settings.time_limit
    if settings.threads != 1 and "threads" in spec.accepts:
        kw["threads"] = settings.threads
    if settings.seed != 0 and "seed" in spec.accepts:
        kw["seed"] = settings.seed
    if settings.mip_gap is not None and "mip_gap" in spec.accepts:
        kw["mip_gap"] = settings.mip_gap
    return SolverOptions(**kw)


# ---------------------------------------------------------------------------------------------
# records


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def placement_summary(instance: Any, decision: Any) -> dict[str, Any] | None:
    """Node and tier of each layer of job 0's main route (single-job instances only)."""
    if decision is None or len(instance.jobs) != 1:
        return None
    if isinstance(decision, list):  # JSON form
        routes = next((d["routes"] for d in decision if int(d["job"]) == 0), None)
        if not routes:
            return None
        route = max(routes, key=lambda r: float(r.get("share", 1.0)))
        placement = [int(n) for n in route["placement"]]
    else:
        routes = decision.get(0)
        if not routes:
            return None
        placement = [int(n) for n in max(routes, key=lambda r: r.share).placement]
    net = instance.network
    job = instance.jobs[0]
    return {
        "nodes": [net.node_names[n] for n in placement],
        "tiers": [net.tier[n] for n in placement],
        "source": net.node_names[job.source],
        "source_tier": net.tier[job.source],
        "sink": net.node_names[job.sink],
    }


def _jsonable(x: Any) -> Any:
    try:
        json.dumps(x)
        return x
    except TypeError:
        return json.loads(json.dumps(x, default=lambda v: v.item() if hasattr(v, "item") else str(v)))


def build_record(
    result: dict[str, Any],
    *,
    instance: Any,
    spec: Any,
    set_name: str,
    instance_file: str | None,
    repeat: int,
    key: str,
    source: str,
    settings: dict[str, Any] | None = None,
    machine: dict[str, Any] | None = None,
    extra_fields: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One analysable record: the SolveResult fields plus everything the tables group by."""
    from dnnsplit import machine as _machine

    rec: dict[str, Any] = {"schema": RECORD_SCHEMA, "schema_version": RECORD_VERSION, "key": key, "source": source}
    rec.update(result)
    rec.update(
        {
            "pair": spec.key,
            "problem": spec.problem,
            "kind": spec.kind,
            "set": set_name,
            "instance_id": instance.name,
            "instance_hash": instance.hash,
            "instance_file": instance_file,
            "sizes": dict(instance.sizes),
            "instance_generator": _jsonable(dict(instance.generator)) if instance.generator else None,
            "models": [instance.models[j.model].name for j in instance.jobs[:1]] if instance.jobs else [],
            "repeat": repeat,
            "placement": placement_summary(instance, result.get("decision")),
            "campaign": settings,
            "machine": machine if machine is not None else _machine.describe(),
        }
    )
    if extra_fields:
        rec.update(extra_fields)
    return rec


def failure_result(spec: Any, status: str, message: str, elapsed: float) -> dict[str, Any]:
    from dnnsplit.results import SolveResult, Status

    r = SolveResult(spec.formulation, spec.backend, Status(status), message=message, objective_name=spec.objective)
    r.solve_time = elapsed
    r.wall_time = elapsed
    return r.to_dict()


def read_existing(path: Path, *, repair: bool, log: TextIO | None = None) -> list[dict[str, Any]]:
    """Records already in a campaign file.

    A last line without its newline is what a kill mid-write leaves: if it parses it is kept
    (the newline is added), otherwise it is reported and cut off so its task runs again. Any
    other line that is not a JSON object with a ``key`` is an error naming file and line.
    """
    if not path.exists():
        return []
    data = path.read_bytes()
    parts = data.split(b"\n")
    complete, tail = parts[:-1], parts[-1]
    records: list[dict[str, Any]] = []
    for lineno, line in enumerate(complete, 1):
        if not line.strip():
            continue
        records.append(_parse_line(path, lineno, line))
    if tail.strip():
        lineno = len(complete) + 1
        try:
            rec = _parse_line(path, lineno, tail)
        except CampaignError:
            rec = None
        if not repair:
            return records + ([rec] if rec else [])
        with open(path, "r+b") as fh:
            if rec is None:
                fh.truncate(len(data) - len(tail))
                msg = f"{path}:{lineno}: truncated last line ({len(tail)} bytes) dropped; its task runs again"
            else:
                fh.seek(0, os.SEEK_END)
                fh.write(b"\n")
                records.append(rec)
                msg = f"{path}:{lineno}: last record had no newline; newline added"
            fh.flush()
            os.fsync(fh.fileno())
        if log is not None:
            print(msg, file=log)
    return records


def _parse_line(path: Path, lineno: int, line: bytes) -> dict[str, Any]:
    try:
        rec = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CampaignError(f"{path}:{lineno}: not valid JSON ({err})") from None
    if not isinstance(rec, dict) or not isinstance(rec.get("key"), str):
        raise CampaignError(f"{path}:{lineno}: not a campaign record (no 'key')")
    return rec


def append_record(fh: Any, record: dict[str, Any]) -> None:
    """One line per record, written with one write call, then flushed and fsynced."""
    from dnnsplit.results import _json_default

    fh.write(json.dumps(record, default=_json_default, allow_nan=True) + "\n")
    fh.flush()
    os.fsync(fh.fileno())


# ---------------------------------------------------------------------------------------------
# the child process


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


def _page_size() -> int:
    return os.sysconf("SC_PAGE_SIZE")


def _statm() -> tuple[int, int]:
    """(address space, resident) bytes of this process."""
    try:
        vm, rss = (int(x) for x in Path("/proc/self/statm").read_text().split()[:2])
        return vm * _page_size(), rss * _page_size()
    except (OSError, ValueError):
        return 0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


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


def _child_main(task: dict[str, Any], conn: Any, result_path: str, log_path: str) -> None:
    """Runs in the child: load, warm up, limit memory, say ready, solve, write the result file."""
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    import faulthandler

    faulthandler.enable()
    _die_with_parent()
    out: dict[str, Any] = {}
    try:
        from dnnsplit import registry
        from dnnsplit.options import SolverOptions
        from instances.io import load

        spec = registry.get(task["formulation"], task["backend"])
        instance = load(task["instance_file"])
        options = SolverOptions(**task["options"])
        conn.send("loaded")
        warm = task["warmup"]
        out["warmup"] = warm
        if warm != "none":
            target = instance if warm == "same" else _warmup_instance()
            if spec.fits(target) or warm == "same":
                t0 = time.perf_counter()
                w = registry.run(spec, target, options)
                out["warmup_seconds"] = time.perf_counter() - t0
                out["warmup_status"] = w.status.value
            else:
                out["warmup_status"] = "skipped (pair does not fit the warm-up instance)"
        vm, rss = _statm()
        out["baseline_rss"] = rss
        old_limit = resource.getrlimit(resource.RLIMIT_AS)
        if task.get("memory_limit"):
            cap = vm + int(task["memory_limit"])
            if old_limit[1] != resource.RLIM_INFINITY:
                cap = min(cap, old_limit[1])
            resource.setrlimit(resource.RLIMIT_AS, (cap, old_limit[1]))
        usage0 = resource.getrusage(resource.RUSAGE_SELF)
        conn.send("ready")
        result = registry.run(spec, instance, options)
        usage1 = resource.getrusage(resource.RUSAGE_SELF)
        resource.setrlimit(resource.RLIMIT_AS, old_limit)
        out["cpu_time"] = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
        out["peak_rss"] = usage1.ru_maxrss * 1024
        out["result"] = result.to_dict()
    except BaseException as err:  # noqa: BLE001 - reported to the parent as an error record
        try:
            resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        except (ValueError, OSError):
            pass
        status = "memory_out" if isinstance(err, MemoryError) else "error"
        out["failure"] = {"status": status, "message": f"{type(err).__name__}: {err}"}
    from dnnsplit.results import _json_default

    tmp = result_path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(out, fh, default=_json_default)
    os.replace(tmp, result_path)
    conn.close()


# ---------------------------------------------------------------------------------------------
# the parent side of one task


def _read_log(path: Path) -> str:
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


class Runner:
    """Runs tasks one at a time in child processes from one multiprocessing context."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        for var in THREAD_VARS:  # before the fork server or any child starts
            os.environ.setdefault(var, str(settings.threads))
        self.ctx = mp.get_context(settings.start_method)
        if settings.start_method == "forkserver":
            plugins = [m.strip() for m in os.environ.get("DNNSPLIT_PLUGINS", "").split(",") if m.strip()]
            heavy = list(PRELOAD) if settings.preload == "solvers" else []
            self.ctx.set_forkserver_preload([*heavy, "dnnsplit.registry", "formulations", "instances.io", *plugins])
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
            "memory_limit": s.memory_limit,
            "warmup": s.warmup,
        }
        self.count += 1
        result_path = self.tmp / f"task{self.count}.json"
        log_path = self.tmp / f"task{self.count}.log"
        recv, send = self.ctx.Pipe(duplex=False)
        proc = self.ctx.Process(target=_child_main, args=(payload, send, str(result_path), str(log_path)), daemon=True)
        started = now_iso()
        proc.start()
        send.close()
        killed = False
        stage = "start"  # -> "loaded" (instance read) -> "ready" (warm-up done, solve starts)
        try:
            for wanted, wait in (("loaded", s.ready_timeout), ("ready", s.time_limit + s.grace)):
                if not recv.poll(wait):
                    break
                try:
                    message = recv.recv()
                except (EOFError, OSError):
                    break
                if message != wanted:
                    break
                stage = wanted
            t0 = time.perf_counter()
            if stage == "ready":
                proc.join(s.time_limit + s.grace)
            elif proc.is_alive():
                proc.join(1.0)
            if proc.is_alive():
                proc.kill()
                killed = True
            proc.join()
        finally:
            if proc.is_alive():  # KeyboardInterrupt while waiting
                proc.kill()
                proc.join()
            recv.close()
        elapsed = time.perf_counter() - t0
        fields: dict[str, Any] = {
            "started_at": started,
            "finished_at": now_iso(),
            "process_wall": elapsed if stage == "ready" else None,
            "exitcode": proc.exitcode,
            "solver_time_limit_passed": options.time_limit is not None,
        }
        child: dict[str, Any] = {}
        if result_path.exists() and not killed:
            try:
                child = json.loads(result_path.read_text())
            except (OSError, json.JSONDecodeError):
                child = {}
        for k in ("warmup", "warmup_status", "warmup_seconds", "baseline_rss", "peak_rss", "cpu_time"):
            if k in child:
                fields[k] = child[k]
        if "result" in child:
            result = child["result"]
            if result.get("peak_memory") is None and "peak_rss" in child and "baseline_rss" in child:
                result["peak_memory"] = max(0, int(child["peak_rss"]) - int(child["baseline_rss"]))
                fields["peak_memory_source"] = "peak_rss - baseline_rss"
        elif "failure" in child:
            f = child["failure"]
            where = "" if stage == "ready" else f" (in the child, before the solve: stage {stage})"
            result = failure_result(spec, f["status"], f["message"] + where, elapsed)
        elif killed and stage == "ready":
            result = failure_result(
                spec,
                "time_limit",
                f"killed after {elapsed:.1f} s of wall clock (time limit {s.time_limit:g} s + grace {s.grace:g} s)",
                elapsed,
            )
        elif killed and stage == "loaded":
            result = failure_result(
                spec,
                "time_limit",
                f"the untimed warm-up solve ({s.warmup}) did not end within the time limit {s.time_limit:g} s + grace {s.grace:g} s; killed",
                s.time_limit + s.grace,
            )
        elif killed:
            result = failure_result(spec, "error", f"worker did not load the instance within {s.ready_timeout:g} s; killed", elapsed)
        else:
            status, message = classify_exit(proc.exitcode, killed, _read_log(log_path))
            if stage != "ready":
                message += f" (before the solve: stage {stage})"
            result = failure_result(spec, status, message, elapsed)
        for p in (result_path, log_path):
            p.unlink(missing_ok=True)
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


# ---------------------------------------------------------------------------------------------
# command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = "Run a benchmark campaign: one process per solve, one JSON line per result."
    parser.add_argument("--sets", nargs="+", default=["small"], metavar="SET", help="default set names, instance files or folders (default: small)")
    parser.add_argument("--pairs", nargs="+", default=["*"], metavar="PATTERN", help="FORMULATION/BACKEND patterns (fnmatch), e.g. 'F2/*' (default: every registered pair)")
    parser.add_argument("--repeat", type=int, default=1, help="solves per (instance, pair), for noise estimates (default 1)")
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds per solve (passed to backends that accept it; hard kill after it plus --grace)")
    parser.add_argument("--grace", type=float, default=5.0, help="seconds after the time limit before the child is killed (default 5)")
    parser.add_argument("--memory-limit", default=None, help="address space the solve may add, e.g. 4G (default: none)")
    parser.add_argument("--threads", type=int, default=1, help="solver threads (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mip-gap", type=float, default=None, help="relative MIP gap, a fraction (where accepted)")
    parser.add_argument("--warmup", choices=WARMUP_MODES, default="tiny", help="untimed warm-up solve in each child (default tiny)")
    parser.add_argument("--out", default="results/campaign.jsonl", help="results file, JSON lines (default results/campaign.jsonl)")
    parser.add_argument("--resume", action="store_true", help="skip tasks already in --out (repairs a truncated last line)")
    parser.add_argument("--overwrite", action="store_true", help="start --out again from empty")
    parser.add_argument("--instances-dir", default="instances/default", help="where named default sets are written (default instances/default)")
    parser.add_argument("--max-instances", type=int, default=None, help="at most N instances per set, evenly spread")
    parser.add_argument("--start-method", choices=START_METHODS, default="forkserver")
    parser.add_argument("--preload", choices=("solvers", "registry"), default="solvers",
                        help="what the fork server imports once: solver packages and the registry (default), or the registry only (faster start, first solves may pay lazy imports)")
    parser.add_argument("--ready-timeout", type=float, default=120.0, help="seconds allowed for loading the instance in the child (default 120); the warm-up gets --time-limit + --grace")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and exit")
    parser.add_argument("--quiet", action="store_true", help="no progress line")


def settings_from_args(args: argparse.Namespace) -> Settings:
    if not args.time_limit > 0:
        raise CampaignError(f"--time-limit must be > 0, got {args.time_limit}")
    if args.repeat < 1:
        raise CampaignError(f"--repeat must be >= 1, got {args.repeat}")
    if args.grace < 0:
        raise CampaignError(f"--grace must be >= 0, got {args.grace}")
    return Settings(
        time_limit=args.time_limit,
        grace=args.grace,
        memory_limit=parse_memory(args.memory_limit),
        threads=args.threads,
        seed=args.seed,
        mip_gap=args.mip_gap,
        warmup=args.warmup,
        ready_timeout=args.ready_timeout,
        start_method=args.start_method,
        preload=args.preload,
    )


def run_cli(args: argparse.Namespace) -> int:
    try:
        settings = settings_from_args(args)
        entries = resolve_sets(args.sets, Path(args.instances_dir), args.max_instances)
        specs = select_pairs(args.pairs)
        tasks = plan(entries, specs, args.repeat, settings)
        if args.dry_run:
            for t in tasks:
                print(f"{t.key}  {t.entry.set_name}  {t.entry.instance.name}  {t.spec.key}  r{t.repeat}")
            print(f"{len(tasks)} tasks; at most {len(tasks) * (settings.time_limit + settings.grace) / 60:.1f} min of solving", file=sys.stderr)
            return 0
        if not tasks:
            raise CampaignError("no task: no selected pair fits any selected instance")
        summary = run_campaign(tasks, Path(args.out), settings, resume=args.resume, overwrite=args.overwrite, progress=not args.quiet)
    except CampaignError as err:
        print(f"dnnsplit bench: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ndnnsplit bench: interrupted; finished solves are in {args.out} (continue with --resume)", file=sys.stderr)
        return 130
    statuses = ", ".join(f"{k} {v}" for k, v in sorted((summary.by_status or {}).items())) or "none run"
    print(
        f"{args.out}: {summary.planned} tasks: {summary.already} already done, {summary.ran} run ({statuses}), "
        f"{summary.skipped} skipped",
        file=sys.stderr,
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.campaign")
    add_arguments(parser)
    return run_cli(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
