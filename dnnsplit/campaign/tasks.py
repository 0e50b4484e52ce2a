"""Campaign tasks: settings, task keys, instance sets and pair selection, the plan.

Tasks are (instance, pair, repeat) for every instance of the named sets (names from
``instances.defaults.SET_NAMES``, or instance files and folders), every registered pair whose
key matches one of the ``--pairs`` patterns (fnmatch) and that ``spec.fits`` the instance.
Order: repeat, then set, then instance, then pair. ``key`` identifies a task: instance hash,
pair, repeat, the campaign settings that change a result, and the code version (package version
and git commit: :func:`code_version`), as ``<hash>/<pair>/r<repeat>/<settings digest>@<code>``;
the part before ``@`` (:func:`task_id`) is the same task under any code version.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

OK_STATUSES = frozenset({"optimal", "feasible"})
WARMUP_MODES = ("tiny", "same", "none")
START_METHODS = ("forkserver", "spawn")
# what each fork server loads once (runner.Runner, preload.py): "solvers" = the solver packages,
# the registry and numba's compiled kernels (the default); "imports" = the packages and the
# registry only (how it was before the kernels were preloaded: for measuring that); "registry"
# = the registry only (fastest start; every solve pays its lazy imports)
PRELOAD_MODES = ("solvers", "imports", "registry")


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
    preload: str = "solvers"  # what the fork server loads: PRELOAD_MODES

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


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """The code that measures: '<package version>+<git commit, 12 hex>[.dirty]', or the package
    version alone outside a git checkout (an installed wheel)."""
    from importlib import metadata

    from dnnsplit.machine import git_commit

    try:
        version = metadata.version("dnnsplit")
    except metadata.PackageNotFoundError:
        version = "unknown"
    commit = git_commit()
    if not commit:
        return version
    head, _, dirty = commit.partition("+")
    return f"{version}+{head[:12]}" + (".dirty" if dirty else "")


SOURCE_PACKAGES = ("dnnsplit", "formulations", "heuristics", "instances")


@functools.lru_cache(maxsize=1)
def source_digest() -> str:
    """sha256 (16 hex) of the Python sources of the suite's packages: the same code, whether or
    not git is there to say so (a cluster node without git, an installed wheel)."""
    import importlib

    h = hashlib.sha256()
    for name in SOURCE_PACKAGES:
        try:
            root = Path(importlib.import_module(name).__file__).parent
        except (ImportError, TypeError):
            continue
        for path in sorted(root.rglob("*.py")):
            h.update(f"{name}/{path.relative_to(root).as_posix()}\0".encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def task_key(instance_hash: str, pair: str, repeat: int, settings: Settings, code: str | None = None) -> str:
    """'<instance hash>/<pair>/r<repeat>/<8 hex of the settings>@<code version>': unique per task
    and code version (``code`` defaults to :func:`code_version`)."""
    digest = hashlib.sha256(json.dumps(settings.key_fields(), sort_keys=True).encode()).hexdigest()[:8]
    return f"{instance_hash}/{pair}/r{repeat}/{digest}@{code or code_version()}"


def task_id(key: str) -> str:
    """The key without its code version: the same task whatever code measured it."""
    return key.partition("@")[0]


def key_version(key: str) -> str | None:
    """The code version of a key (None: a key written before keys carried one)."""
    head, sep, version = key.partition("@")
    return version if sep else None


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
    from dnnsplit import catalogue

    all_specs = catalogue.specs()
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
    code = code_version()
    for r in range(repeat):
        for entry in entries:
            for spec in specs:
                if not spec.fits(entry.instance):
                    continue
                key = task_key(entry.instance.hash, spec.key, r, settings, code)
                first = task_key(entry.instance.hash, spec.key, 0, settings, code)
                tasks.append(Task(entry, spec, r, key, first))
    return tasks


def solver_options(spec: Any, settings: Settings) -> Any:
    """The SolverOptions a pair gets: the time limit always, the other campaign options where
    the pair accepts them (an LP takes no mip_gap; one thread by default)."""
    from dnnsplit.options import SolverOptions

    kw: dict[str, Any] = {}
    if settings.time_limit:  # every backend takes it, with one meaning (dnnsplit.options)
        kw["time_limit"] = settings.time_limit
    if settings.threads != 1 and "threads" in spec.accepts:
        kw["threads"] = settings.threads
    if settings.seed != 0 and "seed" in spec.accepts:
        kw["seed"] = settings.seed
    if settings.mip_gap is not None and "mip_gap" in spec.accepts:
        kw["mip_gap"] = settings.mip_gap
    return SolverOptions(**kw)


