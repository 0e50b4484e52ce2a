"""The instance file format (JSON, versioned) with strict validation.

``load``/``loads`` dispatch on the format name: ``dnnsplit-llm-instance`` (LLM pipeline
placement, F5) is read and validated by ``instances/llm/io.py``, and ``dumps``/``save`` write
it back in that format.

Format ``dnnsplit-instance``, version 1. Top level (all keys required unless marked optional,
no other keys allowed)::

    {
      "format": "dnnsplit-instance", "version": 1,
      "name": str,
      "utilisation_cap": float in (0, 1],            # kappa
      "generator": object | null,                    # parameters and seed that made it
      "nodes": [{"name": str, "tier": one of TIERS, "device_class": str | null,
                 "speed": FLOP/s >= 0 (0: router), "power": W >= 0, "memory": bytes >= 0}],
      "links": [{"source": node name, "target": node name, "bandwidth": bytes/s > 0,
                 "delay": s >= 0, "energy_per_byte": J/byte >= 0}],
      "models": [{"name": str, "input_bytes": > 0, "accuracy": (0, 1] | null,
                  "provenance": str | null,
                  "layers": [{"name": str, "flops": >= 0, "output_bytes": > 0,
                              "param_bytes": >= 0, "time_s": {device_class: s >= 0}}],
                  "exits": [{"after_layer": 1..L-1, "probability": [0, 1],
                             "head_flops": >= 0, "accuracy": [0, 1], "result_bytes": > 0}]}],
      "jobs": [{"name": str, "model": model name, "source": node name, "sink": node name,
                "rate": 1/s > 0, "deadline": s > 0 | null, "accuracy_target": (0, 1] | null}]
    }

Every number must be finite and within the documented magnitudes of ``MAGNITUDES`` (for
example a bandwidth between 1e-3 and 1e15 bytes/s, a delay at most 1e4 s, a rate between 1e-9
and 1e9 requests/s): beyond them the arc costs and loads derived from the data leave what LP
and MILP solvers represent (HiGHS and SCIP treat 1e20 as infinite and lose precision far
earlier), so such a file is refused with the field, its value and the limit. Loading refuses, with :class:`InstanceError` naming the field path
(``models[2].layers[5].flops``) and the reason: missing or extra fields, wrong types, bad values,
links to unknown nodes, duplicate names, a model with no layers, exit probabilities summing
above 1, a job whose source cannot reach its sink, or whose source reaches no compute node, and
unsupported format versions. Saving writes the same canonical text for the same instance
(sorted keys, ``repr`` floats), so save -> load -> save is byte-identical.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import deque
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping

import numpy as np

from instances.model import TIERS, DNNModel, Exit, Instance, Job, Network, frozen_array

FORMAT_NAME = "dnnsplit-instance"
FORMAT_VERSION = 1


class InstanceError(ValueError):
    """An invalid instance: ``path`` is the offending field, ``reason`` what is wrong."""

    def __init__(self, path: str, reason: str, source: str | None = None):
        self.path, self.reason, self.source = path, reason, source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{path}: {reason}" if path else f"{where}{reason}")


# ----------------------------------------------------------------------------- magnitudes

# field -> (smallest positive value, largest value). Chosen so that every arc cost and load the
# formulations derive stays well inside what LP solvers represent: a transfer time is at most
# 1e15 bytes / 1e-3 bytes/s = 1e18 s (< 1e20, HiGHS's and SCIP's infinity), a compute time at
# most 1e21 FLOP / 1e-3 FLOP/s; extreme but finite data beyond these would make solvers fail
# with an unexplained status instead of an answer.
MAGNITUDES: dict[str, tuple[float, float]] = {
    "bandwidth": (1e-3, 1e15),  # bytes/s
    "delay": (0.0, 1e4),  # s
    "energy_per_byte": (0.0, 1e3),  # J/byte
    "speed": (1e-3, 1e21),  # FLOP/s (0: a router)
    "power": (0.0, 1e9),  # W
    "memory": (0.0, 1e18),  # bytes
    "flops": (0.0, 1e21),  # FLOP
    "head_flops": (0.0, 1e21),  # FLOP
    "bytes": (1e-6, 1e15),  # input, output, result bytes
    "param_bytes": (0.0, 1e15),  # bytes
    "time_s": (0.0, 1e6),  # s, measured per layer
    "rate": (1e-9, 1e9),  # requests/s
    "deadline": (1e-9, 1e9),  # s
}


def _within(x: float | None, path: str, field: str) -> float | None:
    """``x`` checked against ``MAGNITUDES[field]`` (0 is allowed where the field may be 0)."""
    if x is None:
        return None
    lo, hi = MAGNITUDES[field]
    if x > hi or (0 < x < lo):
        raise InstanceError(path, f"{x!r} is outside the representable range of {field} ({lo:g} .. {hi:g}): "
                                  "costs derived from it would leave what LP/MILP solvers represent")
    return x


# ----------------------------------------------------------------------------- field readers


def _obj(value: Any, path: str, required: set[str], optional: set[str] = frozenset()) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise InstanceError(path, f"expected an object, got {type(value).__name__}")
    missing = sorted(required - value.keys())
    if missing:
        raise InstanceError(f"{path}.{missing[0]}" if path else missing[0], "missing field")
    extra = sorted(value.keys() - required - optional)
    if extra:
        raise InstanceError(f"{path}.{extra[0]}" if path else extra[0], "unknown field")
    return value


def _list(value: Any, path: str, nonempty: bool = False) -> list[Any]:
    if not isinstance(value, list):
        raise InstanceError(path, f"expected a list, got {type(value).__name__}")
    if nonempty and not value:
        raise InstanceError(path, "must not be empty")
    return value


def _str(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value:
        raise InstanceError(path, f"expected a non-empty string, got {value!r}")
    return value


def _num(
    value: Any,
    path: str,
    *,
    lo: float | None = None,
    lo_open: bool = False,
    hi: float | None = None,
    nullable: bool = False,
) -> float | None:
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InstanceError(path, f"expected a number, got {type(value).__name__} {value!r}")
    try:
        x = float(value)
    except OverflowError:  # an integer too large for a float
        raise InstanceError(path, f"must be finite, got an integer of {len(str(value))} digits") from None
    if not math.isfinite(x):
        raise InstanceError(path, f"must be finite, got {value!r}")
    if lo is not None and (x < lo or (lo_open and x == lo)):
        raise InstanceError(path, f"must be {'>' if lo_open else '>='} {lo:g}, got {value!r}")
    if hi is not None and x > hi:
        raise InstanceError(path, f"must be <= {hi:g}, got {value!r}")
    return x


def _int(value: Any, path: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InstanceError(path, f"expected an integer, got {value!r}")
    if not lo <= value <= hi:
        raise InstanceError(path, f"must be in {lo}..{hi}, got {value}")
    return value


def _unique_names(items: list[Any], path: str) -> dict[str, int]:
    index: dict[str, int] = {}
    for i, item in enumerate(items):
        name = _str(item.get("name") if isinstance(item, dict) else None, f"{path}[{i}].name")
        if name in index:
            raise InstanceError(f"{path}[{i}].name", f"duplicate name {name!r}")
        index[name] = i
    return index


# ----------------------------------------------------------------------------- parse


def _parse_network(data: Mapping[str, Any]) -> Network:
    nodes = _list(data["nodes"], "nodes", nonempty=True)
    for i, n in enumerate(nodes):
        _obj(n, f"nodes[{i}]", {"name", "tier", "device_class", "speed", "power", "memory"})
    index = _unique_names(nodes, "nodes")
    tiers, classes = [], []
    for i, n in enumerate(nodes):
        if n["tier"] not in TIERS:
            raise InstanceError(f"nodes[{i}].tier", f"must be one of {', '.join(TIERS)}, got {n['tier']!r}")
        tiers.append(n["tier"])
        classes.append(None if n["device_class"] is None else _str(n["device_class"], f"nodes[{i}].device_class"))
    speed = [_within(_num(n["speed"], f"nodes[{i}].speed", lo=0), f"nodes[{i}].speed", "speed") for i, n in enumerate(nodes)]
    power = [_within(_num(n["power"], f"nodes[{i}].power", lo=0), f"nodes[{i}].power", "power") for i, n in enumerate(nodes)]
    memory = [_within(_num(n["memory"], f"nodes[{i}].memory", lo=0), f"nodes[{i}].memory", "memory")
              for i, n in enumerate(nodes)]
    links = _list(data["links"], "links")
    src, dst, bw, dl, en = [], [], [], [], []
    for k, a in enumerate(links):
        p = f"links[{k}]"
        _obj(a, p, {"source", "target", "bandwidth", "delay", "energy_per_byte"})
        for end, out in (("source", src), ("target", dst)):
            name = _str(a[end], f"{p}.{end}")
            if name not in index:
                raise InstanceError(f"{p}.{end}", f"unknown node {name!r}")
            out.append(index[name])
        if src[-1] == dst[-1]:
            raise InstanceError(p, "a link must join two different nodes")
        bw.append(_within(_num(a["bandwidth"], f"{p}.bandwidth", lo=0, lo_open=True), f"{p}.bandwidth", "bandwidth"))
        dl.append(_within(_num(a["delay"], f"{p}.delay", lo=0), f"{p}.delay", "delay"))
        en.append(_within(_num(a["energy_per_byte"], f"{p}.energy_per_byte", lo=0), f"{p}.energy_per_byte",
                          "energy_per_byte"))
    return Network(
        node_names=tuple(n["name"] for n in nodes),
        tier=tuple(tiers),
        device_class=tuple(classes),
        speed=frozen_array(speed),
        power=frozen_array(power),
        memory=frozen_array(memory),
        link_source=frozen_array(src, np.int64),
        link_target=frozen_array(dst, np.int64),
        bandwidth=frozen_array(bw),
        delay=frozen_array(dl),
        energy_per_byte=frozen_array(en),
    )


def _parse_model(m: Any, p: str) -> DNNModel:
    _obj(m, p, {"name", "input_bytes", "accuracy", "layers", "exits"}, {"provenance"})
    layers = _list(m["layers"], f"{p}.layers", nonempty=True)
    names, flops, out, params = [], [], [], []
    times: dict[str, list[float]] = {}
    for l, layer in enumerate(layers):
        q = f"{p}.layers[{l}]"
        _obj(layer, q, {"name", "flops", "output_bytes", "param_bytes"}, {"time_s"})
        names.append(_str(layer["name"], f"{q}.name"))
        flops.append(_within(_num(layer["flops"], f"{q}.flops", lo=0), f"{q}.flops", "flops"))
        out.append(_within(_num(layer["output_bytes"], f"{q}.output_bytes", lo=0, lo_open=True), f"{q}.output_bytes",
                           "bytes"))
        params.append(_within(_num(layer["param_bytes"], f"{q}.param_bytes", lo=0), f"{q}.param_bytes",
                              "param_bytes"))
        t = layer.get("time_s", {})
        if not isinstance(t, dict):
            raise InstanceError(f"{q}.time_s", "expected an object mapping device class to seconds")
        if l > 0 and set(t) != set(times):
            raise InstanceError(f"{q}.time_s", f"device classes {sorted(t)} differ from layer 0's {sorted(times)}")
        for cls, v in t.items():
            times.setdefault(cls, []).append(_within(_num(v, f"{q}.time_s.{cls}", lo=0), f"{q}.time_s.{cls}", "time_s"))
    L = len(layers)
    exits = []
    total_q = 0.0
    last = 0
    for x, e in enumerate(_list(m["exits"], f"{p}.exits")):
        q = f"{p}.exits[{x}]"
        _obj(e, q, {"after_layer", "probability", "head_flops", "accuracy", "result_bytes"})
        after = _int(e["after_layer"], f"{q}.after_layer", 1, L - 1)
        if after <= last:
            raise InstanceError(f"{q}.after_layer", "exits must be in increasing layer order, one per layer")
        last = after
        prob = _num(e["probability"], f"{q}.probability", lo=0, hi=1)
        total_q += prob
        if total_q > 1 + 1e-12:
            raise InstanceError(f"{p}.exits", f"exit probabilities sum to {total_q:g} > 1")
        exits.append(
            Exit(
                after,
                prob,
                _within(_num(e["head_flops"], f"{q}.head_flops", lo=0), f"{q}.head_flops", "head_flops"),
                _num(e["accuracy"], f"{q}.accuracy", lo=0, hi=1),
                _within(_num(e["result_bytes"], f"{q}.result_bytes", lo=0, lo_open=True), f"{q}.result_bytes", "bytes"),
            )
        )
    provenance = m.get("provenance")
    if provenance is not None:
        _str(provenance, f"{p}.provenance")
    return DNNModel(
        name=m["name"],
        input_bytes=_within(_num(m["input_bytes"], f"{p}.input_bytes", lo=0, lo_open=True), f"{p}.input_bytes", "bytes"),
        layer_names=tuple(names),
        flops=frozen_array(flops),
        output_bytes=frozen_array(out),
        param_bytes=frozen_array(params),
        measured_time=MappingProxyType({c: frozen_array(v) for c, v in times.items()}),
        exits=tuple(exits),
        accuracy=_num(m["accuracy"], f"{p}.accuracy", lo=0, lo_open=True, hi=1, nullable=True),
        provenance=provenance,
    )


def _reachable(net: Network, start: int) -> np.ndarray:
    adj: list[list[int]] = [[] for _ in range(net.num_nodes)]
    for i, j in zip(net.link_source.tolist(), net.link_target.tolist()):
        adj[i].append(j)
    seen = np.zeros(net.num_nodes, dtype=bool)
    seen[start] = True
    queue = deque([start])
    while queue:
        i = queue.popleft()
        for j in adj[i]:
            if not seen[j]:
                seen[j] = True
                queue.append(j)
    return seen


def instance_from_dict(data: Any, source: str | None = None) -> Instance:
    """Validate a parsed JSON document and build the instance; raises InstanceError."""
    try:
        return _instance_from_dict(data)
    except InstanceError as err:
        if source and not err.source:
            raise InstanceError(err.path, err.reason, source) from None
        raise


def _instance_from_dict(data: Any) -> Instance:
    if isinstance(data, dict) and data.get("format") != FORMAT_NAME:
        raise InstanceError("format", f"expected {FORMAT_NAME!r}, got {data.get('format')!r}")
    if isinstance(data, dict) and data.get("version") != FORMAT_VERSION:
        raise InstanceError("version", f"unsupported format version {data.get('version')!r} (this reader: {FORMAT_VERSION})")
    _obj(data, "", {"format", "version", "name", "utilisation_cap", "generator", "nodes", "links", "models", "jobs"})
    name = _str(data["name"], "name")
    kappa = _num(data["utilisation_cap"], "utilisation_cap", lo=0, lo_open=True, hi=1)
    if data["generator"] is not None and not isinstance(data["generator"], dict):
        raise InstanceError("generator", "expected an object or null")
    net = _parse_network(data)
    models_raw = _list(data["models"], "models", nonempty=True)
    model_index = _unique_names(models_raw, "models")
    models = tuple(_parse_model(m, f"models[{i}]") for i, m in enumerate(models_raw))
    jobs_raw = _list(data["jobs"], "jobs", nonempty=True)
    _unique_names(jobs_raw, "jobs")
    node_index = {n: i for i, n in enumerate(net.node_names)}
    compute = net.speed > 0
    reach_cache: dict[int, np.ndarray] = {}
    jobs = []
    for k, jd in enumerate(jobs_raw):
        p = f"jobs[{k}]"
        _obj(jd, p, {"name", "model", "source", "sink", "rate", "deadline", "accuracy_target"})
        mname = _str(jd["model"], f"{p}.model")
        if mname not in model_index:
            raise InstanceError(f"{p}.model", f"unknown model {mname!r}")
        ends = []
        for end in ("source", "sink"):
            nname = _str(jd[end], f"{p}.{end}")
            if nname not in node_index:
                raise InstanceError(f"{p}.{end}", f"unknown node {nname!r}")
            ends.append(node_index[nname])
        s, t = ends
        if s not in reach_cache:
            reach_cache[s] = _reachable(net, s)
        if not reach_cache[s][t]:
            raise InstanceError(f"{p}.sink", f"sink {jd['sink']!r} cannot be reached from source {jd['source']!r}")
        if not np.any(reach_cache[s] & compute):
            raise InstanceError(f"{p}.source", f"no compute node is reachable from source {jd['source']!r}")
        if jd["accuracy_target"] is not None and models[model_index[mname]].accuracy is None:
            raise InstanceError(f"{p}.accuracy_target", f"model {mname!r} has no accuracy figures (its 'accuracy' is "
                                                        "null), so an accuracy target cannot be checked")
        jobs.append(
            Job(
                name=jd["name"],
                model=model_index[mname],
                source=s,
                sink=t,
                rate=_within(_num(jd["rate"], f"{p}.rate", lo=0, lo_open=True), f"{p}.rate", "rate"),
                deadline=_within(_num(jd["deadline"], f"{p}.deadline", lo=0, lo_open=True, nullable=True),
                                 f"{p}.deadline", "deadline"),
                accuracy_target=_num(jd["accuracy_target"], f"{p}.accuracy_target", lo=0, lo_open=True, hi=1, nullable=True),
            )
        )
    try:
        generator = None if data["generator"] is None else MappingProxyType(
            json.loads(json.dumps(data["generator"], allow_nan=False))
        )
    except (TypeError, ValueError):  # NaN/Infinity (or non-JSON values) would not serialise
        raise InstanceError("generator", "must hold only JSON values with finite numbers") from None
    return Instance(name, net, models, tuple(jobs), kappa, generator)


# ----------------------------------------------------------------------------- serialise


def _f(x: Any) -> float:
    return float(x)


def _nullable(x: Any, conv: Callable[[Any], Any] = _f) -> Any:
    return None if x is None else conv(x)


def instance_to_dict(inst: Instance) -> dict[str, Any]:
    net = inst.network
    names = net.node_names
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "name": inst.name,
        "utilisation_cap": _f(inst.utilisation_cap),
        "generator": None if inst.generator is None else json.loads(json.dumps(dict(inst.generator))),
        "nodes": [
            {
                "name": names[i],
                "tier": net.tier[i],
                "device_class": net.device_class[i],
                "speed": _f(net.speed[i]),
                "power": _f(net.power[i]),
                "memory": _f(net.memory[i]),
            }
            for i in range(net.num_nodes)
        ],
        "links": [
            {
                "source": names[net.link_source[a]],
                "target": names[net.link_target[a]],
                "bandwidth": _f(net.bandwidth[a]),
                "delay": _f(net.delay[a]),
                "energy_per_byte": _f(net.energy_per_byte[a]),
            }
            for a in range(net.num_links)
        ],
        "models": [_model_to_dict(m) for m in inst.models],
        "jobs": [
            {
                "name": j.name,
                "model": inst.models[j.model].name,
                "source": names[j.source],
                "sink": names[j.sink],
                "rate": _f(j.rate),
                "deadline": _nullable(j.deadline),
                "accuracy_target": _nullable(j.accuracy_target),
            }
            for j in inst.jobs
        ],
    }


def _model_to_dict(m: DNNModel) -> dict[str, Any]:
    layers = []
    for l in range(m.num_layers):
        layer: dict[str, Any] = {
            "name": m.layer_names[l],
            "flops": _f(m.flops[l]),
            "output_bytes": _f(m.output_bytes[l]),
            "param_bytes": _f(m.param_bytes[l]),
        }
        if m.measured_time:
            layer["time_s"] = {c: _f(v[l]) for c, v in m.measured_time.items()}
        layers.append(layer)
    d: dict[str, Any] = {
        "name": m.name,
        "input_bytes": _f(m.input_bytes),
        "accuracy": _nullable(m.accuracy),
        "layers": layers,
        "exits": [
            {
                "after_layer": e.after_layer,
                "probability": _f(e.probability),
                "head_flops": _f(e.head_flops),
                "accuracy": _f(e.accuracy),
                "result_bytes": _f(e.result_bytes),
            }
            for e in m.exits
        ],
    }
    if m.provenance is not None:
        d["provenance"] = m.provenance
    return d


def dumps(inst: Instance) -> str:
    """Canonical text of the instance (what ``save`` writes); an LLM instance in its own format."""
    if getattr(inst, "problem", None) == "llm":
        from instances.llm.io import llm_dumps

        return llm_dumps(inst)
    return json.dumps(instance_to_dict(inst), sort_keys=True, indent=1, allow_nan=False) + "\n"


def instance_hash(inst: Instance) -> str:
    """sha256 of the canonical text, first 16 hex digits: stable across runs and machines."""
    return hashlib.sha256(dumps(inst).encode()).hexdigest()[:16]


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` atomically (a temporary file beside it, then a rename): an existing file is
    never half-written, and nothing is left behind when the write fails. A folder at ``path``
    is refused with its name."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a folder, expected a file name")
    if path.parent.exists() and not path.parent.is_dir():
        raise NotADirectoryError(f"{path.parent}: is a file, expected a folder for {path.name}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def save(inst: Instance, path: str | Path) -> Path:
    """Write atomically (temporary file then rename) so an existing file is never half-written."""
    return atomic_write_text(path, dumps(inst))


def loads(text: str, source: str | None = None) -> Instance:
    try:
        data = json.loads(text)  # NaN/Infinity parse to floats and are refused with their path
    except json.JSONDecodeError as err:
        raise InstanceError("", f"not valid JSON: {err.msg} at line {err.lineno} column {err.colno}", source) from None
    except ValueError as err:  # e.g. an integer literal beyond Python's digit limit
        raise InstanceError("", f"not valid JSON: {err}", source) from None
    from instances.llm.io import is_llm_document, llm_instance_from_dict

    if is_llm_document(data):  # dispatch on the format name: "dnnsplit-llm-instance"
        return llm_instance_from_dict(data, source)
    return instance_from_dict(data, source)


def load(path: str | Path) -> Instance:
    """Read and validate an instance file; raises InstanceError naming file, field and reason."""
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise InstanceError("", f"cannot read file: {err}", str(path)) from None
    return loads(text, str(path))
