"""pytest-benchmark suite configuration: which instance sets and pairs, and the extra_info.

Every registered (formulation, backend) pair (``registry.specs()``) meets every instance of
the chosen sets that it fits (``spec.fits``). Choose with options or environment variables:

    --bench-sets small medium      DNNSPLIT_BENCH_SETS="small medium"   (names, files or folders)
    --bench-pairs 'F2/*' 'F1-*'    DNNSPLIT_BENCH_PAIRS="F2/* F1-*"     (fnmatch patterns)
    --bench-max-instances N        DNNSPLIT_BENCH_MAX_INSTANCES=N       (per set, evenly spread)
    --bench-time-limit S           DNNSPLIT_BENCH_TIME_LIMIT=S          (to backends that accept it)
    --bench-rounds R               DNNSPLIT_BENCH_ROUNDS=R              (timed rounds, default 3)

Defaults: set "small", every pair, 60 s; with ``--benchmark-disable`` (the CI smoke test) at
most 2 instances per set and 10 s. An autouse fixture writes the case's dimensions into
``benchmark.extra_info``; the test adds the result record, so
``pytest benchmarks/ --benchmark-json=out.json`` is a results file for ``dnnsplit tables``.

Each benchmark's ``group`` is its instance (``<set>/<instance>``), so pytest-benchmark's
comparison table and ratios set the pairs of one instance side by side, never instances of
different sizes; its ``params`` hold the case id, the pair and the instance's name and content
hash (the instance itself is not dumped into the JSON: the hash names it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pytest


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value else None


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dnnsplit", "dnnsplit benchmark selection")
    group.addoption("--bench-sets", nargs="+", default=None, help="instance sets (default: small)")
    group.addoption("--bench-pairs", nargs="+", default=None, help="FORMULATION/BACKEND patterns (default: all)")
    group.addoption("--bench-max-instances", type=int, default=None, help="instances per set (smoke default 2)")
    group.addoption("--bench-time-limit", type=float, default=None, help="solver time limit, s")
    group.addoption("--bench-rounds", type=int, default=None, help="timed rounds per case (default 3)")


@dataclass(frozen=True)
class BenchConfig:
    sets: tuple[str, ...]
    pairs: tuple[str, ...]
    max_instances: int | None
    time_limit: float
    rounds: int
    smoke: bool


def bench_config(config: pytest.Config) -> BenchConfig:
    smoke = bool(config.getoption("benchmark_disable", default=False))
    sets = config.getoption("--bench-sets") or (_env("DNNSPLIT_BENCH_SETS") or "small").split()
    pairs = config.getoption("--bench-pairs") or (_env("DNNSPLIT_BENCH_PAIRS") or "*").split()
    max_inst = config.getoption("--bench-max-instances")
    if max_inst is None and _env("DNNSPLIT_BENCH_MAX_INSTANCES"):
        max_inst = int(os.environ["DNNSPLIT_BENCH_MAX_INSTANCES"])
    if max_inst is None and smoke:
        max_inst = 2
    limit = config.getoption("--bench-time-limit") or float(_env("DNNSPLIT_BENCH_TIME_LIMIT") or (10 if smoke else 60))
    rounds = config.getoption("--bench-rounds") or int(_env("DNNSPLIT_BENCH_ROUNDS") or 3)
    return BenchConfig(tuple(sets), tuple(pairs), max_inst, limit, rounds, smoke)


@dataclass(frozen=True)
class Case:
    set_name: str
    instance: Any
    spec: Any

    @property
    def id(self) -> str:
        return f"{self.spec.key}-{self.set_name}-{self.instance.name}"


def _cases(cfg: BenchConfig) -> tuple[list[Any], str | None]:
    """pytest params, or none and the reason."""
    import fnmatch

    from dnnsplit import catalogue as registry
    from dnnsplit.campaign.tasks import CampaignError, resolve_sets

    try:
        entries = resolve_sets(cfg.sets, None, cfg.max_instances)
    except CampaignError as err:
        return [], str(err)
    specs = [s for s in registry.specs() if any(fnmatch.fnmatchcase(s.key, p) for p in cfg.pairs)]
    cases = [Case(e.set_name, e.instance, s) for e in entries for s in specs if s.fits(e.instance)]
    if not cases:
        return [], f"no registered pair (of {len(specs)} matching {list(cfg.pairs)}) fits an instance of {list(cfg.sets)}"
    return [pytest.param(c, id=c.id) for c in cases], None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" not in metafunc.fixturenames:
        return
    cfg = bench_config(metafunc.config)
    params, reason = _cases(cfg)
    if not params:
        params = [pytest.param(None, id="no-cases", marks=pytest.mark.skip(reason=reason or "no cases"))]
    metafunc.parametrize("case", params)


@pytest.fixture
def bench_cfg(request: pytest.FixtureRequest) -> BenchConfig:
    return bench_config(request.config)


def dimensions(case: Case) -> dict[str, Any]:
    """What a benchmark is grouped by (written before it runs, so failed runs keep it too)."""
    inst = case.instance
    return {
        "schema": "dnnsplit-bench-record",
        "source": "pytest-benchmark",
        "set": case.set_name,
        "instance_id": inst.name,
        "instance_hash": inst.hash,
        "sizes": dict(inst.sizes),
        "formulation": case.spec.formulation,
        "backend": case.spec.backend,
        "pair": case.spec.key,
        "problem": case.spec.problem,
        "kind": case.spec.kind,
    }


@pytest.fixture(autouse=True)
def _bench_dimensions(request: pytest.FixtureRequest) -> None:
    """Autouse: every benchmark's extra_info starts with the case's dimensions."""
    if "benchmark" in request.fixturenames and "case" in request.fixturenames:
        case = request.getfixturevalue("case")
        if case is not None:
            benchmark = request.getfixturevalue("benchmark")
            benchmark.extra_info.update(dimensions(case))
            benchmark.group = group_of(case)
            benchmark.params = case_params(case)


def group_of(case: Case) -> str:
    """pytest-benchmark's group of a case: its instance, so ratios compare pairs on one instance."""
    return f"{case.set_name}/{case.instance.name}"


def case_params(case: Case) -> dict[str, str]:
    """What the benchmark JSON keeps of the parameter: ids and the content hash, not the instance."""
    return {"case": case.id, "pair": case.spec.key, "set": case.set_name, "instance_id": case.instance.name,
            "instance_hash": case.instance.hash}
