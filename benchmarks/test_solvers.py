"""Every registered pair on every fitting instance of the chosen sets (see conftest.py).

Pedantic mode: each round gets a fresh copy of the instance from an untimed setup (so no
cached tau table or hash carries over between rounds), one untimed warm-up round runs first,
and the timed target is the backend's ``spec.solve`` alone (model build + solve; the backend's
own ``build_time``/``solve_time`` split goes to extra_info). The evaluator check
(``finalise``) runs untimed in the teardown. ``extra_info`` holds the last round's full
record (as in a campaign file) and ``rounds``: build/solve/wall time and status per timed round.
"""

from __future__ import annotations

import time
from typing import Any

from dnnsplit.campaign.records import build_record
from dnnsplit.campaign.tasks import Settings, solver_options
from dnnsplit.registry import complete
from dnnsplit.results import SolveResult, Status
from instances.io import dumps, loads


def test_solve(benchmark: Any, case: Any, bench_cfg: Any) -> None:
    spec = case.spec
    options = solver_options(spec, _settings(bench_cfg))
    options.check(spec.backend, spec.accepts)
    if spec.prepare is not None:  # once per process, as the registry does, never timed
        spec.prepare()
    text = dumps(case.instance)
    results: list[tuple[Any, SolveResult, float]] = []

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (loads(text),), {}

    def target(instance: Any) -> None:
        start = time.perf_counter()
        result = spec.solve(instance, options)
        results.append((instance, result, time.perf_counter() - start))

    rounds = 1 if bench_cfg.smoke else bench_cfg.rounds
    warmup = 0 if bench_cfg.smoke else 1
    benchmark.pedantic(target, setup=setup, rounds=rounds, warmup_rounds=warmup, iterations=1)
    timed = []
    per_round = []
    for instance, result, wall in results[-rounds:]:
        result = complete(spec, result, instance, options, wall)
        timed.append((instance, result))
        per_round.append(
            {
                "build_time": result.build_time,
                "solve_time": result.solve_time,
                "wall_time": result.wall_time,
                "status": result.status.value,
                "objective": result.objective,
            }
        )
    last_instance, last = timed[-1]
    record = build_record(
        last.to_dict(),
        instance=last_instance,
        spec=spec,
        set_name=case.set_name,
        instance_file=None,
        repeat=len(timed) - 1,
        key=f"{last_instance.hash}/{spec.key}/pytest",
        source="pytest-benchmark",
        settings={"time_limit": bench_cfg.time_limit, "rounds": rounds, "warmup": "same" if warmup else "none"},
    )
    benchmark.extra_info.update(record)
    benchmark.extra_info["rounds"] = per_round
    assert last.status not in (Status.ERROR, Status.MEMORY_OUT), f"{spec.key} on {case.instance.name}: {last.status.value}: {last.message}"


def _settings(cfg: Any) -> Settings:
    return Settings(time_limit=cfg.time_limit)
