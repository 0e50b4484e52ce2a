"""Campaign records: one JSON object per line, appended as each task ends.

Records carry the full :class:`dnnsplit.results.SolveResult` plus the set, instance sizes and
generator parameters, the placement of job 0 by node and tier, the pair's kind, reference and
relaxation (what its gaps are measured against), the campaign settings, timestamps and a
machine description (:func:`dnnsplit.machine.describe`). ``read_existing`` repairs a truncated
last line (from a kill mid-write) by dropping it, so its task runs again.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path
from typing import Any, TextIO

from dnnsplit.campaign.tasks import CampaignError

RECORD_SCHEMA = "dnnsplit-bench-record"
RECORD_VERSION = 1


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
            "reference": spec.reference,
            "relaxation": spec.relaxation,
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
    from dnnsplit.results import json_default

    fh.write(json.dumps(record, default=json_default, allow_nan=True) + "\n")
    fh.flush()
    os.fsync(fh.fileno())


