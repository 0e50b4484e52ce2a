"""What machine and software produced a measurement.

:func:`describe` returns a JSON-ready dict (CPU model, cores usable by this process, memory,
OS, Python, versions of every solver package, git commit, thread-related environment
variables); campaign records carry it, and :func:`describe_markdown` renders it for
``paper_tables/machine.md``. :func:`summary` is the one-line form used in table captions.
Everything is read from the standard library and ``/proc`` (no extra dependency); fields that
cannot be read are ``None``.
"""

from __future__ import annotations

import functools
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

# Packages whose versions matter for a measurement (distribution names).
PACKAGES = ("dnnsplit", "numpy", "scipy", "highspy", "ortools", "pyomo", "networkx", "numba", "pandas", "matplotlib", "pytest-benchmark")
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _memory_bytes() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_commit(root: Path | None = None) -> str | None:
    """HEAD of the checkout this package runs from, with ``+dirty`` for uncommitted changes."""
    root = root or Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "")


@functools.lru_cache(maxsize=1)
def describe() -> dict[str, Any]:
    """Machine, OS, Python and package versions (cached: it does not change within a process)."""
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count()
    return {
        "cpu": _cpu_model(),
        "machine": platform.machine(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": usable,
        "memory_bytes": _memory_bytes(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "packages": package_versions(),
        "git_commit": git_commit(),
        "thread_env": {k: os.environ.get(k) for k in THREAD_ENV},
    }


def summary(desc: dict[str, Any] | None = None) -> str:
    """One line: "2-core AMD EPYC (x86_64), 23.5 GiB, Linux-..., Python 3.11.9"."""
    d = desc if desc is not None else describe()
    mem = d.get("memory_bytes")
    mem_text = f"{mem / 2**30:.1f} GiB" if mem else "memory unknown"
    cpus = d.get("usable_cpus") or d.get("logical_cpus") or "?"
    return f"{cpus}-core {d.get('cpu') or 'CPU unknown'} ({d.get('machine') or '?'}), {mem_text}, {d.get('os') or '?'}, Python {d.get('python') or '?'}"


def versions_summary(desc: dict[str, Any] | None = None, names: tuple[str, ...] = ("highspy", "ortools", "pyomo", "scipy", "numpy")) -> str:
    d = desc if desc is not None else describe()
    pk = d.get("packages") or {}
    return ", ".join(f"{n} {pk[n]}" for n in names if pk.get(n))


def describe_markdown(desc: dict[str, Any] | None = None, title: str = "Machine") -> str:
    d = desc if desc is not None else describe()
    lines = [f"# {title}", "", "| field | value |", "|---|---|"]
    for key in ("cpu", "machine", "logical_cpus", "usable_cpus", "memory_bytes", "os", "python", "python_implementation", "git_commit"):
        value = d.get(key)
        if key == "memory_bytes" and value:
            value = f"{value} ({value / 2**30:.1f} GiB)"
        lines.append(f"| {key} | {value} |")
    for name, version in sorted((d.get("packages") or {}).items()):
        lines.append(f"| package {name} | {version} |")
    for name, value in sorted((d.get("thread_env") or {}).items()):
        lines.append(f"| env {name} | {value} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(describe_markdown())
