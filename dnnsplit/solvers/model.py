"""An LP/MIP in array form, the builder that assembles it block by block, and what a solver
call returns (:class:`SolverRun`, the typed outcome every adapter produces).

The formulations build a :class:`SparseModel` (F1, F2, the F3 arc form) and hand it to an
*array backend* (:class:`ArrayBackend`: HiGHS, SCIP, ...); they never talk to a solver library
themselves. ``SparseModel.row_blocks`` / ``col_blocks`` keep the labels of the formulation's
docstring (A1, A2, C1, ...) for messages and model export.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import scipy.sparse as sp

from dnnsplit.options import Clock, SolverOptions
from dnnsplit.results import SolveResult, Status


@dataclass
class SparseModel:
    """min c x + offset, row_lower <= A x <= row_upper, col_lower <= x <= col_upper, integrality."""

    c: np.ndarray
    A: sp.csc_array
    row_lower: np.ndarray
    row_upper: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    integer: np.ndarray | None = None  # bool per column; None: an LP
    offset: float = 0.0
    row_blocks: dict[str, tuple[int, int]] = field(default_factory=dict)  # label -> row range
    col_blocks: dict[str, tuple[int, int]] = field(default_factory=dict)  # symbol -> column range

    @property
    def num_cols(self) -> int:
        return len(self.c)

    @property
    def num_rows(self) -> int:
        return len(self.row_lower)

    @property
    def is_mip(self) -> bool:
        return self.integer is not None and bool(np.any(self.integer))

    def in_units(self, unit: float) -> "SparseModel":
        """The same model with its objective divided by ``unit`` (a power of two: exact)."""
        return SparseModel(self.c / unit, self.A, self.row_lower, self.row_upper, self.col_lower, self.col_upper,
                           self.integer, self.offset / unit, self.row_blocks, self.col_blocks)

    def relaxed(self) -> "SparseModel":
        """The same model with every integrality dropped."""
        return SparseModel(self.c, self.A, self.row_lower, self.row_upper, self.col_lower, self.col_upper, None,
                           self.offset, self.row_blocks, self.col_blocks)

    def matrix(self) -> sp.csc_array:
        """A in CSC form with explicit zeros removed and sorted indices (what solvers take)."""
        A = sp.csc_array(self.A)
        A.eliminate_zeros()
        A.sort_indices()
        return A


class ArrayBuilder:
    """Columns, rows and entries accumulated as numpy blocks, turned into one SparseModel.

    Rows and columns are numbered globally in the order they are added; ``add_rows`` and
    ``add_cols`` return the first index of the new block and record its label.
    """

    def __init__(self, integral: bool = True) -> None:
        self.integral = integral  # False: integrality flags are dropped (an LP)
        self._cost: list[np.ndarray] = []
        self._lower: list[np.ndarray] = []
        self._upper: list[np.ndarray] = []
        self._integer: list[np.ndarray] = []
        self._row_lo: list[np.ndarray] = []
        self._row_hi: list[np.ndarray] = []
        self._ent: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._cost_updates: list[tuple[np.ndarray, np.ndarray]] = []
        self._upper_updates: list[tuple[np.ndarray, float]] = []
        self.row_blocks: dict[str, tuple[int, int]] = {}
        self.col_blocks: dict[str, tuple[int, int]] = {}
        self.num_cols = 0
        self.num_rows = 0

    def add_cols(self, n: int, lower: Any = 0.0, upper: Any = 1.0, integer: bool = False, *,
                 cost: Any = 0.0, name: str | None = None) -> int:
        start = self.num_cols
        self._cost.append(np.broadcast_to(np.asarray(cost, dtype=float), (n,)).copy())
        self._lower.append(np.broadcast_to(np.asarray(lower, dtype=float), (n,)).copy())
        self._upper.append(np.broadcast_to(np.asarray(upper, dtype=float), (n,)).copy())
        self._integer.append(np.full(n, bool(integer)))
        self.num_cols += n
        if name is not None:
            self._label(self.col_blocks, name, start, self.num_cols)
        return start

    def add_rows(self, lower: Any, upper: Any, n: int, *, name: str | None = None) -> int:
        start = self.num_rows
        self._row_lo.append(np.broadcast_to(np.asarray(lower, dtype=float), (n,)).copy())
        self._row_hi.append(np.broadcast_to(np.asarray(upper, dtype=float), (n,)).copy())
        self.num_rows += n
        if name is not None:
            self._label(self.row_blocks, name, start, self.num_rows)
        return start

    @staticmethod
    def _label(blocks: dict[str, tuple[int, int]], name: str, start: int, stop: int) -> None:
        if name in blocks and blocks[name][1] == start:  # the same block continued
            blocks[name] = (blocks[name][0], stop)
        elif name in blocks:
            blocks[f"{name}#{sum(k.split('#')[0] == name for k in blocks)}"] = (start, stop)
        else:
            blocks[name] = (start, stop)

    def add_entries(self, rows: Any, cols: Any, vals: Any) -> None:
        self._ent.append((np.asarray(rows, np.int64).ravel(), np.asarray(cols, np.int64).ravel(),
                          np.asarray(vals, float).ravel()))

    def set_cost(self, cols: Any, vals: Any) -> None:
        self._cost_updates.append((np.asarray(cols, np.int64).ravel(), np.asarray(vals, float).ravel()))

    def set_col_upper(self, cols: Any, value: float) -> None:
        self._upper_updates.append((np.asarray(cols, np.int64).ravel(), float(value)))

    def build(self) -> SparseModel:
        cat = lambda xs, dt=float: np.concatenate(xs) if xs else np.empty(0, dt)  # noqa: E731
        c = cat(self._cost)
        for cols, vals in self._cost_updates:
            c[cols] = vals
        upper = cat(self._upper)
        for cols, value in self._upper_updates:
            upper[cols] = value
        if self._ent:
            r = np.concatenate([e[0] for e in self._ent])
            k = np.concatenate([e[1] for e in self._ent])
            v = np.concatenate([e[2] for e in self._ent])
        else:
            r = k = np.empty(0, np.int64)
            v = np.empty(0)
        A = sp.csc_array((v, (r, k)), shape=(self.num_rows, self.num_cols))
        A.sum_duplicates()
        A.eliminate_zeros()
        return SparseModel(
            c=c, A=A, row_lower=cat(self._row_lo), row_upper=cat(self._row_hi),
            col_lower=cat(self._lower), col_upper=upper,
            integer=cat(self._integer, bool).astype(bool) if self.integral else None,
            row_blocks=dict(self.row_blocks), col_blocks=dict(self.col_blocks),
        )


@dataclass
class SolverRun:
    """What one solver call returned, in the suite's terms (every adapter returns this).

    ``status`` comes from the adapter's status map; ``solver_status`` is the library's own
    word. ``objective`` is the incumbent's value (None: no point), ``bound`` the proven dual
    bound (an LP's optimum when optimal), ``x`` the primal point. ``solve_time`` is the
    adapter's own clock around the library call; ``info`` holds library counters.
    """

    status: Status
    solver_status: str
    objective: float | None
    bound: float | None
    x: np.ndarray | None
    solver: str
    solver_version: str
    iterations: int | None = None
    nodes: int | None = None
    solve_time: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def has_point(self) -> bool:
        return self.x is not None and self.objective is not None

    def in_units_of(self, unit: float) -> "SolverRun":
        """Objective and bound of a run on ``SparseModel.in_units(unit)``, back in the data's units."""
        from dataclasses import replace

        return replace(self, objective=None if self.objective is None else self.objective * unit,
                       bound=None if self.bound is None else self.bound * unit)


def out_of_time(solver: str, version: str, what: str = "before the solver call") -> SolverRun:
    """The run a backend reports when its clock ran out before it could call the solver."""
    return SolverRun(Status.TIME_LIMIT, f"time limit reached {what}", None, None, None, solver, version)


@dataclass(frozen=True)
class ArrayBackend:
    """A solver library that solves a :class:`SparseModel`: one adapter module provides one.

    ``solve(model, options, clock, relax)`` honours every option in ``accepts_lp`` (LPs and
    relaxations) or ``accepts_mip`` (MILPs) and returns a :class:`SolverRun`. A formulation
    registers one backend per entry of ``dnnsplit.solvers.ARRAY_BACKENDS``.
    """

    backend: str  # the registered backend name ("highspy", "scip")
    solver: str  # the library's name in records ("HiGHS", "SCIP")
    solve: Callable[[SparseModel, SolverOptions, Clock, bool], SolverRun]
    version: Callable[[], str]
    accepts_lp: frozenset[str]
    accepts_mip: frozenset[str]
    max_layered_arcs: int | None = None  # benchmark size hint for models this backend builds slowly

    def run(self, model: SparseModel, options: SolverOptions, clock: Clock, *, relax: bool = False) -> SolverRun:
        """Solve ``model`` (its LP relaxation with ``relax``) in the time ``clock`` has left."""
        if clock.expired():
            return out_of_time(self.solver, self.version())
        return self.solve(model, options, clock, relax)


def result_of(run: SolverRun, **fields: Any) -> SolveResult:
    """A SolveResult carrying a solver run's status, solver, version, counters and time, with
    ``fields`` (SolveResult's own keywords: objective, decision, build_time, ...) on top;
    ``extra`` entries are merged into the run's ``info``."""
    from dataclasses import replace

    extra = {**run.info, **fields.pop("extra", {})}
    base = SolveResult(status=run.status, solver=run.solver, solver_version=run.solver_version,
                       solve_time=run.solve_time, iterations=run.iterations, nodes=run.nodes, extra=extra)
    return replace(base, **fields)


def without_incumbent(run: SolverRun, result: SolveResult) -> SolveResult:
    """A MILP run that returned no solution vector: a claimed optimum without one is an error;
    a time limit says it found nothing; the message falls back to the solver's status (every
    MILP formulation's runs read it so)."""
    if result.status in (Status.OPTIMAL, Status.FEASIBLE):
        result.status = Status.ERROR
    if result.status == Status.TIME_LIMIT and not result.message:
        result.message = f"time limit reached before any solution ({run.solver} {run.solver_status})"
    result.message = result.message or run.solver_status
    return result
