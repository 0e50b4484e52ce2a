"""Read results files into one long table (one row per solve).

Two inputs, mixed freely:

- campaign files (``dnnsplit bench``): JSON lines, one record per line;
- pytest-benchmark JSON (``pytest benchmarks/ --benchmark-json=F``): the record is in each
  benchmark's ``extra_info``; each timed round becomes one row (``repeat`` = round index).

Every record is checked before anything is written: a file that is not JSON, a line that is not
a JSON object, a missing required field, an unknown status or a non-numeric time is refused
with ``<file>:<line>: <reason>`` (:class:`ResultsError`). Records are de-duplicated by their
``key`` (instance, pair, repeat, options): a file given twice counts once.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from dnnsplit.results import Status

RECORD_SCHEMA = "dnnsplit-bench-record"
REQUIRED = ("formulation", "backend", "status", "instance_hash", "solve_time")
NUMERIC = (
    "objective", "evaluated_objective", "bound", "gap", "lp_relaxation", "build_time", "solve_time",
    "wall_time", "process_wall", "cpu_time", "peak_memory",
)
STATUSES = tuple(s.value for s in Status)
SIZE_FIELDS = ("nodes", "links", "compute_nodes", "jobs", "max_layers", "layered_arcs")
COLUMNS = (
    "file", "line", "source", "key", "set", "instance_id", "instance_hash", "formulation", "backend", "pair",
    "problem", "kind", "reference", "relaxation", "objective_name", "status", "objective", "evaluated_objective", "bound", "gap",
    "lp_relaxation", "lp_integral", *NUMERIC[5:], "repeat", "time_limit",
    *(f"size_{f}" for f in SIZE_FIELDS), "model", "generator", "placement", "machine", "solver",
    "solver_version", "date", "message",
)


class ResultsError(ValueError):
    """A results file that cannot be used; the message names the file and line."""


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _num(v: Any) -> float:
    return float(v) if v is not None else math.nan


def record_to_row(rec: Any, where: str, file: str, line: int | None, date_default: str | None = None) -> dict[str, Any]:
    """Validate one record and flatten it into a long-table row."""
    if not isinstance(rec, dict):
        raise ResultsError(f"{where}: not a JSON object")
    for name in REQUIRED:
        if name not in rec:
            raise ResultsError(f"{where}: missing field '{name}'")
    for name in ("formulation", "backend", "instance_hash"):
        if not isinstance(rec[name], str) or not rec[name]:
            raise ResultsError(f"{where}: field '{name}' must be a non-empty string, got {rec[name]!r}")
    if rec["status"] not in STATUSES:
        raise ResultsError(f"{where}: field 'status' is {rec['status']!r}, expected one of {', '.join(STATUSES)}")
    for name in NUMERIC:
        v = rec.get(name)
        if v is not None and not _is_number(v):
            raise ResultsError(f"{where}: field '{name}' is not a number: {v!r}")
    sizes = rec.get("sizes") or {}
    if not isinstance(sizes, dict):
        raise ResultsError(f"{where}: field 'sizes' must be an object")
    generator = rec.get("instance_generator") or {}
    campaign = rec.get("campaign") or {}
    options = rec.get("options") or {}
    time_limit = campaign.get("time_limit") if isinstance(campaign, dict) else None
    if time_limit is None and isinstance(options, dict):
        time_limit = options.get("time_limit")
    models = rec.get("models") or []
    model = generator.get("model") if isinstance(generator, dict) else None
    if not model and models:
        model = models[0]
    row: dict[str, Any] = {
        "file": file,
        "line": line,
        "source": rec.get("source", "campaign"),
        "key": rec.get("key") or f"{rec['instance_hash']}/{rec['formulation']}/{rec['backend']}",
        "set": rec.get("set") or "unknown",
        "instance_id": rec.get("instance_id") or rec["instance_hash"],
        "instance_hash": rec["instance_hash"],
        "formulation": rec["formulation"],
        "backend": rec["backend"],
        "pair": f"{rec['formulation']}/{rec['backend']}",
        "problem": rec.get("problem") or ("multi" if _is_number(sizes.get("jobs")) and sizes["jobs"] > 1 else "single"),
        "kind": rec.get("kind") or "exact",
        "reference": rec.get("reference"),  # what the pair's gaps are measured against (its registration)
        "relaxation": rec.get("relaxation"),
        "objective_name": rec.get("objective_name") or "latency",
        "status": rec["status"],
        "lp_integral": rec.get("lp_integral"),
        "repeat": int(rec.get("repeat") or 0),
        "time_limit": _num(time_limit) if _is_number(time_limit) else math.nan,
        "model": model,
        "generator": generator if isinstance(generator, dict) else {},
        "placement": rec.get("placement"),
        "machine": rec.get("machine") if isinstance(rec.get("machine"), dict) else None,
        "solver": rec.get("solver") or "",
        "solver_version": rec.get("solver_version") or "",
        "date": rec.get("finished_at") or rec.get("started_at") or date_default,
        "message": rec.get("message") or "",
    }
    for name in NUMERIC:
        row[name] = _num(rec.get(name))
    if math.isnan(row["build_time"]):
        row["build_time"] = 0.0
    for f in SIZE_FIELDS:
        v = sizes.get(f)
        row[f"size_{f}"] = int(v) if _is_number(v) else pd.NA
    return row


def _read_jsonl(path: Path, text: str) -> list[dict[str, Any]]:
    rows = []
    lines = text.split("\n")
    last = len(lines) if lines[-1].strip() else len(lines) - 1
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as err:
            hint = ""
            if lineno == last and not text.endswith("\n"):
                hint = "; the last line is cut short (a killed campaign): `dnnsplit bench --resume` repairs it"
            raise ResultsError(f"{where}: not valid JSON ({err.msg} at column {err.colno}){hint}") from None
        rows.append(record_to_row(rec, where, str(path), lineno))
    return rows


def _read_pytest_benchmark(path: Path, data: dict[str, Any]) -> list[dict[str, Any]]:
    benches = data.get("benchmarks")
    if not isinstance(benches, list):
        raise ResultsError(f"{path}: 'benchmarks' is not a list")
    rows = []
    for i, bench in enumerate(benches):
        where = f"{path}: benchmarks[{i}]"
        if not isinstance(bench, dict):
            raise ResultsError(f"{where}: not a JSON object")
        info = bench.get("extra_info")
        if not isinstance(info, dict) or info.get("schema") != RECORD_SCHEMA:
            raise ResultsError(f"{where} ({bench.get('name')}): extra_info holds no dnnsplit record (was it written by `pytest benchmarks/`?)")
        if "status" not in info:
            raise ResultsError(f"{where} ({bench.get('name')}): missing field 'status' in extra_info (the benchmark failed before it finished?)")
        rounds = info.get("rounds") or [None]
        if not isinstance(rounds, list):
            raise ResultsError(f"{where}: extra_info field 'rounds' is not a list")
        for r, rnd in enumerate(rounds):
            rec = {k: v for k, v in info.items() if k != "rounds"}
            if rnd is not None:
                if not isinstance(rnd, dict):
                    raise ResultsError(f"{where}: extra_info rounds[{r}] is not an object")
                rec.update(rnd)
                rec["repeat"] = r
                rec["key"] = f"{info.get('key', '')}/round{r}"
            rows.append(record_to_row(rec, f"{where} round {r}", str(path), None, data.get("datetime")))
    return rows


def read_file(path: str | Path) -> list[dict[str, Any]]:
    """Rows of one results file (campaign JSONL or pytest-benchmark JSON)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ResultsError(f"{path}: cannot read: {err}") from None
    if text.lstrip().startswith("{"):
        try:
            whole = json.loads(text)
        except json.JSONDecodeError:
            whole = None
        if isinstance(whole, dict) and "benchmarks" in whole:
            return _read_pytest_benchmark(path, whole)
    return _read_jsonl(path, text)


def load_results(paths: Iterable[str | Path]) -> pd.DataFrame:
    """The long table of every record in ``paths`` (validated; nothing partial on error)."""
    rows: list[dict[str, Any]] = []
    names = []
    for p in paths:
        names.append(str(p))
        rows.extend(read_file(p))
    if not rows:
        raise ResultsError(f"no records in {', '.join(names) or 'no file'}")
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    # one row per record key: the same file given twice, or a record repeated across files (a
    # copy of a campaign beside it), must not double the repeats; the last one read stands
    before = len(df)
    df = df.drop_duplicates("key", keep="last").reset_index(drop=True)
    df.attrs["duplicates"] = before - len(df)
    for f in SIZE_FIELDS:
        df[f"size_{f}"] = df[f"size_{f}"].astype("Int64")
    return fill_registered(df)


def fill_registered(df: pd.DataFrame) -> pd.DataFrame:
    """Records written before pairs carried their ``reference`` and ``relaxation`` get them from
    the registry (the same registration, by formulation)."""
    missing = df["reference"].isna() | df["relaxation"].isna()
    if not missing.any():
        return df
    from dnnsplit import catalogue

    by_formulation: dict[str, dict[str, str | None]] = {}
    for spec in catalogue.specs():
        got = by_formulation.setdefault(spec.formulation, {"reference": None, "relaxation": None})
        for field in got:
            got[field] = got[field] or getattr(spec, field)
    for field in ("reference", "relaxation"):
        gaps = df[field].isna()
        df.loc[gaps, field] = df.loc[gaps, "formulation"].map(lambda f: by_formulation.get(f, {}).get(field))
    return df
