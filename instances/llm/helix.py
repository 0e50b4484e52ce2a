"""The published Helix case (ASPLOS'25): LLaMA-70B on a 24-node cluster, read from its artifact.

The artifact's files are read where they are (``../shared/helix/`` beside the repository, or
``$DNNSPLIT_HELIX_DIR``; never copied into the project): ``cluster24.ini`` (node types: 4
A100, 8 L4, 12 T4; every pair of nodes linked, 1,000 Mbit/s and 1 ms; source and sink linked
to every node), ``machine_profiles.ini`` (VRAM per type), ``llama70b_config.json`` (the model,
checked against the shipped Llama-2-70B profile) and Helix's own MILP of the cluster,
``llama70b_cluster24_ilp_model.lp``, whose node capacity rows
``node_throughput_constraint_i: sum_k theta_i(k) hold_i_k >= inflow_i`` are the measured
throughput table (Helix's profiler) and whose edge rows ``flow_i_j <= c switch_i_j`` give
Helix's link capacities in tokens/s.

Link units. Helix's LP gives node-to-node links 61,035.15625 tokens/s = 1e9 / 16,384: the
1,000 Mbit/s of cluster24.ini divided by the activation bytes (hidden 8,192 x 2), i.e. read as
1e9 *bytes*/s; source and sink links get 5e8 tokens/s. ``helix_instance`` keeps these
(``link_capacity="lp"``, the default, so that the instance is Helix's model);
``link_capacity="bits"`` reads 1,000 Mbit/s as bits (7,629.4 tokens/s) and the source and sink
links as the 10 Gbit/s NICs of machine_profiles.ini. No link binds at the optimum in either
reading: every node carries at most 23,834 tokens/s and the optimum is about 2,046.

Latency: Helix's table states no latency; each node's latency(k) is the batch-1 roofline of its
GPU type (``instances.llm.roofline``), from the spec-sheet figures of ``instances.llm.hardware``.

The artifact is Apache-2.0 (``LICENSE`` beside it; fork xogusrns123/Helix-ASPLOS25, commit
6251c69): every instance built here carries that attribution in its ``provenance``.

Also here: :func:`read_lp`, a reader of the LP file format the artifact uses (objective,
``Subject To``, ``Bounds``, ``Binaries``, ``Generals``), so that Helix's model can be solved by
the suite's own solver adapters and compared with the reconstruction F5-helix
(``formulations/f5/helix.py``) entry by entry.
"""

from __future__ import annotations

import configparser
import hashlib
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from instances.llm.hardware import ACCELERATORS
from instances.llm.io import llm_instance_from_dict
from instances.llm.model import LLMInstance
from instances.llm.profiles import llm_model
from instances.llm.roofline import Roofline, light_load_latency

HELIX_FILES = ("cluster24.ini", "machine_profiles.ini", "llama70b_config.json", "llama70b_cluster24_ilp_model.lp",
               "LICENSE")
HELIX_LP = "llama70b_cluster24_ilp_model.lp"
ATTRIBUTION = ("Helix (Mei et al., ASPLOS'25) artifact, fork xogusrns123/Helix-ASPLOS25 commit 6251c69, "
               "artifact_evaluation/single_cluster/ (cluster24.ini, machine_profiles.ini, llama70b_config.json, "
               "llama70b_cluster24_ilp_model.lp); Apache License 2.0. The throughput tables and link capacities "
               "are derived from llama70b_cluster24_ilp_model.lp.")
GBPS = 1e9  # Helix's "gbps"/"mbps" units in bit/s
UNITS = {"gbps": 1e9, "mbps": 1e6, "kbps": 1e3, "gb": 1e9, "mb": 1e6, "millisec": 1e-3, "sec": 1.0}


class HelixError(ValueError):
    """The Helix artifact is missing or not what this reader expects."""


def default_helix_dir() -> Path:
    """``$DNNSPLIT_HELIX_DIR``, else ``../shared/helix`` beside the repository."""
    env = os.environ.get("DNNSPLIT_HELIX_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2].parent / "shared" / "helix"


def helix_available(helix_dir: str | Path | None = None) -> bool:
    d = Path(helix_dir) if helix_dir is not None else default_helix_dir()
    return all((d / f).is_file() for f in HELIX_FILES)


def file_hashes(helix_dir: Path) -> dict[str, str]:
    return {f: hashlib.sha256((helix_dir / f).read_bytes()).hexdigest() for f in HELIX_FILES if f != "LICENSE"}


# ----------------------------------------------------------------------------- LP files


@dataclass
class LPRow:
    name: str
    coefs: dict[str, float]
    lower: float
    upper: float


@dataclass
class LPModel:
    """A linear (mixed-integer) program as written in an LP file; columns in order of appearance."""

    sense: int  # +1 minimise, -1 maximise
    objective: dict[str, float]
    rows: list[LPRow]
    bounds: dict[str, tuple[float, float]]
    integers: set[str]
    binaries: set[str]
    columns: list[str] = field(default_factory=list)

    def bounds_of(self, name: str) -> tuple[float, float]:
        if name in self.bounds:
            return self.bounds[name]
        return (0.0, 1.0) if name in self.binaries else (0.0, math.inf)


_SECTIONS = {
    "maximize": "max", "maximise": "max", "maximum": "max", "max": "max",
    "minimize": "min", "minimise": "min", "minimum": "min", "min": "min",
    "subject to": "st", "such that": "st", "st": "st", "s.t.": "st",
    "bounds": "bounds", "bound": "bounds", "binaries": "bin", "binary": "bin", "bin": "bin",
    "generals": "gen", "general": "gen", "gen": "gen", "end": "end",
}
_TOKEN = re.compile(r"\s*(?:(<=|>=|=<|=>|=|<|>)|(\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)"
                    r"|([A-Za-z_][\w.\[\]#$%&~@^']*)\s*(:)?|([+-]))")


def _tokens(text: str, where: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise HelixError(f"{where}: cannot read {text[pos:pos + 30]!r}")
        op, num, name, colon, sign = m.groups()
        out.append(("op", op) if op else ("num", num) if num else ("label", name) if colon else
                   ("name", name) if name else ("sign", sign))
        pos = m.end()
    return out


def _linear(tokens: list[tuple[str, str]], where: str) -> dict[str, float]:
    coefs: dict[str, float] = {}
    sign, coef = 1.0, None
    for kind, value in tokens:
        if kind == "sign":
            sign = -sign if value == "-" else sign
        elif kind == "num":
            coef = float(value)
        elif kind == "name":
            coefs[value] = coefs.get(value, 0.0) + sign * (1.0 if coef is None else coef)
            sign, coef = 1.0, None
        else:
            raise HelixError(f"{where}: unexpected {value!r}")
    return coefs


def read_lp(path: str | Path) -> LPModel:
    """Parse an LP file (the subset the Helix artifact and most solvers write)."""
    text = Path(path).read_text()
    sections: dict[str, list[str]] = {}
    current = None
    for raw in text.splitlines():
        line = raw.split("\\", 1)[0]
        head = line.strip().lower()
        if line and not line[0].isspace() and head in _SECTIONS:
            current = _SECTIONS[head]
            sections.setdefault(current, [])
            continue
        if current is None and head:
            raise HelixError(f"{path}: text before the objective section: {raw[:40]!r}")
        if current is not None and head:
            sections[current].append(line)
    sense = -1 if "max" in sections else 1
    columns: dict[str, None] = {}
    obj_tokens = _tokens(" ".join(sections.get("max", sections.get("min", []))), f"{path}: objective")
    if obj_tokens and obj_tokens[0][0] == "label":
        obj_tokens = obj_tokens[1:]
    objective = _linear(obj_tokens, f"{path}: objective")
    columns.update(dict.fromkeys(objective))
    rows: list[LPRow] = []
    tokens = _tokens(" ".join(sections.get("st", [])), f"{path}: Subject To")
    i = 0
    while i < len(tokens):
        name = f"R{len(rows)}"
        if tokens[i][0] == "label":
            name = tokens[i][1]
            i += 1
        j = i
        while j < len(tokens) and tokens[j][0] != "op":
            j += 1
        if j + 1 >= len(tokens):
            raise HelixError(f"{path}: constraint {name} has no right-hand side")
        coefs = _linear(tokens[i:j], f"{path}: constraint {name}")
        op = tokens[j][1]
        k, rhs_sign = j + 1, 1.0
        if tokens[k][0] == "sign":
            rhs_sign = -1.0 if tokens[k][1] == "-" else 1.0
            k += 1
        if tokens[k][0] != "num":
            raise HelixError(f"{path}: constraint {name}: right-hand side {tokens[k][1]!r} is not a number")
        rhs = rhs_sign * float(tokens[k][1])
        lower, upper = (-math.inf, rhs) if op in ("<=", "=<", "<") else (rhs, math.inf) if op in (">=", "=>", ">") \
            else (rhs, rhs)
        rows.append(LPRow(name, coefs, lower, upper))
        columns.update(dict.fromkeys(coefs))
        i = k + 1
    bounds: dict[str, tuple[float, float]] = {}
    for line in sections.get("bounds", []):
        parts = line.split()
        low = [p.lower() for p in parts]
        if len(parts) == 2 and low[1] == "free":
            bounds[parts[0]] = (-math.inf, math.inf)
        elif len(parts) == 3 and parts[1] in ("<=", ">=", "="):
            value = float(parts[2].replace("infinity", "inf"))
            lo, hi = bounds.get(parts[0], (0.0, math.inf))
            bounds[parts[0]] = (lo, value) if parts[1] == "<=" else (value, hi) if parts[1] == ">=" else (value, value)
        elif len(parts) == 5 and parts[1] == "<=" and parts[3] == "<=":
            bounds[parts[2]] = (float(low[0].replace("infinity", "inf")), float(low[4].replace("infinity", "inf")))
        else:
            raise HelixError(f"{path}: bound {line.strip()!r} not understood")
        columns.update(dict.fromkeys(p for p in parts if re.match(r"[A-Za-z_]", p) and p.lower() not in
                                     ("free", "inf", "infinity", "-inf")))
    binaries = {n for line in sections.get("bin", []) for n in line.split()}
    integers = {n for line in sections.get("gen", []) for n in line.split()} | binaries
    for n in [*sorted(binaries), *sorted(integers)]:
        columns.setdefault(n, None)
    return LPModel(sense, objective, rows, bounds, integers, binaries, list(columns))


# ----------------------------------------------------------------------------- the published case


def _quantity(text: str, where: str) -> float:
    """'1000 * mbps' -> 1e9 (Helix's units)."""
    m = re.fullmatch(r"\s*([0-9.eE+-]+)\s*\*\s*([A-Za-z]+)\s*", text)
    if not m or m.group(2).lower() not in UNITS:
        raise HelixError(f"{where}: cannot read the quantity {text!r}")
    return float(m.group(1)) * UNITS[m.group(2).lower()]


def _ini(path: Path) -> configparser.ConfigParser:
    cp = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=None)
    cp.optionxform = str  # type: ignore[assignment]
    cp.read_string(path.read_text())
    return cp


def _lp_tables(lp: LPModel, nodes: int) -> tuple[dict[int, list[float]], dict[tuple[str, str], float]]:
    """theta_i(k) from the node capacity rows; tokens/s per link from the edge rows."""
    theta: dict[int, list[float]] = {}
    caps: dict[tuple[str, str], float] = {}
    for row in lp.rows:
        m = re.fullmatch(r"node_throughput_constraint_(\d+)", row.name)
        if m:
            i = int(m.group(1))
            holds = {int(v.rsplit("_", 1)[1]): -c for v, c in row.coefs.items() if v.startswith(f"hold_{i}_")}
            if sorted(holds) != list(range(1, len(holds) + 1)):
                raise HelixError(f"{row.name}: hold variables are not k = 1..K")
            theta[i] = [holds[k] for k in range(1, len(holds) + 1)]
            continue
        m = re.fullmatch(r"edge_flow_constr_(\w+?)_(\w+)", row.name)
        if m:
            switch = [c for v, c in row.coefs.items() if v.startswith("switch_")]
            if len(switch) != 1:
                raise HelixError(f"{row.name}: expected one switch variable")
            caps[(m.group(1), m.group(2))] = -switch[0]
    if sorted(theta) != list(range(nodes)):
        raise HelixError(f"the LP file has capacity rows for nodes {sorted(theta)[:5]}..., expected 0..{nodes - 1}")
    return theta, caps


def helix_instance(helix_dir: str | Path | None = None, *, link_capacity: str = "lp", context_tokens: int = 1024,
                   name: str | None = None) -> LLMInstance:
    """The published 24-node LLaMA-70B case as an LLM instance (see the module docstring)."""
    d = Path(helix_dir) if helix_dir is not None else default_helix_dir()
    if not helix_available(d):
        missing = [f for f in HELIX_FILES if not (d / f).is_file()]
        raise HelixError(f"the Helix artifact is not in {d} (missing {', '.join(missing)}); set DNNSPLIT_HELIX_DIR")
    if link_capacity not in ("lp", "bits"):
        raise HelixError(f"link_capacity must be 'lp' or 'bits', got {link_capacity!r}")
    cluster = _ini(d / "cluster24.ini")
    machines = _ini(d / "machine_profiles.ini")
    config = json.loads((d / "llama70b_config.json").read_text())
    model = llm_model("llama2_70b", context_tokens)
    for key, want in (("num_hidden_layers", model.num_layers), ("hidden_size", model.activation_bytes / 2)):
        if config.get(key) != want:
            raise HelixError(f"llama70b_config.json: {key} = {config.get(key)!r}, the Llama-2-70B profile has {want:g}")
    total = int(cluster["NodeNames"]["total_compute_nodes"])
    types = [cluster[f"ComputeNode-{i}"]["type"] for i in range(total)]
    theta, caps = _lp_tables(read_lp(d / HELIX_LP), total)
    roof = Roofline()
    nodes = []
    for i, t in enumerate(types):
        if t not in ACCELERATORS:
            raise HelixError(f"cluster24.ini: node {i} has type {t!r}, not in instances.llm.hardware")
        acc = ACCELERATORS[t]
        vram = _quantity(machines[t]["vram_size"], f"machine_profiles.ini [{t}] vram_size")
        if abs(vram - acc.memory) > 0.1 * acc.memory:
            raise HelixError(f"{t}: machine_profiles.ini says {vram:g} bytes, the spec sheet {acc.memory:g}")
        nodes.append({
            "name": f"n{i}-{t}", "device": t, "region": "helix-single-cluster", "memory": acc.memory,
            "memory_bandwidth": acc.memory_bandwidth, "peak_flops": acc.peak_fp16, "throughput": theta[i],
            "latency": light_load_latency(acc, model, roof, len(theta[i])), "batch": None,
            "throughput_source": f"measured: Helix {HELIX_LP}, node_throughput_constraint_{i}",
        })
    beta = model.activation_bytes
    links = []

    def link(a: str, b: str, ends: tuple[str, str], section: str) -> None:
        sec = cluster[section]
        delay = _quantity(sec["latency"], f"cluster24.ini [{section}] latency")
        if link_capacity == "lp":
            if ends not in caps:
                raise HelixError(f"the LP file has no edge_flow_constr_{ends[0]}_{ends[1]}")
            bandwidth = caps[ends] * beta
        elif "source" in ends or "sink" in ends:
            nic = "outbound_nic_speed" if "source" in ends else "inbound_nic_speed"
            bandwidth = _quantity(machines["SourceNode" if "source" in ends else "SinkNode"][nic], nic) / 8.0
        else:
            bandwidth = _quantity(sec["bandwidth"], f"cluster24.ini [{section}] bandwidth") / 8.0
        links.append({"source": a, "target": b, "bandwidth": bandwidth, "delay": delay})

    names = [n["name"] for n in nodes]
    for i in range(total):
        link("source", names[i], ("source", str(i)), f"Link-source-{i}")
    for i in range(total):
        for j in range(total):
            if i != j:
                link(names[i], names[j], (str(i), str(j)), f"Link-{min(i, j)}-{max(i, j)}")
    for i in range(total):
        link(names[i], "sink", (str(i), "sink"), f"Link-{i}-sink")
    generator = {"tool": "instances.llm.helix", "family": "llm-cluster", "layout": "helix24", "model": "llama2_70b",
                 "link_capacity": link_capacity, "context_tokens": context_tokens, "roofline": roof.to_dict(),
                 "files": file_hashes(d)}
    data = {
        "format": "dnnsplit-llm-instance", "version": 1,
        "name": name or ("helix24-llama2_70b" + ("" if link_capacity == "lp" else "-bits")),
        "generator": generator, "provenance": ATTRIBUTION, "memory_usable": roof.memory_usable,
        "model": {"name": model.name, "layers": model.num_layers, "layer_param_bytes": model.layer_param_bytes,
                  "activation_bytes": model.activation_bytes, "kv_cache_bytes": model.kv_cache_bytes,
                  "decode_flops": model.decode_flops, "context_tokens": model.context_tokens, "source": model.source},
        "source": "source", "sink": "sink", "nodes": nodes, "links": links,
    }
    return llm_instance_from_dict(data, source=str(d))


def is_helix_case(instance: Any) -> bool:
    """Whether ``instance`` was built from Helix's LP file with its link capacities (helix-lp applies)."""
    gen = getattr(instance, "generator", None) or {}
    return gen.get("layout") == "helix24" and gen.get("link_capacity") == "lp" and HELIX_LP in (gen.get("files") or {})
