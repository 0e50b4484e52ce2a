r"""``dnnsplit export``: the suite's LP/MILP models as MPS or LP files, with a names map.

Two uses:

    dnnsplit export INSTANCE --formulation F --out model.mps     (or .lp, .mps.gz, .lp.gz)
    dnnsplit export --default-set S --out DIR                      (a model library + S.solu)

What is written is exactly the model the suite's array backends (``highspy``, ``scip``) solve:
F1-weak / F1-aggregated (``f1_assignment.build_arrays``), F2 (``f2_layered.build_lp``), both in
the unit of ``latency_unit`` (a power of two near the optimal latency, as the backends state
them), and every F3 arc-form variant (``f3.arc.build_arrays(...)[0].build()``, which minimises
objective / S with S = ``F3Data.scale``). Each model's objective therefore reads

    model objective = suite objective / scale      (scale: a power of two, exact)

and the meta file states ``scale`` and the suite objective's unit (s, s/s or W): multiply a
solver's optimum by ``scale`` to compare it with ``dnnsplit solve``. The ``.solu`` values are in
model units (the file's own objective), so an external solver's answer compares directly.

Files beside ``model.mps`` (stem ``model``):

- ``model.names.csv``: one line per column and row: ``kind`` (col/row), ``index`` (0-based, the
  order of the file), ``name`` (the name used in the file), ``block`` (the docstring label of
  its block: x, y, f, z, t; A1, A2, A2', A3, A4, F2.1, F3.1 ... F3.5, C1, C2, C3.z, C3) and
  ``symbol`` (the paper's symbol with node names, e.g. ``x[l=3,n=edge1]``,
  ``f[job=2,c=(0,),arc=(edge1,3)->(cloud0,3)]``, ``C2[link=edge1->cloud0]``).
- ``model.json``: instance name and hash, formulation, objective and its unit, scale, sizes,
  the row and column blocks (label -> [first, stop)), and what the campaign knows (library).

Names in the files are ``<block>_<k>`` (k counts within the block from 0; '.' in a label
becomes '_', the prime of A2' a 'p': ``A2p_4``, ``F2_1_17``, ``C3_z_0``): letters, digits and
'_' only, so every MPS and LP reader takes them. Symbols: layers l = 1..L (stage / copy
l = 0..L for tensors o_l), vertex ``(n,l)`` = node n in copy l of the layered graph, ``c`` = the
tuple of active exits of an exit configuration (``()``: none), ``job`` = the job's index.
A link's name is ``tail->head`` (``#a`` with its index where two links join the same pair).

MPS: free format, one entry per line, numbers as Python's shortest round-trip repr (the file
reads back bit for bit), integers between ``'MARKER' 'INTORG'/'INTEND'`` pairs and always with
explicit bounds (``BV`` for 0/1), ranged rows through RANGES, the objective row ``obj`` with
the offset as its negated RHS (none of the suite's models has one). LP: CPLEX LP format
(``Minimize``, ``Subject To``, ``Bounds``, ``Generals``, ``End``); a ranged row R would be
written as two rows ``R_lo`` and ``R_up`` (the suite's models have none, as LP readers differ
on ranges).

The library (``--default-set S``): for every instance of the default set, a model per
formulation (single-job instances: F1-weak, F1-aggregated, F2 and every F3 variant the campaign
ran on it; multi-job: every F3 variant, those with exits only where a model has exits;
``--formulation PATTERN`` chooses others), ``index.csv`` (one line per model) and ``S.solu`` in
the MIPLIB convention from the committed campaign (``paper_tables/results/campaign.jsonl``,
records matched by instance hash and formulation):

    =opt=  NAME VALUE    a record of the formulation (or, for F1-weak, F1-aggregated and F2,
                         which share their optimum, of any of the three) ended optimal
    =inf=  NAME          a record ended infeasible (proved) and none optimal
    =best= NAME VALUE    otherwise: the best objective of a record that found a solution
    =bestdual= NAME V    otherwise: the best proven bound of a record

Nothing half-written is left: model files go to temporary names and are moved into place when
complete; a library is built in ``.DIR.partial-PID`` beside DIR and moved into place at the end,
Ctrl-C and SIGTERM remove it (:func:`terminate_cleanly`), and the next export removes what an
export killed outright left. LLM pipeline-placement instances (problem "llm", F5) are refused.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import fnmatch
import gzip
import io
import json
import math
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Iterable, Iterator, Sequence

import numpy as np

from dnnsplit.results import OBJECTIVE_UNITS
from dnnsplit.solvers.model import SparseModel
from instances.model import Instance

F1_FORMULATIONS = ("F1-weak", "F1-aggregated")
SINGLE_FORMULATIONS = (*F1_FORMULATIONS, "F2")
# formulations with the same optimum (the single-job latency): their records vouch for each other
SAME_OPTIMUM = frozenset(SINGLE_FORMULATIONS)
CAMPAIGN = Path(__file__).resolve().parent.parent / "paper_tables" / "results" / "campaign.jsonl"
FORMATS = {".mps": "mps", ".lp": "lp", ".mps.gz": "mps", ".lp.gz": "lp"}


class ExportError(Exception):
    """An expected failure: printed as one line by the CLI."""


class Terminated(BaseException):
    """SIGTERM during an export (kill, a batch system's limit): unwinds like Ctrl-C, so that the
    ``finally`` blocks remove the partial files."""


@contextlib.contextmanager
def terminate_cleanly() -> Iterator[None]:
    """Turn SIGTERM into :class:`Terminated` while the block runs (main thread only), then put
    the previous handler back."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def objective_unit(objective_name: str) -> str:
    """The unit of a suite objective (s, s/s, W), as ``dnnsplit solve`` prints it."""
    return OBJECTIVE_UNITS.get(objective_name, ("", ""))[0]


def refuse_llm(instance: Any, command: str = "export") -> None:
    """LLM pipeline-placement instances (problem "llm") have no F1/F2/F3 model to write or draw."""
    from instances.llm.model import LLM_PROBLEM, is_llm_instance

    if is_llm_instance(instance):
        raise ExportError(f"instance {instance.name!r} is an LLM pipeline-placement instance (problem "
                          f"{LLM_PROBLEM!r}, F5); dnnsplit {command} handles the DNN-split instances only")


def f3_formulations() -> tuple[str, ...]:
    from formulations.f3.model import VARIANTS

    return tuple(VARIANTS)


def formulations() -> tuple[str, ...]:
    """Every formulation with an LP/MILP model that can be exported."""
    return (*SINGLE_FORMULATIONS, *f3_formulations())


# ----------------------------------------------------------------------------- names


@dataclass
class Names:
    """File names, blocks and symbols of a model's columns (or rows), filled block by block."""

    size: int
    symbol: list[str | None] = field(default_factory=list)
    block: list[str | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.symbol = [None] * self.size
        self.block = [None] * self.size

    def put(self, start: int, label: str, symbols: Sequence[str], expected: int | None = None) -> None:
        stop = start + len(symbols)
        if expected is not None and expected != len(symbols):
            raise ExportError(f"internal: block {label} has {expected} entries, {len(symbols)} names")
        if stop > self.size or any(b is not None for b in self.block[start:stop]):
            raise ExportError(f"internal: block {label} [{start}, {stop}) overlaps another or leaves the model")
        self.symbol[start:stop] = symbols
        self.block[start:stop] = [label] * len(symbols)

    def check(self, what: str) -> None:
        missing = [i for i, b in enumerate(self.block) if b is None]
        if missing:
            raise ExportError(f"internal: {len(missing)} {what} without a name (first: {missing[0]})")
        seen: dict[str, int] = {}
        for i, s in enumerate(self.symbol):
            if s in seen:
                raise ExportError(f"internal: {what} {seen[s]} and {i} share the symbol {s}")
            seen[s] = i  # type: ignore[index]

    def file_names(self) -> list[str]:
        """``<block>_<k>``: k counts within the block (letters, digits and '_' only)."""
        count: dict[str, int] = {}
        out = []
        for b in self.block:
            assert b is not None
            k = count.get(b, 0)
            count[b] = k + 1
            out.append(f"{safe_label(b)}_{k}")
        return out

    def blocks(self) -> dict[str, list[list[int]]]:
        """label -> its runs [first, stop) in index order (one run per block in F1 and F2; F3's
        per-job blocks of f, y, F3.1 alternate, so they have one run per job and configuration)."""
        out: dict[str, list[list[int]]] = {}
        prev = None
        for i, b in enumerate(self.block):
            assert b is not None
            if b == prev:
                out[b][-1][1] = i + 1
            else:
                out.setdefault(b, []).append([i, i + 1])
            prev = b
        return out


def safe_label(label: str) -> str:
    return label.replace("'", "p").replace(".", "_")


def link_names(instance: Instance) -> list[str]:
    """``tail->head`` per link; ``#a`` appended where two links join the same ordered pair."""
    net = instance.network
    pairs = [(net.node_names[s], net.node_names[t]) for s, t in zip(net.link_source.tolist(), net.link_target.tolist())]
    count: dict[tuple[str, str], int] = {}
    for p in pairs:
        count[p] = count.get(p, 0) + 1
    return [f"{s}->{t}" + (f"#{a}" if count[(s, t)] > 1 else "") for a, (s, t) in enumerate(pairs)]


def config_text(config: Sequence[int]) -> str:
    """``()``, ``(0,)``, ``(0,2)``: the active exits of a configuration."""
    return repr(tuple(int(x) for x in config)).replace(" ", "")


def arc_symbols(instance: Instance, graph: Any, prefix: str = "") -> list[str]:
    """``f[<prefix>arc=(tail,l)->(head,l)]`` per arc of a LayeredGraph (communication arcs in copy
    l; computation arcs ``(n,l-1)->(n,l)`` of layer l)."""
    from dnnsplit.graph.layered import COMPUTE

    net = instance.network
    names = net.node_names
    links = link_names(instance)
    out = []
    for kind, l, i in zip(graph.kind.tolist(), graph.layer.tolist(), graph.index.tolist()):
        if kind == COMPUTE:
            out.append(f"f[{prefix}arc=({names[i]},{l - 1})->({names[i]},{l})]")
        else:
            s, t = names[net.link_source[i]], names[net.link_target[i]]
            tag = links[i].partition("#")[2]
            out.append(f"f[{prefix}arc=({s},{l})->({t},{l})" + (f",link={tag}]" if tag else "]"))
    return out


def vertex_symbols(instance: Instance, num_layers: int) -> list[str]:
    """``(n,l)`` per vertex l|N| + n of a layered graph with ``num_layers`` layers."""
    names = instance.network.node_names
    return [f"({n},{l})" for l in range(num_layers + 1) for n in names]


# ----------------------------------------------------------------------------- the models


@dataclass
class Export:
    """One model as the suite's array backends solve it, with names and units."""

    formulation: str
    instance: Instance
    model: SparseModel
    cols: Names
    rows: Names
    scale: float  # model objective = suite objective / scale
    objective_name: str
    job: int | None = None  # the job a single-job formulation solved (None: the instance's only one)
    parent: Instance | None = None  # the multi-job instance ``job`` was taken from

    @property
    def unit(self) -> str:
        return objective_unit(self.objective_name)


def build_export(instance: Instance, formulation: str, job: int | None = None) -> Export:
    """The model of ``formulation`` on ``instance`` (``job``: one job of a multi-job instance, for
    the single-job formulations), named block by block."""
    from dnnsplit import catalogue, registry

    refuse_llm(instance)
    if formulation not in formulations():
        known = {s.formulation for s in registry.specs()}
        what = "has no model that export writes" if formulation in known else "is not a formulation of the suite"
        raise ExportError(f"formulation {formulation!r} {what}; expected one of {', '.join(formulations())}")
    spec = catalogue.get(formulation, "highspy")
    parent = instance
    if formulation in SINGLE_FORMULATIONS:
        if job is not None:
            if not 0 <= job < len(instance.jobs):
                raise ExportError(f"--job {job}: instance {instance.name!r} has jobs 0..{len(instance.jobs) - 1}")
            parent, instance = instance, instance.only_job(job)
        elif len(instance.jobs) != 1:
            raise ExportError(f"{formulation} is a single-job model; instance {instance.name!r} has "
                              f"{len(instance.jobs)} jobs (choose one with --job K, or an F3 variant)")
        build = _f1 if formulation in F1_FORMULATIONS else _f2
    else:
        if job is not None:
            raise ExportError(f"--job picks one job for a single-job formulation; {formulation} models every job")
        build = _f3
    model, cols, rows, scale = build(instance, formulation)
    cols.check("columns")
    rows.check("rows")
    return Export(formulation, instance, model, cols, rows, scale, spec.objective, job,
                  parent if job is not None else None)


def _f1(instance: Instance, variant: str) -> tuple[SparseModel, Names, Names, float]:
    """F1 (weak or aggregated): x, y; A1, A2, A2' or A3, A4 (``f1_assignment`` docstring)."""
    from dnnsplit.graph.shortest import latency_unit
    from formulations.f1_assignment import build_arrays, f1_data

    d = f1_data(instance)
    unit = latency_unit(instance)
    model = build_arrays(d, variant)[0].in_units(unit)  # as _solve_arrays states it
    names = instance.network.node_names
    C = [names[n] for n in d.compute.tolist()]
    s, t = names[d.source], names[d.sink]
    cols, rows = Names(model.num_cols), Names(model.num_rows)
    cb, rb = model.col_blocks, model.row_blocks
    cols.put(cb["x"][0], "x", [f"x[l={l},n={n}]" for l in range(1, d.L + 1) for n in C])
    finite = np.flatnonzero(np.isfinite(d.dist))
    pair = [f"l={d.stage[p]},i={names[d.tail_node[p]]},k={names[d.head_node[p]]}" for p in finite.tolist()]
    cols.put(cb["y"][0], "y", [f"y[{p}]" for p in pair])
    rows.put(rb["A1"][0], "A1", [f"A1[l={l}]" for l in range(1, d.L + 1)])
    if variant == "F1-weak":
        rows.put(rb["A2"][0], "A2", [f"A2[{p}]" for p in pair])
        q = np.flatnonzero(~np.isfinite(d.dist))
        both = q[(d.tail_col[q] >= 0) & (d.head_col[q] >= 0)]
        if len(both):
            rows.put(rb["A2'"][0], "A2'", [f"A2'[l={d.stage[p]},i={names[d.tail_node[p]]},k={names[d.head_node[p]]}]"
                                            for p in both.tolist()])
    else:
        # one row per x column (l = 1..L, compute node k), then the fixed end
        tails = [f"A3[l={l},i={n}]" for l in range(1, d.L + 1) for n in C] + [f"A3[l=0,i={s}]"]
        heads = [f"A4[l={l - 1},k={n}]" for l in range(1, d.L + 1) for n in C] + [f"A4[l={d.L},k={t}]"]
        rows.put(rb["A3"][0], "A3", tails)
        rows.put(rb["A4"][0], "A4", heads)
    return model, cols, rows, unit


def _f2(instance: Instance, formulation: str) -> tuple[SparseModel, Names, Names, float]:
    """F2: f per arc of the layered graph; F2.1 per vertex (``f2_layered`` docstring)."""
    from dnnsplit.graph.layered import build_layered_graph
    from dnnsplit.graph.shortest import latency_unit
    from formulations.f2_layered import JOB, build_lp

    graph = build_layered_graph(instance, JOB)
    unit = latency_unit(instance, JOB)
    model = build_lp(graph).in_units(unit)  # as _solve_arrays states it
    cols, rows = Names(model.num_cols), Names(model.num_rows)
    cols.put(model.col_blocks["f"][0], "f", arc_symbols(instance, graph))
    rows.put(model.row_blocks["F2.1"][0], "F2.1", [f"F2.1[v={v}]" for v in vertex_symbols(instance, graph.num_layers)])
    return model, cols, rows, unit


def _f3(instance: Instance, formulation: str) -> tuple[SparseModel, Names, Names, float]:
    """An F3 arc-form variant: the suite's model, named by replaying its define_* steps on a
    builder that records which step added which rows and columns (``f3/arc.py``)."""
    from formulations.f3 import arc
    from formulations.f3.model import VARIANTS, F3Data

    variant = VARIANTS[formulation]
    d = F3Data(instance, variant)
    b, idx = arc.build_arrays(d)
    model = b.build()  # exactly what arc._solve_arrays hands to an array backend
    rec = _recorded(arc, d)
    if (rec.built.A.shape != model.A.shape or rec.built.A.nnz != model.A.nnz
            or not np.array_equal(rec.built.c, model.c) or not np.array_equal(rec.built.row_upper, model.row_upper)):
        raise ExportError(f"internal: the F3 names are out of step with arc.build_arrays ({formulation})")
    net = instance.network
    names = net.node_names
    links = link_names(instance)
    cols, rows = Names(model.num_cols), Names(model.num_rows)
    A = model.A.tocsc()
    for j, blocks in enumerate(idx.blocks):
        job = instance.jobs[j]
        for tpl, f0, y in blocks:
            c = config_text(tpl.config)
            cols.put(f0, "f", arc_symbols(instance, tpl.graph, prefix=f"job={j},c={c},"))
            cols.put(y, "y", [f"y[job={j},c={c}]"])
            # y enters its block's source row with -1: the block starts source-vertex rows before it
            ys = slice(A.indptr[y], A.indptr[y + 1])
            source_row = int(A.indices[ys][A.data[ys] < 0][0])
            start = source_row - tpl.source_vertex(job.source)
            rows.put(start, "F3.1", [f"F3.1[job={j},c={c},v={v}]" for v in vertex_symbols(instance, tpl.graph.num_layers)])
    one_start, one_n = [(start, n) for step, start, n in rec.rows_added if step == "flow_conservation"][-1]
    rows.put(one_start, "F3.2", [f"F3.2[job={j}]" for j in range(len(instance.jobs))], one_n)
    steps: dict[str, list[tuple[int, int]]] = {}
    for step, start, n in rec.rows_added:
        steps.setdefault(step, []).append((start, n))
    col_steps: dict[str, list[tuple[int, int]]] = {}
    for step, start, n in rec.cols_added:
        col_steps.setdefault(step, []).append((start, n))
    C = [names[n] for n in net.compute_nodes.tolist()]
    for start, n in steps.get("node_capacity", []):
        rows.put(start, "C1", [f"C1[node={name}]" for name in C], n)
    for start, n in steps.get("link_capacity", []):
        rows.put(start, "C2", [f"C2[link={name}]" for name in links], n)
    for (start, _), j in zip(steps.get("accuracy", []), d.accuracy_jobs()):
        rows.put(start, "F3.3", [f"F3.3[job={j}]"])
    for (start, _), j in zip(steps.get("deadlines", []), d.deadline_jobs()):
        rows.put(start, "F3.4", [f"F3.4[job={j}]"])
    if "memory" in steps:
        models = sorted({job.model for job in instance.jobs})
        for (start, _), m in zip(col_steps["memory"], models):
            mod = instance.models[m]
            cols.put(start, "z", [f"z[m={mod.name},l={l},n={n}]" for l in range(1, mod.num_layers + 1) for n in C])
        J = len(instance.jobs)
        for k, (start, _) in enumerate(steps["memory"]):
            if k < J:  # per job: z >= the flow on each computation arc
                L = instance.model_of(k).num_layers
                rows.put(start, "C3.z", [f"C3.z[job={k},l={l},n={n}]" for l in range(1, L + 1) for n in C])
            else:  # per compute node: the memory of the layers loaded
                rows.put(start, "C3", [f"C3[node={C[k - J]}]"])
    for start, _ in col_steps.get("minmax_objective", []):
        cols.put(start, "t", ["t"])
    for start, n in steps.get("minmax_objective", []):
        rows.put(start, "F3.5", [f"F3.5[job={j}]" for j in range(n)])
    return model, cols, rows, d.scale


def _recorded(arc: Any, d: Any) -> Any:
    """The define_* steps of ``arc.build_arrays`` on a builder that records each block's step."""

    class Recorder(arc.ArcBuilder):
        def __init__(self, integral: bool) -> None:
            super().__init__(integral)
            self.step = ""
            self.rows_added: list[tuple[str, int, int]] = []
            self.cols_added: list[tuple[str, int, int]] = []

        def add_cols(self, n: int, *args: Any, **kwargs: Any) -> int:
            start = super().add_cols(n, *args, **kwargs)
            self.cols_added.append((self.step, start, n))
            return start

        def add_rows(self, lower: Any, upper: Any, n: int, **kwargs: Any) -> int:
            start = super().add_rows(lower, upper, n, **kwargs)
            self.rows_added.append((self.step, start, n))
            return start

    b = Recorder(d.variant.integral)
    b.step = d.variant.addons[0]
    idx = arc.define_flow_conservation(b, d)
    for step in d.variant.addons[1:]:
        b.step = step
        arc.DEFINE[step](b, d, idx)
    b.built = b.build()
    return b


# ----------------------------------------------------------------------------- writers


def _num(x: float) -> str:
    """Shortest round-trip decimal of a finite float."""
    return repr(float(x))


def row_senses(model: SparseModel) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Per row: MPS type (E, L, G; a ranged row is G with its range), RHS, range (0: none)."""
    lo, hi = np.asarray(model.row_lower, float), np.asarray(model.row_upper, float)
    free = ~np.isfinite(lo) & ~np.isfinite(hi)
    if np.any(free):
        raise ExportError(f"row {int(np.flatnonzero(free)[0])} has no finite side (a free row)")
    kind = np.where(lo == hi, "E", np.where(~np.isfinite(lo), "L", "G"))
    rhs = np.where(kind == "L", hi, lo)
    rng = np.where((kind == "G") & np.isfinite(hi), hi - lo, 0.0)
    return kind.tolist(), rhs, rng


def write_mps(out: IO[str], model: SparseModel, col_names: Sequence[str], row_names: Sequence[str],
              name: str = "dnnsplit", comments: Iterable[str] = ()) -> None:
    """Free MPS of ``model`` (see the module docstring for the conventions)."""
    for line in comments:
        out.write(f"* {line}\n")
    out.write(f"NAME {name}\nROWS\n N  obj\n")
    kind, rhs, rng = row_senses(model)
    out.writelines(f" {k}  {r}\n" for k, r in zip(kind, row_names))
    out.write("COLUMNS\n")
    A = model.matrix()
    c = np.asarray(model.c, float)
    integer = np.zeros(model.num_cols, bool) if model.integer is None else np.asarray(model.integer, bool)
    indptr, indices, data = A.indptr, A.indices, A.data.tolist()
    in_int, marker = False, 0
    for j, cname in enumerate(col_names):
        if integer[j] != in_int:
            out.write(f"    MARKER{marker:04d} 'MARKER' '{'INTORG' if integer[j] else 'INTEND'}'\n")
            marker += 1
            in_int = bool(integer[j])
        lo, hi = indptr[j], indptr[j + 1]
        if c[j] != 0.0 or lo == hi:
            out.write(f"    {cname} obj {_num(c[j])}\n")
        out.writelines(f"    {cname} {row_names[r]} {_num(v)}\n" for r, v in zip(indices[lo:hi].tolist(), data[lo:hi]))
    if in_int:
        out.write(f"    MARKER{marker:04d} 'MARKER' 'INTEND'\n")
    out.write("RHS\n")
    if model.offset:
        out.write(f"    RHS obj {_num(-model.offset)}\n")
    out.writelines(f"    RHS {row_names[i]} {_num(rhs[i])}\n" for i in np.flatnonzero(rhs != 0.0).tolist())
    ranged = np.flatnonzero(rng != 0.0)
    if len(ranged):
        out.write("RANGES\n")
        out.writelines(f"    RNG {row_names[i]} {_num(rng[i])}\n" for i in ranged.tolist())
    out.write("BOUNDS\n")
    lower, upper = np.asarray(model.col_lower, float), np.asarray(model.col_upper, float)
    for j, cname in enumerate(col_names):
        out.writelines(_mps_bounds(cname, float(lower[j]), float(upper[j]), bool(integer[j])))
    out.write("ENDATA\n")


def _mps_bounds(name: str, lo: float, hi: float, integer: bool) -> list[str]:
    """BOUNDS lines of one column (default: [0, inf) continuous; integers always explicit)."""
    if lo == hi:
        return [f" FX BND {name} {_num(lo)}\n"]
    if integer and lo == 0.0 and hi == 1.0:
        return [f" BV BND {name}\n"]
    if lo == -math.inf and hi == math.inf:
        return [f" FR BND {name}\n"]
    out = []
    if lo == -math.inf:
        out.append(f" MI BND {name}\n")
    elif lo != 0.0 or integer:
        out.append(f" LO BND {name} {_num(lo)}\n")
    if hi != math.inf:
        out.append(f" UP BND {name} {_num(hi)}\n")
    elif integer:
        out.append(f" PL BND {name}\n")
    return out


def _terms(cols: Sequence[int], vals: Sequence[float], names: Sequence[str]) -> str:
    """' + 2.5 x_0 - 1 y_3 ...' with a line break every 8 terms (LP lines stay short)."""
    parts = []
    for k, (j, v) in enumerate(zip(cols, vals)):
        sep = "\n   " if k and k % 8 == 0 else ""
        parts.append(f"{sep} {'-' if v < 0 or (v == 0 and math.copysign(1, v) < 0) else '+'} {_num(abs(v))} {names[j]}")
    return "".join(parts)


def write_lp(out: IO[str], model: SparseModel, col_names: Sequence[str], row_names: Sequence[str],
             name: str = "dnnsplit", comments: Iterable[str] = ()) -> None:
    """CPLEX LP of ``model`` (see the module docstring for the conventions)."""
    for line in (f"Problem {name}", *comments):
        out.write(f"\\ {line}\n")
    c = np.asarray(model.c, float)
    nz = np.flatnonzero(c != 0.0)
    out.write("Minimize\n obj:")
    out.write(_terms(nz.tolist(), c[nz].tolist(), col_names) if len(nz) or not len(col_names) else f" + 0 {col_names[0]}")
    if model.offset:
        out.write(f" {'-' if model.offset < 0 else '+'} {_num(abs(model.offset))}")
    out.write("\nSubject To\n")
    R = model.matrix().tocsr()
    R.sort_indices()
    lo, hi = np.asarray(model.row_lower, float), np.asarray(model.row_upper, float)
    row_senses(model)  # refuses free rows
    for i, rname in enumerate(row_names):
        a, b = R.indptr[i], R.indptr[i + 1]
        expr = _terms(R.indices[a:b].tolist(), R.data[a:b].tolist(), col_names) if b > a else f" + 0 {col_names[0]}"
        if lo[i] == hi[i]:
            out.write(f" {rname}:{expr} = {_num(lo[i])}\n")
        elif not np.isfinite(lo[i]):
            out.write(f" {rname}:{expr} <= {_num(hi[i])}\n")
        elif not np.isfinite(hi[i]):
            out.write(f" {rname}:{expr} >= {_num(lo[i])}\n")
        else:  # a ranged row: two rows (LP readers differ on ranges)
            out.write(f" {rname}_lo:{expr} >= {_num(lo[i])}\n {rname}_up:{expr} <= {_num(hi[i])}\n")
    out.write("Bounds\n")
    integer = np.zeros(model.num_cols, bool) if model.integer is None else np.asarray(model.integer, bool)
    lower, upper = np.asarray(model.col_lower, float), np.asarray(model.col_upper, float)
    for j, cname in enumerate(col_names):
        l, u = float(lower[j]), float(upper[j])
        if l == u:
            out.write(f" {cname} = {_num(l)}\n")
        elif l == -math.inf and u == math.inf:
            out.write(f" {cname} free\n")
        elif l == 0.0 and u == math.inf and not integer[j]:
            continue
        else:
            ls = "-inf" if l == -math.inf else _num(l)
            us = "+inf" if u == math.inf else _num(u)
            out.write(f" {ls} <= {cname} <= {us}\n")
    ints = [col_names[j] for j in np.flatnonzero(integer).tolist()]
    if ints:
        out.write("Generals\n")
        for k in range(0, len(ints), 8):
            out.write(" " + " ".join(ints[k:k + 8]) + "\n")
    out.write("End\n")


def format_of(path: Path) -> str:
    """'mps' or 'lp' from the file name (.mps, .lp, optionally .gz)."""
    name = path.name.lower()
    for suffix, fmt in FORMATS.items():
        if name.endswith(suffix) and len(name) > len(suffix):
            return fmt
    raise ExportError(f"--out {path}: expected a file name ending in .mps, .lp, .mps.gz or .lp.gz")


def stem_of(path: Path) -> str:
    name = path.name
    for suffix in sorted(FORMATS, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _open_text(path: Path) -> IO[str]:
    if path.name.endswith(".gz"):
        return io.TextIOWrapper(gzip.GzipFile(path, "wb", compresslevel=6, mtime=0), encoding="utf-8", newline="")
    return open(path, "w", encoding="utf-8", newline="")


def write_model_files(exp: Export, path: Path, extra_meta: dict[str, Any] | None = None) -> list[Path]:
    """``path`` (.mps/.lp[.gz]), ``<stem>.names.csv`` and ``<stem>.json`` beside it; each file is
    written to a temporary name first and moved into place only when all three are complete."""
    fmt = format_of(path)
    stem = stem_of(path)
    gz = ".gz" if path.name.endswith(".gz") else ""
    targets = [path, path.with_name(f"{stem}.names.csv{gz}"), path.with_name(f"{stem}.json")]
    for t in targets:
        if t.is_dir():
            raise ExportError(f"{t}: is a folder, expected a file")
    if not path.parent.is_dir():
        raise ExportError(f"{path.parent}: no such folder")
    col_names, row_names = exp.cols.file_names(), exp.rows.file_names()
    temps = [t.with_name(f".{t.name}.tmp-{os.getpid()}") for t in targets]
    try:
        if gz:  # the opener compresses by suffix
            temps[:2] = [t.with_name(t.name + ".gz") for t in temps[:2]]
        comments = _comments(exp)
        with _open_text(temps[0]) as out:
            (write_mps if fmt == "mps" else write_lp)(out, exp.model, col_names, row_names, stem, comments)
        with _open_text(temps[1]) as out:
            w = csv.writer(out, lineterminator="\n")
            w.writerow(("kind", "index", "name", "block", "symbol"))
            for kind, names, table in (("col", col_names, exp.cols), ("row", row_names, exp.rows)):
                w.writerows((kind, i, n, b, s) for i, (n, b, s) in enumerate(zip(names, table.block, table.symbol)))
        meta = metadata(exp, targets[0].name, targets[1].name, fmt)
        meta.update(extra_meta or {})
        temps[2].write_text(_json_text(meta), encoding="utf-8")
        for tmp, target in zip(temps, targets):
            os.replace(tmp, target)
    finally:
        for tmp in temps:
            tmp.unlink(missing_ok=True)
    return targets


def _json_text(meta: dict[str, Any]) -> str:
    """Indented JSON with each [first, stop) run on one line."""
    text = json.dumps(meta, indent=1)
    import re

    return re.sub(r"\[\s*(\d+),\s*(\d+)\s*\]", r"[\1, \2]", text) + "\n"


def _comments(exp: Export) -> list[str]:
    return [f"dnnsplit model {exp.formulation} of instance {exp.instance.name} (hash {exp.instance.hash})",
            f"minimise {exp.objective_name} / {exp.scale!r} ({exp.unit}); names: see the .names.csv file"]


def metadata(exp: Export, model_file: str, names_file: str, fmt: str) -> dict[str, Any]:
    from dnnsplit import __version__

    m = exp.model
    return {
        "model_file": model_file,
        "format": "free MPS" if fmt == "mps" else "CPLEX LP",
        "names_file": names_file,
        "instance": exp.instance.name,
        "instance_hash": exp.instance.hash,
        "job": exp.job,
        "job_of": None if exp.parent is None else {"instance": exp.parent.name, "instance_hash": exp.parent.hash},
        "formulation": exp.formulation,
        "sense": "minimize",
        "objective": exp.objective_name,
        "objective_unit": exp.unit,
        "scale": exp.scale,
        "units": f"model objective = {exp.objective_name} ({exp.unit}) / scale; multiply the model's "
                 "optimum by scale for the suite's value",
        "columns": m.num_cols,
        "rows": m.num_rows,
        "nonzeros": int(m.matrix().nnz),
        "integer_columns": int(0 if m.integer is None else np.count_nonzero(m.integer)),
        "objective_offset": float(m.offset),
        "col_blocks": exp.cols.blocks(),
        "row_blocks": exp.rows.blocks(),
        "dnnsplit_version": __version__,
    }


# ----------------------------------------------------------------------------- campaign values


@dataclass
class Known:
    """What a campaign says about one model, in the suite's units (divide by scale for the model's)."""

    tag: str | None = None  # "=opt=", "=inf=", "=best=" (with =bestdual= where a bound is known)
    value: float | None = None  # optimum or best objective
    bound: float | None = None  # best proven bound (=bestdual=), when not optimal
    records: int = 0
    note: str = ""


def read_campaign(path: Path) -> list[dict[str, Any]]:
    """The records of a campaign file, read by the campaign's own reader (a malformed line is an
    error naming file and line; the file is never repaired here)."""
    from dnnsplit.campaign.records import CampaignError, read_existing

    try:
        return read_existing(Path(path), repair=False)
    except CampaignError as err:
        raise ExportError(str(err)) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ExportError(f"campaign file {path}: cannot read ({getattr(err, 'strerror', None) or err})") from None


def known_value(records: Sequence[dict[str, Any]], instance_hash: str, formulation: str) -> Known:
    """The campaign's knowledge of (instance, formulation): see the module docstring's rules."""
    vouch = SAME_OPTIMUM if formulation in SAME_OPTIMUM else {formulation}
    mine = [r for r in records if r.get("instance_hash") == instance_hash and r.get("formulation") in vouch]
    own = [r for r in mine if r.get("formulation") == formulation]
    known = Known(records=len(mine))

    def num(x: Any) -> float | None:
        return float(x) if isinstance(x, (int, float)) and math.isfinite(x) else None

    optimal = [num(r.get("objective")) for r in mine if r.get("status") == "optimal"]
    optimal = [v for v in optimal if v is not None]
    infeasible = [r for r in mine if r.get("status") == "infeasible"]
    if optimal and infeasible:
        known.note = f"records disagree: {len(optimal)} optimal, {len(infeasible)} infeasible"
        return known
    if optimal:
        known.tag, known.value = "=opt=", min(optimal)
        spread = (max(optimal) - min(optimal)) / max(abs(min(optimal)), 1e-9)
        if spread > 1e-6:
            known.note = f"optimal values differ by {spread:.3g} (relative); the smallest is listed"
        return known
    if infeasible:
        known.tag = "=inf="
        return known
    # own records only: a MILP incumbent or bound is not a value of a sibling formulation's model
    found = [r for r in own if r.get("status") not in (None, "error", "infeasible")]
    best = [num(r.get("objective")) for r in found]
    bounds = [num(r.get("bound")) for r in found]
    best = [v for v in best if v is not None]
    bounds = [v for v in bounds if v is not None]
    if best:
        known.tag, known.value = "=best=", min(best)
    if bounds:
        known.bound = max(bounds)
        known.tag = known.tag or "=bestdual="
    return known


def solu_lines(name: str, known: Known, scale: float) -> list[str]:
    """MIPLIB .solu lines of one model, values in model units (suite value / scale)."""
    if known.tag == "=inf=":
        return [f"=inf= {name}"]
    out = []
    if known.value is not None and known.tag in ("=opt=", "=best="):
        out.append(f"{known.tag} {name} {_num(known.value / scale)}")
    if known.bound is not None:
        out.append(f"=bestdual= {name} {_num(known.bound / scale)}")
    return out


# ----------------------------------------------------------------------------- library


def library_formulations(instance: Instance, records: Sequence[dict[str, Any]],
                         patterns: Sequence[str] | None) -> list[str]:
    """The formulations exported for one instance of the library (module docstring)."""
    every = formulations()
    if patterns:
        chosen = [f for f in every if any(fnmatch.fnmatchcase(f, p) for p in patterns)]
        if len(instance.jobs) != 1:
            chosen = [f for f in chosen if f not in SINGLE_FORMULATIONS]
        return chosen
    from formulations.f3.model import VARIANTS

    if len(instance.jobs) == 1:
        ran = {r.get("formulation") for r in records if r.get("instance_hash") == instance.hash}
        return [*SINGLE_FORMULATIONS, *(f for f in f3_formulations() if f in ran)]
    has_exits = any(instance.model_of(job).exits for job in instance.jobs)
    return [f for f in f3_formulations() if VARIANTS[f].exits == "none" or has_exits]


def write_library(set_name: str, out_dir: Path, *, patterns: Sequence[str] | None = None, fmt: str = "mps",
                  compress: bool = False, campaign: Path | None = CAMPAIGN, overwrite: bool = False,
                  progress: IO[str] | None = None) -> dict[str, Any]:
    """Every model of default set ``set_name`` under ``out_dir`` with ``index.csv`` and
    ``<set>.solu``; built in a temporary folder beside ``out_dir`` and moved into place at the
    end (an interruption leaves ``out_dir`` as it was)."""
    from instances.defaults import SET_NAMES, default_set

    if set_name not in SET_NAMES:
        raise ExportError(f"unknown default set {set_name!r}: expected one of {', '.join(SET_NAMES)}")
    if out_dir.exists() and not out_dir.is_dir():
        raise ExportError(f"--out {out_dir}: is a file, expected a folder for the model library")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not overwrite:
        raise ExportError(f"--out {out_dir}: folder exists and is not empty (give --overwrite to replace it)")
    if not out_dir.resolve().parent.is_dir():
        raise ExportError(f"--out {out_dir}: its parent folder does not exist")
    records: list[dict[str, Any]] = []
    if campaign is not None:
        if not Path(campaign).is_file():
            raise ExportError(f"campaign file {campaign} not found (give --campaign FILE, or --campaign none "
                              "for a library without known values)")
        records = read_campaign(Path(campaign))
    instances = default_set(set_name)
    if not instances:
        raise ExportError(f"default set {set_name!r} has no instances here (zoo-sample needs the Topology Zoo archive)")
    from instances.llm.model import is_llm_instance

    if any(is_llm_instance(inst) for inst in instances):
        raise ExportError(f"default set {set_name!r} holds LLM pipeline-placement instances (problem 'llm', F5); "
                          "dnnsplit export handles the DNN-split instances only")
    if progress is not None:
        print(f"exporting the {len(instances)} instances of default set {set_name} to {out_dir}", file=progress)
    remove_stale_partials(out_dir)
    tmp = out_dir.resolve().parent / f".{out_dir.name}.partial-{os.getpid()}"
    suffix = f".{fmt}" + (".gz" if compress else "")
    index_rows, solu = [], []
    counts = {"models": 0, "opt": 0, "inf": 0, "best": 0, "bestdual": 0, "unknown": 0}
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        for inst in instances:
            for formulation in library_formulations(inst, records, patterns):
                exp = build_export(inst, formulation)
                name = f"{inst.name}.{formulation}"
                known = known_value(records, inst.hash, formulation)
                lines = solu_lines(name, known, exp.scale)
                solu += lines
                extra = {"library": set_name, "campaign": _known_meta(known, exp.scale, campaign)}
                write_model_files(exp, tmp / f"{name}{suffix}", extra)
                counts["models"] += 1
                tags = {ln.split()[0].strip("=") for ln in lines}
                for t in tags:
                    counts[t] += 1
                counts["unknown"] += not tags
                index_rows.append({
                    "model": name, "file": f"{name}{suffix}", "instance": inst.name, "instance_hash": inst.hash,
                    "formulation": formulation, "objective": exp.objective_name, "objective_unit": exp.unit,
                    "scale": _num(exp.scale), "columns": exp.model.num_cols, "rows": exp.model.num_rows,
                    "nonzeros": int(exp.model.A.nnz), "integer_columns": int(0 if exp.model.integer is None
                                                                          else np.count_nonzero(exp.model.integer)),
                    "campaign_tag": known.tag or "", "campaign_value": "" if known.value is None else _num(known.value),
                    "campaign_bound": "" if known.bound is None else _num(known.bound),
                    "campaign_records": known.records, "note": known.note,
                })
                if progress is not None:
                    print(f"  {counts['models']:>4} {name}{suffix}: {exp.model.num_cols} columns, {exp.model.num_rows} rows"
                          f"{'; ' + lines[0].split()[0] if lines else ''}", file=progress, flush=True)
        with open(tmp / "index.csv", "w", encoding="utf-8", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(index_rows[0]) if index_rows else ["model"], lineterminator="\n")
            w.writeheader()
            w.writerows(index_rows)
        (tmp / f"{set_name}.solu").write_text("".join(f"{ln}\n" for ln in solu), encoding="utf-8")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return counts


def remove_stale_partials(out_dir: Path) -> list[Path]:
    """Remove the partial folders of ``out_dir`` left by exports that were killed outright
    (SIGKILL; their process is gone): ``.<name>.partial-<pid>`` beside it."""
    removed = []
    for p in out_dir.resolve().parent.glob(f".{out_dir.name}.partial-*"):
        pid = p.name.rpartition("-")[2]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
            continue  # another export is writing it
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        shutil.rmtree(p, ignore_errors=True)
        removed.append(p)
    return removed


def _known_meta(known: Known, scale: float, campaign: Path | None) -> dict[str, Any]:
    return {"file": None if campaign is None else str(campaign), "tag": known.tag,
            "value": known.value, "bound": known.bound,
            "value_model_units": None if known.value is None else known.value / scale,
            "bound_model_units": None if known.bound is None else known.bound / scale,
            "records": known.records, "note": known.note}


# ----------------------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Write the suite's LP/MILP model of an instance (MPS or LP, with a names map and a meta "
                          "file), or a whole model library of a default set with a MIPLIB-style .solu file of the "
                          "committed campaign's optima and bounds (values in model units: the suite's objective "
                          "divided by the model's scale).")
    parser.add_argument("instance", nargs="?", metavar="INSTANCE", help="an instance file; '-' reads it from standard input")
    parser.add_argument("--formulation", "-f", action="append", metavar="F",
                        help="with INSTANCE: the formulation (F1-weak, F1-aggregated, F2, F3-...-lp/-milp); with "
                             "--default-set: glob patterns of formulations to export (repeatable)")
    parser.add_argument("--job", type=int, help="single-job formulations on a multi-job instance: the job K")
    parser.add_argument("--default-set", metavar="S", help="write the model library of default set S to the --out folder")
    parser.add_argument("--out", "-o", required=True,
                        help="model file (.mps, .lp, .mps.gz, .lp.gz), or the library's folder with --default-set")
    parser.add_argument("--format", choices=("mps", "lp"), default="mps", help="library file format (default mps)")
    parser.add_argument("--gzip", action="store_true", help="library: compress the model files (.mps.gz)")
    parser.add_argument("--campaign", default=str(CAMPAIGN),
                        help="results file whose records give the .solu values ('none': no values); default: the "
                             "committed paper_tables/results/campaign.jsonl")
    parser.add_argument("--overwrite", action="store_true", help="library: replace a non-empty --out folder")


def run_cli(args: argparse.Namespace) -> int:
    try:
        with terminate_cleanly():  # a kill or a batch system's limit leaves nothing half-written
            return _run(args)
    except ExportError as err:
        print(f"dnnsplit export: error: {err}", file=sys.stderr)
        return 2
    except Terminated:
        print("dnnsplit export: terminated (SIGTERM); partial files removed", file=sys.stderr)
        return 143


def _run(args: argparse.Namespace) -> int:
    if args.default_set:
        if args.instance or args.job is not None:
            raise ExportError("give either INSTANCE or --default-set, not both")
        campaign = None if args.campaign == "none" else Path(args.campaign)
        counts = write_library(args.default_set, Path(args.out), patterns=args.formulation, fmt=args.format,
                               compress=args.gzip, campaign=campaign, overwrite=args.overwrite, progress=sys.stderr)
        print(f"wrote {counts['models']} models under {args.out} ({counts['opt']} =opt=, {counts['inf']} =inf=, "
              f"{counts['best']} =best=, {counts['bestdual']} =bestdual=, {counts['unknown']} without a campaign "
              f"value; {args.default_set}.solu and index.csv)")
        return 0
    if not args.instance:
        raise ExportError("give INSTANCE --formulation F --out FILE, or --default-set S --out DIR")
    if not args.formulation or len(args.formulation) != 1:
        raise ExportError("give one --formulation for an instance (one of " + ", ".join(formulations()) + ")")
    from instances.io import load, loads

    inst = loads(sys.stdin.read(), source="<stdin>") if args.instance == "-" else load(args.instance)
    path = Path(args.out)
    format_of(path)
    exp = build_export(inst, args.formulation[0], args.job)
    extra = {}
    if args.campaign != "none" and Path(args.campaign).is_file():
        known = known_value(read_campaign(Path(args.campaign)), exp.instance.hash, exp.formulation)
        extra["campaign"] = _known_meta(known, exp.scale, Path(args.campaign))
    written = write_model_files(exp, path, extra)
    m = exp.model
    print(f"wrote {written[0]} ({m.num_cols} columns, {m.num_rows} rows, {int(m.A.nnz)} nonzeros, "
          f"{int(0 if m.integer is None else np.count_nonzero(m.integer))} integer), names in {written[1].name}, "
          f"meta in {written[2].name}; objective = {exp.objective_name} ({exp.unit}) / {exp.scale!r}")
    return 0
