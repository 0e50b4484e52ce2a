"""Solver options in one place, checked against what each backend accepts, and the solve clock.

A backend declares the option names it honours (``SolverSpec.accepts``). Setting an option a
backend does not accept raises :class:`UnsupportedOption`: nothing is silently ignored. Each
solver adapter (``dnnsplit/solvers/``) maps the options onto its library in one place.

``time_limit`` has one meaning for every backend: wall-clock seconds from the start of the
backend's solve call, model build and any auxiliary solve (an LP relaxation, start heuristics,
a fallback) included. A backend starts a :class:`Clock` first thing and hands the time left to
every solver call it makes; loops check ``clock.expired()``. A run that ends after its limit
is reported as ``time_limit`` whatever it found (``dnnsplit.results.finalise``).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Iterable

LP_ALGORITHMS = ("simplex", "ipm", "pdlp")
# An exact MILP backend given no mip_gap solves to this relative gap with the absolute gap off
# (HiGHS's own defaults, 1e-4 relative and 1e-6 absolute, would let a heuristic beat the
# "optimum" it is measured against).
EXACT_REL_GAP = 1e-9


class UnsupportedOption(ValueError):
    """An option that the chosen backend cannot honour, or an invalid option value."""


@dataclass(frozen=True)
class SolverOptions:
    time_limit: float | None = None  # wall-clock seconds of the whole backend call (build included)
    mip_gap: float | None = None  # relative gap, a fraction (0.01 = 1 %); None: exact (EXACT_REL_GAP)
    threads: int = 1  # one thread by default, for fair timing
    seed: int = 0
    lp_algorithm: str | None = None  # one of LP_ALGORITHMS
    raw: dict[str, Any] = field(default_factory=dict)  # passed to the backend unchanged

    def __post_init__(self) -> None:
        if self.time_limit is not None and not self.time_limit > 0:
            raise UnsupportedOption(f"time_limit must be > 0 seconds, got {self.time_limit}")
        if self.mip_gap is not None and not 0 <= self.mip_gap < 1:
            raise UnsupportedOption(f"mip_gap is a fraction in [0, 1), got {self.mip_gap}")
        if self.threads < 1:
            raise UnsupportedOption(f"threads must be >= 1, got {self.threads}")
        if self.lp_algorithm is not None and self.lp_algorithm not in LP_ALGORITHMS:
            raise UnsupportedOption(f"lp_algorithm must be one of {LP_ALGORITHMS}, got {self.lp_algorithm!r}")

    @property
    def mip_rel_gap(self) -> float:
        """The relative gap an exact MILP backend runs to: ``mip_gap``, else EXACT_REL_GAP."""
        return EXACT_REL_GAP if self.mip_gap is None else float(self.mip_gap)

    def clock(self) -> "Clock":
        """A clock started now, with this time limit (a backend's first step)."""
        return Clock(self.time_limit)

    def set_names(self) -> set[str]:
        """Options that differ from their defaults (threads=1 and seed=0 count as unset)."""
        default = SolverOptions()
        return {f.name for f in fields(self) if getattr(self, f.name) != getattr(default, f.name)}

    def check(self, backend: str, accepts: Iterable[str]) -> None:
        """Raise UnsupportedOption for any set option that ``backend`` does not accept."""
        accepted = set(accepts)
        for name in sorted(self.set_names()):
            if name == "raw":
                if self.raw and "raw" not in accepted:
                    raise UnsupportedOption(f"backend {backend!r} takes no raw options, got {sorted(self.raw)}")
            elif name not in accepted:
                raise UnsupportedOption(
                    f"backend {backend!r} does not accept option {name!r} (accepts: {', '.join(sorted(accepted)) or 'none'})"
                )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Clock:
    """Wall clock of one backend call against its time limit (``None``: no limit)."""

    def __init__(self, time_limit: float | None = None) -> None:
        self.start = time.perf_counter()
        self.limit = None if time_limit is None else float(time_limit)

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def remaining(self) -> float | None:
        """Seconds left (may be <= 0), or None without a limit."""
        return None if self.limit is None else self.limit - self.elapsed()

    def expired(self) -> bool:
        return self.limit is not None and self.elapsed() >= self.limit

    def share_expired(self, share: float) -> bool:
        """Whether ``share`` of the limit is used up (for phases that keep time for later ones)."""
        return self.limit is not None and self.elapsed() >= share * self.limit

    def budget(self, floor: float = 0.0) -> float | None:
        """Seconds a solver call may take now: what is left, at least ``floor`` (None: no limit)."""
        left = self.remaining()
        return None if left is None else max(left, floor)
