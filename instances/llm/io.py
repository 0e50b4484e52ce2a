"""The LLM instance file format (JSON, versioned) with strict validation.

Format ``dnnsplit-llm-instance``, version 1 (``instances.io.load`` dispatches on the format
name, so one loader reads both kinds). Top level, every key required, no other keys::

    {
      "format": "dnnsplit-llm-instance", "version": 1,
      "name": str,
      "generator": object | null,                  # parameters and seed that made it
      "provenance": str | null,                    # data sources and licences (attribution)
      "memory_usable": (0, 1],                     # fraction of memory for layers + KV cache
      "model": {"name": str, "layers": int >= 1, "layer_param_bytes": > 0,
                "activation_bytes": > 0, "kv_cache_bytes": >= 0, "decode_flops": >= 0,
                "context_tokens": int >= 1, "source": str | null},
      "source": str, "sink": str,                  # endpoint names (not nodes)
      "nodes": [{"name": str, "device": str, "region": str, "memory": bytes > 0,
                 "memory_bandwidth": bytes/s > 0, "peak_flops": FLOP/s > 0,
                 "throughput": [tokens/s > 0 holding k = 1..K layers], K <= layers,
                 "latency": [s > 0, one per k], "batch": [int >= 1, one per k] | null,
                 "throughput_source": str}],
      "links": [{"source": endpoint, "target": endpoint, "bandwidth": bytes/s > 0,
                 "delay": s >= 0}]
    }

Refused with :class:`instances.io.InstanceError` naming the field path and the reason: missing
or extra fields, wrong types, non-finite or out-of-range numbers (the magnitudes of
``instances.io.MAGNITUDES``), duplicate names, a source or sink named like a node, links to
unknown endpoints, into the source or out of the sink, self-links, two links for one ordered
pair, tables of different lengths or longer than the model, and a table entry whose range does
not fit memory: k x layer_param_bytes (+ batch x k x context_tokens x kv_cache_bytes where the
batch is stated) above memory_usable x memory. Saving is canonical (sorted keys, ``repr``
floats): save -> load -> save is byte-identical.
"""

from __future__ import annotations

import hashlib
import json
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

from instances.io import InstanceError, _int, _list, _num, _obj, _str, _unique_names, _within
from instances.llm.model import LLMInstance, LLMModel, LLMNode
from instances.model import frozen_array

FORMAT_NAME = "dnnsplit-llm-instance"
FORMAT_VERSION = 1
MEMORY_TOL = 1e-9  # relative slack of the memory check (rounding of the stored figures)

_TOP = {"format", "version", "name", "generator", "provenance", "memory_usable", "model", "source", "sink", "nodes",
        "links"}
_MODEL = {"name", "layers", "layer_param_bytes", "activation_bytes", "kv_cache_bytes", "decode_flops",
          "context_tokens", "source"}
_NODE = {"name", "device", "region", "memory", "memory_bandwidth", "peak_flops", "throughput", "latency", "batch",
         "throughput_source"}
_LINK = {"source", "target", "bandwidth", "delay"}


def range_memory(model: LLMModel, k: int, batch: float | None) -> float:
    """Bytes a node holding k layers uses: parameters, plus the KV cache of ``batch`` requests."""
    kv = 0.0 if batch is None else batch * k * model.context_tokens * model.kv_cache_bytes
    return k * model.layer_param_bytes + kv


def _parse_model(m: Any) -> LLMModel:
    _obj(m, "model", _MODEL)
    source = m["source"]
    if source is not None:
        _str(source, "model.source")
    return LLMModel(
        name=_str(m["name"], "model.name"),
        num_layers=_int(m["layers"], "model.layers", 1, 100_000),
        layer_param_bytes=_within(_num(m["layer_param_bytes"], "model.layer_param_bytes", lo=0, lo_open=True),
                                  "model.layer_param_bytes", "param_bytes"),
        activation_bytes=_within(_num(m["activation_bytes"], "model.activation_bytes", lo=0, lo_open=True),
                                 "model.activation_bytes", "bytes"),
        kv_cache_bytes=_within(_num(m["kv_cache_bytes"], "model.kv_cache_bytes", lo=0), "model.kv_cache_bytes",
                               "param_bytes"),
        decode_flops=_within(_num(m["decode_flops"], "model.decode_flops", lo=0), "model.decode_flops", "flops"),
        context_tokens=_int(m["context_tokens"], "model.context_tokens", 1, 10_000_000),
        source=source,
    )


def _table(values: Any, path: str, what: str, *, integer: bool = False) -> list[float]:
    out = []
    for k, v in enumerate(_list(values, path)):
        q = f"{path}[{k}]"
        if integer:
            out.append(float(_int(v, q, 1, 10**9)))
        else:
            x = _num(v, q, lo=0, lo_open=True)
            if x > (1e9 if what == "throughput" else 1e6):
                raise InstanceError(q, f"{x!r} is outside the representable range of {what}")
            out.append(x)
    return out


def _parse_node(n: Any, p: str, model: LLMModel, usable: float) -> LLMNode:
    _obj(n, p, _NODE)
    memory = _within(_num(n["memory"], f"{p}.memory", lo=0, lo_open=True), f"{p}.memory", "memory")
    bw = _within(_num(n["memory_bandwidth"], f"{p}.memory_bandwidth", lo=0, lo_open=True), f"{p}.memory_bandwidth",
                 "bandwidth")
    peak = _within(_num(n["peak_flops"], f"{p}.peak_flops", lo=0, lo_open=True), f"{p}.peak_flops", "speed")
    theta = _table(n["throughput"], f"{p}.throughput", "throughput")
    latency = _table(n["latency"], f"{p}.latency", "latency")
    if len(theta) > model.num_layers:
        raise InstanceError(f"{p}.throughput", f"{len(theta)} entries (k = 1..{len(theta)}) but the model has "
                                               f"{model.num_layers} layers")
    if len(latency) != len(theta):
        raise InstanceError(f"{p}.latency", f"{len(latency)} entries, throughput has {len(theta)}")
    batch = None
    if n["batch"] is not None:
        batch = _table(n["batch"], f"{p}.batch", "batch", integer=True)
        if len(batch) != len(theta):
            raise InstanceError(f"{p}.batch", f"{len(batch)} entries, throughput has {len(theta)}")
    for k in range(1, len(theta) + 1):
        need = range_memory(model, k, None if batch is None else batch[k - 1])
        if need > usable * memory * (1 + MEMORY_TOL):
            what = "parameters" + ("" if batch is None else f" and the KV cache of {batch[k - 1]:g} requests")
            raise InstanceError(f"{p}.throughput[{k - 1}]",
                                f"holding {k} layers needs {need / 1e9:.4g} GB ({what}), more than "
                                f"memory_usable x memory = {usable * memory / 1e9:.4g} GB")
    return LLMNode(
        name=n["name"], device=_str(n["device"], f"{p}.device"), region=_str(n["region"], f"{p}.region"),
        memory=memory, memory_bandwidth=bw, peak_flops=peak, throughput=frozen_array(theta),
        latency=frozen_array(latency), batch=None if batch is None else frozen_array(batch, np.int64),
        throughput_source=_str(n["throughput_source"], f"{p}.throughput_source"),
    )


def llm_instance_from_dict(data: Any, source: str | None = None) -> LLMInstance:
    """Validate a parsed JSON document of this format and build the instance."""
    try:
        return _from_dict(data)
    except InstanceError as err:
        if source and not err.source:
            raise InstanceError(err.path, err.reason, source) from None
        raise


def _from_dict(data: Any) -> LLMInstance:
    if isinstance(data, dict) and data.get("format") != FORMAT_NAME:
        raise InstanceError("format", f"expected {FORMAT_NAME!r}, got {data.get('format')!r}")
    if isinstance(data, dict) and data.get("version") != FORMAT_VERSION:
        raise InstanceError("version", f"unsupported format version {data.get('version')!r} (this reader: {FORMAT_VERSION})")
    _obj(data, "", _TOP)
    name = _str(data["name"], "name")
    if data["generator"] is not None and not isinstance(data["generator"], dict):
        raise InstanceError("generator", "expected an object or null")
    if data["provenance"] is not None:
        _str(data["provenance"], "provenance")
    usable = _num(data["memory_usable"], "memory_usable", lo=0, lo_open=True, hi=1)
    model = _parse_model(data["model"])
    nodes_raw = _list(data["nodes"], "nodes", nonempty=True)
    index = _unique_names(nodes_raw, "nodes")
    nodes = tuple(_parse_node(n, f"nodes[{i}]", model, usable) for i, n in enumerate(nodes_raw))
    ends = {}
    for key in ("source", "sink"):
        end = _str(data[key], key)
        if end in index:
            raise InstanceError(key, f"{end!r} is also a node's name: the {key} is an endpoint, not a node")
        ends[key] = end
    if ends["source"] == ends["sink"]:
        raise InstanceError("sink", f"the sink must differ from the source ({ends['sink']!r})")
    N = len(nodes)
    endpoint = dict(index)
    endpoint[ends["source"]], endpoint[ends["sink"]] = N, N + 1
    src, dst, bw, dl = [], [], [], []
    seen: dict[tuple[int, int], int] = {}
    for k, a in enumerate(_list(data["links"], "links", nonempty=True)):
        p = f"links[{k}]"
        _obj(a, p, _LINK)
        pair = []
        for end in ("source", "target"):
            e = _str(a[end], f"{p}.{end}")
            if e not in endpoint:
                raise InstanceError(f"{p}.{end}", f"unknown endpoint {e!r}")
            pair.append(endpoint[e])
        i, j = pair
        if i == j:
            raise InstanceError(p, "a link must join two different endpoints")
        if j == N:
            raise InstanceError(f"{p}.target", "no link may enter the source")
        if i == N + 1:
            raise InstanceError(f"{p}.source", "no link may leave the sink")
        if (i, j) in seen:
            raise InstanceError(p, f"a second link {a['source']!r} -> {a['target']!r} (first: links[{seen[i, j]}]); "
                                   "one logical link per ordered pair")
        seen[i, j] = k
        src.append(i)
        dst.append(j)
        bw.append(_within(_num(a["bandwidth"], f"{p}.bandwidth", lo=0, lo_open=True), f"{p}.bandwidth", "bandwidth"))
        dl.append(_within(_num(a["delay"], f"{p}.delay", lo=0), f"{p}.delay", "delay"))
    if not any(i == N for i in src):
        raise InstanceError("links", f"no link leaves the source {ends['source']!r}")
    if not any(j == N + 1 for j in dst):
        raise InstanceError("links", f"no link enters the sink {ends['sink']!r}")
    try:
        generator = None if data["generator"] is None else MappingProxyType(
            json.loads(json.dumps(data["generator"], allow_nan=False)))
    except (TypeError, ValueError):
        raise InstanceError("generator", "must hold only JSON values with finite numbers") from None
    return LLMInstance(
        name=name, model=model, nodes=nodes, source_name=ends["source"], sink_name=ends["sink"],
        link_source=frozen_array(src, np.int64), link_target=frozen_array(dst, np.int64),
        bandwidth=frozen_array(bw), delay=frozen_array(dl), memory_usable=float(usable),
        generator=generator, provenance=data["provenance"],
    )


def llm_instance_to_dict(inst: LLMInstance) -> dict[str, Any]:
    m = inst.model
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "name": inst.name,
        "generator": None if inst.generator is None else json.loads(json.dumps(dict(inst.generator))),
        "provenance": inst.provenance,
        "memory_usable": float(inst.memory_usable),
        "model": {"name": m.name, "layers": int(m.num_layers), "layer_param_bytes": float(m.layer_param_bytes),
                  "activation_bytes": float(m.activation_bytes), "kv_cache_bytes": float(m.kv_cache_bytes),
                  "decode_flops": float(m.decode_flops), "context_tokens": int(m.context_tokens), "source": m.source},
        "source": inst.source_name,
        "sink": inst.sink_name,
        "nodes": [
            {"name": n.name, "device": n.device, "region": n.region, "memory": float(n.memory),
             "memory_bandwidth": float(n.memory_bandwidth), "peak_flops": float(n.peak_flops),
             "throughput": [float(v) for v in n.throughput], "latency": [float(v) for v in n.latency],
             "batch": None if n.batch is None else [int(v) for v in n.batch],
             "throughput_source": n.throughput_source}
            for n in inst.nodes
        ],
        "links": [
            {"source": inst.endpoint_name(int(i)), "target": inst.endpoint_name(int(j)), "bandwidth": float(b),
             "delay": float(d)}
            for i, j, b, d in zip(inst.link_source, inst.link_target, inst.bandwidth, inst.delay)
        ],
    }


def llm_dumps(inst: LLMInstance) -> str:
    """Canonical text of the instance (what ``instances.io.save`` writes for this kind)."""
    return json.dumps(llm_instance_to_dict(inst), sort_keys=True, indent=1, allow_nan=False) + "\n"


def llm_instance_hash(inst: LLMInstance) -> str:
    return hashlib.sha256(llm_dumps(inst).encode()).hexdigest()[:16]


def is_llm_document(data: Any) -> bool:
    """Whether a parsed JSON document claims this format (the loader's dispatch)."""
    return isinstance(data, Mapping) and data.get("format") == FORMAT_NAME


def summary_lines(inst: LLMInstance) -> list[str]:
    """What ``dnnsplit show`` prints for an LLM instance."""
    from collections import Counter

    m = inst.model
    cap = inst.link_capacity
    total_k = sum(n.max_layers for n in inst.nodes)
    out = [
        f"instance:  {inst.name}",
        f"hash:      {inst.hash}",
        f"kind:      LLM pipeline placement ({FORMAT_NAME}); objective: throughput, tokens/s (maximised)",
        f"model:     {m.name}: {m.num_layers} decoder layers of {m.layer_param_bytes / 1e9:.4g} GB; "
        f"{m.activation_bytes:g} bytes/token per cut; KV {m.kv_cache_bytes:g} bytes/token/layer at "
        f"{m.context_tokens} tokens of context",
        f"nodes:     {inst.num_nodes}; layers they can hold together: {total_k} ({total_k / m.num_layers:.3g} copies); "
        f"memory usable {inst.memory_usable:g}",
    ]
    for (device, region, source), count in sorted(Counter((n.device, n.region, n.throughput_source.split(':')[0])
                                                          for n in inst.nodes).items()):
        node = next(n for n in inst.nodes if n.device == device and n.region == region)
        theta = node.throughput
        table = f"theta(1) {theta[0]:.6g} .. theta({len(theta)}) {theta[-1]:.6g} tokens/s" if len(theta) else "holds nothing"
        out.append(f"  {count:>3} x {device:<14} {region:<22} {node.memory / 2**30:.4g} GiB; K {len(theta)}; {table} "
                   f"({source})")
    out.append(f"links:     {inst.num_links}; capacity {cap.min():.6g} .. {cap.max():.6g} tokens/s; delay "
               f"{inst.delay.min() * 1e3:.4g} .. {inst.delay.max() * 1e3:.4g} ms")
    if inst.provenance:
        out.append(f"provenance: {inst.provenance}")
    if inst.generator:
        out.append(f"generator: {json.dumps(dict(inst.generator), sort_keys=True)}")
    return out


def placement_lines(inst: LLMInstance, data: Mapping[str, Any]) -> list[str]:
    """A placement (its JSON form) as 'layers a-b node' lines in layer order."""
    ranges = [(r[0], r[1], n) for n, r in enumerate(data["ranges"]) if r is not None]
    return [f"layers {s + 1}-{s + k} on {inst.nodes[n].name}" for s, k, n in sorted(ranges)]
