"""Solve-time inflation between two runs of the same campaign (e.g. sequential and 2 workers).

    .venv/bin/python -m benchmarks.compare_campaigns REFERENCE.jsonl OTHER.jsonl [--min-seconds 0.01] [--json out.json]

Records are matched by task (the key without its code version, ``dnnsplit.campaign.task_id``),
so two runs of one campaign compare even when a commit came between them. Per matched task the
ratio other / reference of ``wall_time`` (the backend call: build + solve) and of
``solve_time``; printed: medians (and the 10th and 90th percentiles) overall and per pair, over
the tasks whose reference time is at least ``--min-seconds`` (shorter times are noise), the
tasks whose status differs (a solve near its time limit may cross it under load), and the largest
``concurrent_solves`` of each run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any


def _records(path: Path) -> dict[str, dict[str, Any]]:
    from dnnsplit.campaign.tasks import task_id

    out = {}
    for line in path.read_text().splitlines():
        if line.strip():
            rec = json.loads(line)
            out[task_id(rec["key"])] = rec
    return out


def _quantile(values: list[float], q: float) -> float:
    xs = sorted(values)
    pos = q * (len(xs) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def compare(reference: Path, other: Path, min_seconds: float = 0.01) -> dict[str, Any]:
    a, b = _records(reference), _records(other)
    common = sorted(set(a) & set(b))
    ratios: dict[str, dict[str, list[float]]] = {"wall_time": {}, "solve_time": {}}
    differ = []
    for k in common:
        ra, rb = a[k], b[k]
        if ra["status"] != rb["status"]:
            differ.append({"task": k, "reference": ra["status"], "other": rb["status"]})
        for field in ratios:
            x, y = ra.get(field), rb.get(field)
            if isinstance(x, (int, float)) and isinstance(y, (int, float)) and x >= min_seconds and y > 0:
                ratios[field].setdefault(ra["pair"], []).append(y / x)
    out: dict[str, Any] = {"reference": str(reference), "other": str(other), "matched": len(common),
                           "only_reference": len(set(a) - set(b)), "only_other": len(set(b) - set(a)),
                           "min_seconds": min_seconds, "status_differs": differ,
                           "concurrent_solves_max": {"reference": max((r.get("concurrent_solves") or 1) for r in a.values()),
                                                     "other": max((r.get("concurrent_solves") or 1) for r in b.values())}}
    for field, by_pair in ratios.items():
        every = [x for v in by_pair.values() for x in v]
        out[field] = {
            "tasks": len(every),
            "median": statistics.median(every) if every else None,
            "p10": _quantile(every, 0.1) if every else None,
            "p90": _quantile(every, 0.9) if every else None,
            "per_pair": {p: {"tasks": len(v), "median": statistics.median(v)} for p, v in sorted(by_pair.items())},
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compare_campaigns", description=__doc__.splitlines()[0])
    parser.add_argument("reference")
    parser.add_argument("other")
    parser.add_argument("--min-seconds", type=float, default=0.01)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    res = compare(Path(args.reference), Path(args.other), args.min_seconds)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2) + "\n")
    print(f"{res['matched']} tasks in both ({res['only_reference']} only in the reference, {res['only_other']} only in the other); "
          f"concurrent solves at most {res['concurrent_solves_max']}")
    for field in ("wall_time", "solve_time"):
        r = res[field]
        if r["median"] is None:
            continue
        print(f"{field}: median ratio {r['median']:.3f} (p10 {r['p10']:.3f}, p90 {r['p90']:.3f}) over {r['tasks']} tasks "
              f">= {args.min_seconds:g} s")
        for pair, v in r["per_pair"].items():
            print(f"    {pair:32s} {v['median']:.3f} ({v['tasks']})")
    print(f"status differs on {len(res['status_differs'])} tasks" +
          "".join(f"\n    {d['task']}: {d['reference']} -> {d['other']}" for d in res["status_differs"][:20]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
