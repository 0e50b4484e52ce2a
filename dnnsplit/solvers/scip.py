"""SCIP through PySCIPOpt: the one place where the suite calls SCIP directly.

- :func:`apply_options`: the one mapping of :class:`SolverOptions` onto a ``pyscipopt.Model``
  (output off, one thread, wall-clock timing, seed as ``randomization/randomseedshift``, time
  limit ``limits/time`` from the solve clock, exact MILP gaps ``limits/gap`` = ``mip_rel_gap``
  and ``limits/absgap`` = 0 unless raw overrides them, ``lp_algorithm="simplex"`` as SoPlex's
  dual simplex, raw options by SCIP's own parameter names).
- :func:`status_of`: the one status map (SCIP's status word -> :class:`Status`):

  ============================================  ==============================================
  SCIP (``Model.getStatus()``)                  Status
  ============================================  ==============================================
  ``optimal``                                   OPTIMAL
  ``infeasible``                                INFEASIBLE
  ``inforunbd``                                 INFEASIBLE (see below)
  ``unbounded``                                 ERROR (no suite model is unbounded: a bug)
  ``timelimit``                                 TIME_LIMIT
  ``memlimit``                                  MEMORY_OUT
  ``gaplimit``, ``nodelimit``,                  FEASIBLE (callers turn FEASIBLE without a point
  ``totalnodelimit``, ``stallnodelimit``,       into ERROR)
  ``sollimit``, ``bestsollimit``,
  ``restartlimit``, ``primallimit``,
  ``duallimit``
  ``userinterrupt``, ``unknown``, anything new  ERROR
  ============================================  ==============================================

  ``inforunbd`` is what SCIP reports when dual presolve reductions proved "infeasible or
  unbounded" without telling which. The suite's costs are >= 0 on columns bounded below, so
  the pure map reads it as infeasible; :func:`solve` makes sure: when some column could push
  the objective to -inf within its bounds, it re-solves the model with a zero objective and
  reports INFEASIBLE only if that is infeasible too (else ERROR, status word ``unbounded``).
- :func:`solve`: a :class:`SparseModel` solved by a fresh ``pyscipopt.Model`` (relax=True: every
  column continuous), returning a :class:`SolverRun`; ``BACKEND`` registers it as the array
  backend "scip".

How the model is loaded, and why. Two ways were measured (random models, 3 nonzeros per column,
half as many rows as columns, this 2-core machine): (a) the PySCIPOpt API -- ``addVar`` per
column, one empty linear constraint per row through ``addCons`` (one ``ExprCons`` reused, its
sides reset per row), then ``addCoefLinear`` per nonzero in row order; (b) the model written as
a free MPS file by vectorised numpy string building and read by ``readProblem``, variables mapped
back by name. (a) was the faster at every size: 0.005 / 0.05 / 0.6-0.7 / 3.5-5.0 s at 1e3 / 1e4 /
1e5 / 5e5 columns against 0.008 / 0.06 / 1.2-1.3 / 6.1-8.8 s for (b). SCIP's MPS reader alone
costs about as much as the whole API build, and the Python wrappers of the variables (needed to
read the solution) must be created either way. (a) also has no text round trip (no name
mapping, no MPS default-bound conventions such as integer columns defaulting to [0, 1], no
precision loss, no temporary file). Building expressions per row (``Expr`` dictionaries) was
1.3x slower than (a), and ``addMatrixVar`` / ``addMatrixCons`` loop over ``addVar`` and
``Expr`` objects in Python too. Python's cyclic garbage collector is paused during the build:
the ~1e6 small objects PySCIPOpt creates (variable wrappers with their term dictionaries)
otherwise trigger repeated full collections and make the build superlinear (1.4x slower at 1e5
columns, 1.7x at 5e5).

Data handling: rows with both sides infinite are left out; an empty row is kept (SCIP finds it
infeasible when 0 is outside its bounds); equality rows are lhs == rhs, ranged rows carry both
sides; values at or beyond SCIP's infinity (1e20) are infinite (as in HiGHS); duplicate matrix
entries are summed; the offset goes in through ``addObjoffset``, so objective and bound include
it. A cost of +inf fixes its column at its lower bound (-inf: at its upper bound), as HiGHS
reads infinite costs (refused when that bound is not 0: the objective would be infinite); a
finite cost or matrix entry at or above 1e20 is refused (SCIP would read it as infinite). A row
with lower > upper or a column whose bounds are empty (integer columns: after rounding) makes
the model infeasible before SCIP is called (SCIP refuses such a row with an error). The time
limit SCIP gets is what the clock has left after the build; when nothing is left the run is
``out_of_time`` without calling SCIP (its problem transformation alone takes about a second at
1e5 columns). An exact run (no ``mip_gap``) that SCIP stops with ``gaplimit`` (its gap <=
EXACT_REL_GAP) is reported OPTIMAL, as HiGHS reports a run within its gap.

SCIP traps met here: ``setParam`` raises a bare KeyError for an unknown name and silently
truncates 1.5 to 1 for an integer parameter (both refused here as UnsupportedOption); SCIP
prints range errors of parameters to stderr even with output hidden (its error printer is
process-wide); SCIP catches Ctrl-C itself and stops with ``userinterrupt`` (re-raised here as
KeyboardInterrupt, so a campaign still stops); ``optimize()`` holds the GIL for the whole solve
(``optimizeNogil`` is used, so a memory-sampling thread keeps running); SCIP's ``limits/gap``
is relative to min(|primal|, |dual|), never looser than the suite's gap (relative to
|objective|); SCIP's timing must be the wall clock (``timing/clocktype`` 2, set explicitly);
an LP's bound is its optimum only when SCIP says optimal; SoPlex (SCIP's bundled LP solver)
has no barrier or PDLP, and SCIP's own threading is only its concurrent mode, so ``threads``
is not accepted and only ``lp_algorithm="simplex"`` is. Imported with highspy and OR-Tools in
any order, PySCIPOpt 6.3 (its own libscip, libgfortran, libquadmath; the system libstdc++)
clashes with neither.
"""

from __future__ import annotations

import functools
import gc
import math
import time
from typing import Any

import numpy as np
import scipy.sparse as sp

from dnnsplit.options import Clock, SolverOptions, UnsupportedOption
from dnnsplit.results import Status
from dnnsplit.solvers.model import ArrayBackend, SolverRun, SparseModel, out_of_time

SOLVER = "SCIP"
SCIP_INF = 1e20  # SCIP's default numerics/infinity: |values| >= this are infinite
LP_OPTIONS = frozenset({"time_limit", "seed", "lp_algorithm", "raw"})
MIP_OPTIONS = LP_OPTIONS | {"mip_gap"}
# lp_algorithm -> SCIP's lp/initalgorithm and lp/resolvealgorithm ('d': dual simplex)
LP_ALGORITHMS = {"simplex": "d"}
# Benchmark size hint. Measured on layered DAGs (F2-like flow LP, 1 column and 2 nonzeros per
# arc; F3-like, 3 columns and 6 nonzeros per arc), build / whole LP solve: 1e5 arcs 0.4 / 3.2 s
# and 2.0 / 5.7 s; 3e5 arcs 1.1 / 14 s and 5.7 / 21 s; 1e6 arcs 3.8 / 90 s and 26 / 141 s (HiGHS:
# 48-52 s). Beyond 3e5 arcs an LP alone nears the benchmarks' 120 s limit; MILPs take longer.
MAX_LAYERED_ARCS = 300_000

_STATUS = {
    "optimal": Status.OPTIMAL,
    "infeasible": Status.INFEASIBLE,
    "inforunbd": Status.INFEASIBLE,  # costs >= 0 on columns bounded below: infeasible (solve() checks)
    "unbounded": Status.ERROR,
    "timelimit": Status.TIME_LIMIT,
    "memlimit": Status.MEMORY_OUT,
    "gaplimit": Status.FEASIBLE,
    "nodelimit": Status.FEASIBLE,
    "totalnodelimit": Status.FEASIBLE,
    "stallnodelimit": Status.FEASIBLE,
    "sollimit": Status.FEASIBLE,
    "bestsollimit": Status.FEASIBLE,
    "restartlimit": Status.FEASIBLE,
    "primallimit": Status.FEASIBLE,
    "duallimit": Status.FEASIBLE,
}


@functools.lru_cache(maxsize=1)
def version() -> str:
    """e.g. "SCIP 10.0.2 (PySCIPOpt 6.3.0)"."""
    import pyscipopt

    m = pyscipopt.Model()
    m.hideOutput()
    return f"SCIP {m.getMajorVersion()}.{m.getMinorVersion()}.{m.getTechVersion()} (PySCIPOpt {pyscipopt.__version__})"


def _put(model: Any, name: str, value: object) -> None:
    """Set one SCIP parameter, refusing unknown names and values of the wrong kind."""
    try:
        current = model.getParam(name)
    except (KeyError, TypeError) as err:
        raise UnsupportedOption(f"SCIP has no parameter {name!r}") from err
    bad = None
    if isinstance(current, bool):  # check before int: bool is an int
        if not (isinstance(value, (bool, np.bool_)) or (isinstance(value, (int, np.integer)) and value in (0, 1))):
            bad = "a bool"
    elif isinstance(current, int):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer, float, np.floating)) or (
            isinstance(value, (float, np.floating)) and not float(value).is_integer()
        ):
            bad = "an integer"
    elif isinstance(current, float):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer, float, np.floating)):
            bad = "a number"
    elif not isinstance(value, str):
        bad = "a string"
    if bad is not None:
        raise UnsupportedOption(f"SCIP parameter {name!r} takes {bad}, got {value!r}")
    try:
        model.setParam(name, value)
    except Exception as err:  # SCIP's range checks raise plain Exceptions
        raise UnsupportedOption(f"SCIP refused parameter {name}={value!r}: {err}") from err


_FROM_OPTIONS: Any = object()


def apply_options(model: Any, options: SolverOptions, *, mip: bool, time_limit: Any = _FROM_OPTIONS) -> None:
    """Map SolverOptions onto a pyscipopt.Model; unknown raw names or bad values raise UnsupportedOption.

    ``time_limit``: seconds this call may take (a backend passes its clock's budget; None: no
    limit; by default ``options.time_limit``). MILPs: ``limits/gap`` = ``mip_gap`` or
    EXACT_REL_GAP, ``limits/absgap`` = 0 (before ``raw``, which may override anything)."""
    model.hideOutput()
    _put(model, "display/verblevel", 0)
    if options.threads != 1:
        raise UnsupportedOption(
            f"SCIP solves with one thread here (its concurrent mode is not used), got threads={options.threads}"
        )
    _put(model, "lp/threads", 1)
    _put(model, "timing/clocktype", 2)  # wall clock, the suite's meaning of the time limit
    _put(model, "randomization/randomseedshift", int(options.seed))
    limit = options.time_limit if time_limit is _FROM_OPTIONS else time_limit
    if limit is not None:
        _put(model, "limits/time", float(max(limit, 1e-3)))
    if mip:  # exact unless a gap is asked for; raw may still override both
        _put(model, "limits/gap", options.mip_rel_gap)
        _put(model, "limits/absgap", 0.0)
    if options.lp_algorithm is not None:
        code = LP_ALGORITHMS.get(options.lp_algorithm)
        if code is None:
            raise UnsupportedOption(
                f"SCIP's LP solver (SoPlex) has no {options.lp_algorithm!r} algorithm; "
                f"lp_algorithm may be one of {sorted(LP_ALGORITHMS)} (dual simplex)"
            )
        _put(model, "lp/initalgorithm", code)
        _put(model, "lp/resolvealgorithm", code)
    for name, value in options.raw.items():
        _put(model, str(name), value)


def status_of(scip_status: str) -> Status:
    """SCIP status word -> Status (the table in the module docstring)."""
    return _STATUS.get(scip_status.lower(), Status.ERROR)


def _prepared_columns(model: SparseModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Costs and column bounds SCIP can take: infinite costs fix their column (as in HiGHS)."""
    c = np.asarray(model.c, dtype=np.float64)
    lower = np.asarray(model.col_lower, dtype=np.float64)
    upper = np.asarray(model.col_upper, dtype=np.float64)
    for what, values in (("objective coefficient", c), ("matrix coefficient", model.A.data)):
        values = np.asarray(values, dtype=np.float64)
        big = (np.abs(values) >= SCIP_INF) & np.isfinite(values)
        if np.any(big):
            raise ValueError(
                f"{what} {float(values[big][0]):.3g} is at or above SCIP's infinity (1e20): rescale the instance"
            )
        if np.any(np.isnan(values)) or (what == "matrix coefficient" and not np.all(np.isfinite(values))):
            raise ValueError(f"{what}s must be finite numbers")
    pos, neg = np.isposinf(c), np.isneginf(c)
    if np.any(pos | neg):
        at = np.where(pos, lower, upper)
        bad = (pos | neg) & (at != 0)
        if np.any(bad):
            j = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"column {j} has an infinite cost and its bound {at[j]} is not 0: the objective is infinite"
            )
        lower, upper, c = lower.copy(), upper.copy(), c.copy()
        lower[pos | neg] = upper[pos | neg] = 0.0
        c[pos | neg] = 0.0
    return c, lower, upper


def _empty_bounds(model: SparseModel, lower: np.ndarray, upper: np.ndarray, mip: bool) -> str | None:
    """Why the bounds alone make the model infeasible (None: they do not)."""
    lo, hi = lower, upper
    if mip:
        integer = np.asarray(model.integer, dtype=bool)
        lo = np.where(integer, np.ceil(lower - 1e-6), lower)
        hi = np.where(integer, np.floor(upper + 1e-6), upper)
    bad = np.flatnonzero((lo > hi) | (lo >= SCIP_INF) | (hi <= -SCIP_INF))
    if len(bad):
        j = int(bad[0])
        return f"column {j} has empty bounds [{lower[j]:g}, {upper[j]:g}]"
    row_lo, row_hi = np.asarray(model.row_lower), np.asarray(model.row_upper)
    bad = np.flatnonzero((row_lo > row_hi) | (row_lo >= SCIP_INF) | (row_hi <= -SCIP_INF))
    if len(bad):
        i = int(bad[0])
        return f"row {i} has lower {model.row_lower[i]:g} > upper {model.row_upper[i]:g}"
    return None


def _build(m: Any, model: SparseModel, c: np.ndarray, lower: np.ndarray, upper: np.ndarray,
           mip: bool) -> tuple[list, dict]:
    """Columns and rows of ``model`` added to the SCIP model ``m``: (variables in column order, counts)."""
    from pyscipopt import Expr, ExprCons

    inf = m.infinity()
    n = model.num_cols
    lo = np.maximum(lower, -inf).tolist()
    hi = np.minimum(upper, inf).tolist()
    cost = c.tolist()
    vtype = np.where(np.asarray(model.integer, dtype=bool), "I", "C").tolist() if mip else ["C"] * n
    row_lo = np.maximum(np.asarray(model.row_lower, dtype=np.float64), -inf)
    row_hi = np.minimum(np.asarray(model.row_upper, dtype=np.float64), inf)
    kept = (row_lo > -inf) | (row_hi < inf)  # rows with both sides infinite are left out
    A = sp.csr_array(model.matrix())
    A.sum_duplicates()
    rows_of = np.repeat(np.arange(model.num_rows), np.diff(A.indptr))
    in_kept = kept[rows_of]
    entries = zip(rows_of[in_kept].tolist(), A.indices[in_kept].tolist(), A.data[in_kept].tolist())
    was_enabled = gc.isenabled()
    gc.disable()  # the build creates ~1e6 small objects: no repeated collections meanwhile
    try:
        add_var = m.addVar
        variables = [add_var(f"x{j}", vtype[j], lo[j], hi[j], cost[j]) for j in range(n)]
        row = ExprCons(Expr(), 0.0, 0.0)  # one empty linear row, its sides reset per row
        add_cons = m.addCons
        cons: list[Any] = [None] * model.num_rows
        for i, (a, b) in enumerate(zip(row_lo.tolist(), row_hi.tolist())):
            if kept[i]:
                row._lhs, row._rhs = a, b
                cons[i] = add_cons(row, f"r{i}")
        add_coef = m.addCoefLinear
        for i, j, v in entries:
            add_coef(cons[i], variables[j], v)
    finally:
        if was_enabled:
            gc.enable()
    if model.offset:
        m.addObjoffset(float(model.offset))
    return variables, {"rows": int(kept.sum()), "free_rows_dropped": int((~kept).sum()), "nonzeros": int(in_kept.sum())}


def _objective_bounded_by_box(c: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> bool:
    """Whether the column bounds alone bound the objective below (then the model is not unbounded)."""
    return bool(np.all((c <= 0) | (lower > -SCIP_INF)) and np.all((c >= 0) | (upper < SCIP_INF)))


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) and abs(value) < SCIP_INF else None


def _solve_once(model: SparseModel, c: np.ndarray, lower: np.ndarray, upper: np.ndarray, options: SolverOptions,
                clock: Clock, mip: bool) -> tuple[Any, list, dict, float | None, float]:
    """Build and solve one fresh SCIP model: (model, variables, counts, seconds solving or None
    when the clock ran out after the build, build seconds)."""
    import pyscipopt

    start = time.perf_counter()
    m = pyscipopt.Model()
    apply_options(m, options, mip=mip, time_limit=None)  # before the build: raw numerics/* apply to it
    variables, counts = _build(m, model, c, lower, upper, mip)
    build = time.perf_counter() - start
    if clock.expired():
        return m, variables, counts, None, build
    if "limits/time" not in options.raw:  # the time the clock has left after the build
        budget = clock.budget(1e-3)
        if budget is not None:
            _put(m, "limits/time", float(max(budget, 1e-3)))
    start = time.perf_counter()
    m.optimizeNogil()
    return m, variables, counts, time.perf_counter() - start, build


def solve(model: SparseModel, options: SolverOptions, clock: Clock, relax: bool = False) -> SolverRun:
    """Solve ``model`` (relax: its LP relaxation) with a fresh SCIP model in the time the clock has left."""
    mip = model.is_mip and not relax
    c, lower, upper = _prepared_columns(model)
    why = _empty_bounds(model, lower, upper, mip)
    if why is not None:
        return SolverRun(Status.INFEASIBLE, "infeasible", None, None, None, SOLVER, version(),
                         info={"status": "infeasible", "detected": why, "build_time": 0.0})
    try:
        m, variables, counts, elapsed, build = _solve_once(model, c, lower, upper, options, clock, mip)
    except MemoryError as err:
        return SolverRun(Status.MEMORY_OUT, "memory error", None, None, None, SOLVER, version(),
                         info={"status": "memory error", "error": str(err)})
    if elapsed is None:
        run = out_of_time(SOLVER, version(), "after the model build")
        run.info.update(build_time=build, **counts)
        return run
    word = m.getStatus()
    if word == "userinterrupt":  # SCIP caught Ctrl-C: stop the caller as Python would
        raise KeyboardInterrupt("SCIP was interrupted")
    run = _run_of(m, variables, word, mip, elapsed)
    run.info.update(build_time=build, **counts)
    if word == "gaplimit" and options.mip_gap is None and not {"limits/gap", "limits/absgap"} & set(options.raw):
        run.status = Status.OPTIMAL  # an exact run stopped at EXACT_REL_GAP: optimal in the suite's terms
    if word == "inforunbd":
        if _objective_bounded_by_box(c, lower, upper):
            run.info["inforunbd"] = "objective bounded below by the column bounds: infeasible"
        elif clock.expired():
            run.status = Status.TIME_LIMIT
            run.info["inforunbd"] = "no time left to tell infeasible from unbounded"
        else:  # feasible with a zero objective: the model is unbounded
            check = _solve_once(model, np.zeros_like(c), lower, upper, options, clock, mip)
            feasibility = check[0].getStatus() if check[3] is not None else "timelimit"
            run.info["inforunbd"] = f"zero-objective re-solve: {feasibility}"
            if feasibility == "infeasible":
                pass  # infeasible indeed
            elif feasibility == "timelimit":
                run.status = Status.TIME_LIMIT
            elif check[0].getNSols() > 0:  # a feasible point and an unbounded direction
                run.status, run.solver_status = Status.ERROR, "unbounded"
            else:
                run.status = Status.ERROR
    return run


def _run_of(m: Any, variables: list, word: str, mip: bool, elapsed: float) -> SolverRun:
    sol = m.getBestSol() if m.getNSols() > 0 else None
    if sol is not None:
        x = np.fromiter((sol[v] for v in variables), dtype=np.float64, count=len(variables))
        objective = float(m.getSolObjVal(sol))
    else:
        x, objective = None, None
    dual = _finite(m.getDualbound())
    if mip:
        bound = dual
        nodes: int | None = int(m.getNTotalNodes())
    else:
        bound = objective if word == "optimal" else dual
        nodes = None
    gap = _finite(m.getGap()) if sol is not None else None
    info = {
        "status": word,
        "gap": gap,
        "primal_bound": _finite(m.getPrimalbound()),
        "dual_bound": dual,
        "solutions_found": int(m.getNSolsFound()),
        "scip_solving_time": float(m.getSolvingTime()),
        "presolving_time": float(m.getPresolvingTime()),
        "columns": len(variables),
    }
    return SolverRun(status_of(word), word, objective, bound, x, SOLVER, version(), int(m.getNLPIterations()), nodes,
                     elapsed, info)


BACKEND = ArrayBackend("scip", SOLVER, solve, version, LP_OPTIONS, MIP_OPTIONS, max_layered_arcs=MAX_LAYERED_ARCS)
