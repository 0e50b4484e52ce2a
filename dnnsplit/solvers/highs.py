"""HiGHS through highspy: the one place where the suite calls HiGHS directly.

- :func:`apply_options`: the one mapping of :class:`SolverOptions` onto a ``highspy.Highs``
  object (threads, seed, time limit from the solve clock, exact MILP gaps unless a gap is
  asked for, LP algorithm, raw options by HiGHS's own names).
- :func:`status_of`: the one status map (HiGHS model status text -> :class:`Status`).
- :func:`solve`: a :class:`SparseModel` solved by a fresh ``Highs`` object (its run clock
  never carries over between solves); returns a :class:`SolverRun`. ``BACKEND`` registers it
  as the array backend "highspy".
- :class:`IncrementalLP`: one ``Highs`` object kept across solves, grown by rows and columns
  (column generation's restricted master), with the same option mapping and status map.

Traps handled here: HiGHS takes ``mip_gap`` as a fraction; costs above its infinity (1e20)
break a model silently (refused before the call); zeros are eliminated before the matrix is
passed; the time limit each call gets is what the backend's clock has left.
"""

from __future__ import annotations

import functools
import time
from typing import Any

import numpy as np

from dnnsplit.options import Clock, SolverOptions, UnsupportedOption
from dnnsplit.results import Status
from dnnsplit.solvers.model import ArrayBackend, SolverRun, SparseModel

SOLVER = "HiGHS"
HIGHS_INF = 1e20  # HiGHS treats |values| >= this as infinite
LP_OPTIONS = frozenset({"time_limit", "threads", "seed", "lp_algorithm", "raw"})
MIP_OPTIONS = LP_OPTIONS | {"mip_gap"}


@functools.lru_cache(maxsize=1)
def version() -> str:
    import highspy

    return highspy.Highs().version()


def _put(h: Any, name: str, value: object) -> None:
    import highspy

    if h.setOptionValue(name, value) != highspy.HighsStatus.kOk:
        raise UnsupportedOption(f"HiGHS refused option {name}={value!r}")


_FROM_OPTIONS: Any = object()


def apply_options(h: Any, options: SolverOptions, *, mip: bool, time_limit: Any = _FROM_OPTIONS) -> None:
    """Map SolverOptions onto a highspy.Highs object; unknown raw names raise UnsupportedOption.

    ``time_limit``: seconds this call may take (a backend passes its clock's budget; None: no
    limit; by default ``options.time_limit``).
    MILPs: ``mip_rel_gap`` = ``mip_gap`` or EXACT_REL_GAP, ``mip_abs_gap`` = 0 (before ``raw``)."""
    _put(h, "output_flag", False)
    _put(h, "threads", int(options.threads))
    _put(h, "random_seed", int(options.seed))
    limit = options.time_limit if time_limit is _FROM_OPTIONS else time_limit
    if limit is not None:
        _put(h, "time_limit", float(max(limit, 1e-3)))
    if mip:  # exact unless a gap is asked for; raw may still override both
        _put(h, "mip_rel_gap", options.mip_rel_gap)
        _put(h, "mip_abs_gap", 0.0)
    if options.lp_algorithm is not None:
        _put(h, "solver", options.lp_algorithm)
        if options.lp_algorithm == "ipm":
            _put(h, "run_crossover", "on")  # a vertex solution, so integrality can be read off
    for name, value in options.raw.items():
        _put(h, str(name), value)


def status_of(model_status: str) -> Status:
    """HiGHS model status text -> Status (a solution/iteration limit: FEASIBLE, which callers
    turn into ERROR when no point came back)."""
    text = model_status.lower()
    if text == "optimal":
        return Status.OPTIMAL
    if "infeasible" in text:  # "Infeasible", "Primal infeasible or unbounded" (costs >= 0: infeasible)
        return Status.INFEASIBLE
    if "time limit" in text:
        return Status.TIME_LIMIT
    if "limit" in text or "interrupt" in text or "objective" in text:
        return Status.FEASIBLE
    return Status.ERROR


def check_finite_costs(model: SparseModel) -> None:
    """Refuse data HiGHS would silently treat as infinite (its infinity is 1e20)."""
    for what, values in (("objective coefficient", model.c), ("matrix coefficient", model.A.data)):
        big = np.abs(np.asarray(values)) >= HIGHS_INF
        if np.any(big & np.isfinite(values)):
            raise ValueError(f"{what} {float(np.asarray(values)[big][0]):.3g} is at or above HiGHS's infinity (1e20): "
                             "rescale the instance")


def _lp(model: SparseModel, mip: bool) -> Any:
    import highspy

    lp = highspy.HighsLp()
    lp.num_col_ = model.num_cols
    lp.num_row_ = model.num_rows
    lp.col_cost_ = np.asarray(model.c, dtype=np.float64)
    lp.col_lower_ = np.asarray(model.col_lower, dtype=np.float64)
    lp.col_upper_ = np.asarray(model.col_upper, dtype=np.float64)
    lp.row_lower_ = np.asarray(model.row_lower, dtype=np.float64)
    lp.row_upper_ = np.asarray(model.row_upper, dtype=np.float64)
    lp.offset_ = float(model.offset)
    A = model.matrix()
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = A.indptr.astype(np.int32)
    lp.a_matrix_.index_ = A.indices.astype(np.int32)
    lp.a_matrix_.value_ = A.data.astype(np.float64)
    lp.a_matrix_.num_col_ = model.num_cols
    lp.a_matrix_.num_row_ = model.num_rows
    if mip:
        lp.integrality_ = [highspy.HighsVarType.kInteger if b else highspy.HighsVarType.kContinuous for b in model.integer]
    return lp


def solve(model: SparseModel, options: SolverOptions, clock: Clock, relax: bool = False) -> SolverRun:
    """Solve ``model`` with a fresh HiGHS object in the time the clock has left."""
    import highspy

    check_finite_costs(model)
    h = highspy.Highs()
    mip = model.is_mip and not relax
    apply_options(h, options, mip=mip, time_limit=clock.budget(1e-3))
    if h.passModel(_lp(model, mip)) == highspy.HighsStatus.kError:
        raise RuntimeError("HiGHS refused the model (passModel error)")
    start = time.perf_counter()
    h.run()
    elapsed = time.perf_counter() - start
    return _run_of(h, mip, elapsed)


def _run_of(h: Any, mip: bool, elapsed: float) -> SolverRun:
    import highspy

    model_status = h.getModelStatus()
    name = h.modelStatusToString(model_status)
    info = h.getInfo()
    has_point = info.primal_solution_status == 2  # kSolutionStatusFeasible
    x = np.asarray(h.getSolution().col_value) if has_point else None
    objective = float(info.objective_function_value) if has_point else None
    if mip:
        bound = float(info.mip_dual_bound) if np.isfinite(info.mip_dual_bound) else None
        nodes = int(info.mip_node_count)
    else:
        bound = objective if model_status == highspy.HighsModelStatus.kOptimal else None
        nodes = None
    iterations = int(info.simplex_iteration_count) + max(int(info.ipm_iteration_count), 0) + max(
        int(info.pdlp_iteration_count), 0
    )
    details = {
        "model_status": name,
        "simplex_iterations": int(info.simplex_iteration_count),
        "ipm_iterations": int(info.ipm_iteration_count),
        "pdlp_iterations": int(info.pdlp_iteration_count),
        "crossover_iterations": int(info.crossover_iteration_count),
    }
    return SolverRun(status_of(name), name, objective, bound, x, SOLVER, version(), iterations, nodes, elapsed, details)


def read_model(path: str) -> tuple[SparseModel, list[str], list[str]]:
    """A model file (MPS or LP, optionally gzipped) read by HiGHS: the SparseModel in the file's
    column and row order with its column and row names (checks of ``dnnsplit export``)."""
    import highspy
    import scipy.sparse as sp

    h = highspy.Highs()
    _put(h, "output_flag", False)
    if str(path).endswith(".gz"):  # the highspy wheel reads no .gz: a plain copy first
        import gzip
        import shutil
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            plain = f"{tmp}/{str(path).rsplit('/', 1)[-1][:-3]}"
            with gzip.open(path, "rb") as src, open(plain, "wb") as dst:
                shutil.copyfileobj(src, dst)
            return read_model(plain)
    if h.readModel(str(path)) == highspy.HighsStatus.kError:
        raise ValueError(f"HiGHS cannot read the model file {path}")
    lp = h.getLp()
    n, m = lp.num_col_, lp.num_row_
    a = lp.a_matrix_
    shape = (m, n)
    if a.format_ == highspy.MatrixFormat.kRowwise:
        A = sp.csc_array(sp.csr_array((np.asarray(a.value_), np.asarray(a.index_), np.asarray(a.start_)), shape=shape))
    else:
        A = sp.csc_array((np.asarray(a.value_), np.asarray(a.index_), np.asarray(a.start_)), shape=shape)
    integrality = list(lp.integrality_)
    integer = np.array([v == highspy.HighsVarType.kInteger for v in integrality], bool) if integrality else None
    model = SparseModel(np.asarray(lp.col_cost_, float), A, np.asarray(lp.row_lower_, float),
                        np.asarray(lp.row_upper_, float), np.asarray(lp.col_lower_, float),
                        np.asarray(lp.col_upper_, float), integer, float(lp.offset_))
    return model, list(lp.col_names_), list(lp.row_names_)


BACKEND = ArrayBackend("highspy", SOLVER, solve, version, LP_OPTIONS, MIP_OPTIONS)


class IncrementalLP:
    """One ``Highs`` object grown by rows and columns and re-solved warm (never rebuilt).

    The master problem of column generation: add rows, add columns, change costs, bounds and
    integrality, give a start, solve within the clock, read primal and dual values.
    """

    def __init__(self, options: SolverOptions, *, mip: bool = False) -> None:
        import highspy

        self.hs = highspy
        self.h = highspy.Highs()
        self.options = options
        apply_options(self.h, options, mip=mip, time_limit=None)
        self.num_cols = 0

    def set_option(self, name: str, value: object) -> None:
        _put(self.h, name, value)

    def add_rows(self, lower: np.ndarray, upper: np.ndarray) -> None:
        n = len(lower)
        self.h.addRows(n, np.asarray(lower, float), np.asarray(upper, float), 0, np.zeros(n, np.int32),
                       np.empty(0, np.int32), np.empty(0))

    def add_cols(self, cost: Any, lower: Any, upper: Any, rows: list[np.ndarray], vals: list[np.ndarray]) -> list[int]:
        """Columns with their entries (``rows[k]``, ``vals[k]`` for column k); returns their indices."""
        n = len(cost)
        starts = np.zeros(n, dtype=np.int32)
        if n:
            starts[1:] = np.cumsum([len(r) for r in rows])[:-1]
        idx = np.concatenate(rows).astype(np.int32) if n else np.empty(0, np.int32)
        val = np.concatenate(vals).astype(np.float64) if n else np.empty(0)
        self.h.addCols(n, np.asarray(cost, float), np.asarray(lower, float), np.asarray(upper, float), len(idx),
                       starts, idx, val)
        first = self.num_cols
        self.num_cols += n
        return list(range(first, first + n))

    def set_costs(self, cols: np.ndarray, costs: np.ndarray) -> None:
        cols = np.asarray(cols, np.int32)
        self.h.changeColsCost(len(cols), cols, np.asarray(costs, float))

    def set_bounds(self, cols: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        cols = np.asarray(cols, np.int32)
        self.h.changeColsBounds(len(cols), cols, np.asarray(lower, float), np.asarray(upper, float))

    def make_integer(self, cols: np.ndarray) -> None:
        cols = np.asarray(cols, np.int32)
        self.h.changeColsIntegrality(len(cols), cols, np.full(len(cols), 1, dtype=np.uint8))  # kInteger
        apply_options(self.h, self.options, mip=True, time_limit=None)  # exact gaps (raw may override)

    def set_start(self, cols: np.ndarray, values: np.ndarray) -> None:
        cols = np.asarray(cols, np.int32)
        self.h.setSolution(len(cols), cols, np.asarray(values, float))

    def run(self, clock: Clock | None = None) -> tuple[Status, str, float]:
        """Solve within what ``clock`` has left: (status, HiGHS's word, seconds)."""
        if clock is not None and clock.limit is not None:
            # the object's run clock accumulates across runs: its limit is absolute
            _put(self.h, "time_limit", float(self.h.getRunTime()) + max(clock.remaining() or 0.0, 1e-3))
        t = time.perf_counter()
        self.h.run()
        elapsed = time.perf_counter() - t
        name = self.h.modelStatusToString(self.h.getModelStatus())
        return status_of(name), name, elapsed

    def is_optimal(self) -> bool:
        return self.h.getModelStatus() == self.hs.HighsModelStatus.kOptimal

    def objective(self) -> float:
        return float(self.h.getInfo().objective_function_value)

    def primal(self) -> np.ndarray:
        return np.asarray(self.h.getSolution().col_value)

    def duals(self) -> np.ndarray:
        return np.asarray(self.h.getSolution().row_dual)

    def has_point(self) -> bool:
        return self.h.getInfo().primal_solution_status == 2

    def mip_nodes(self) -> int:
        return int(self.h.getInfo().mip_node_count)
