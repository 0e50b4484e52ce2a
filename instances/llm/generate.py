"""Generator family ``llm-cluster``: LLM serving clusters, deterministic per seed.

``generate_llm_cluster(layout=..., seed=..., nodes=..., model=..., **params)`` -> LLMInstance.
The only randomness is numpy ``default_rng([3, seed])`` (node types, then regions, then WiFi
attachments, in that order); every parameter and the seed are recorded in ``generator``; the
same call gives a byte-identical file.

Layouts:

- ``datacenter``: ``nodes`` GPU machines (default 24) of Helix's machine types
  (``instances.llm.hardware.DATACENTER``: A100, V100, L4, L4x2, T4, T4x2, T4x4), drawn with
  probabilities ``gpu_mix`` (default {A100: 2, V100: 2, L4: 4, L4x2: 2, T4: 6, T4x2: 2,
  T4x4: 2}, normalised), in ``regions`` regions (default 1; nodes dealt round-robin in a
  random order). Model ``llama2_70b`` by default. Every ordered pair of nodes has a link:
  ``intra-region`` (10 Gbit/s, the NICs of Helix's machine_profiles.ini, and 1 ms as in its
  cluster24.ini) inside a region,
  ``inter-region`` (100 Mbit/s, 20 ms: an assumption, a per-connection share of a
  cross-region path) between regions. The source and sink (the coordinator) sit in region 0
  and reach every node over the link class of its region.
- ``edge``: ``nodes`` devices (4-16 is the intended range) of ``instances.llm.hardware.EDGE``
  (Jetson AGX Orin 64/32 GB, Orin NX 16 GB, Orin Nano 8 GB, RTX 4090) drawn with ``gpu_mix``
  (default uniform), model ``llama2_7b`` by default (or ``llama3_8b``). Each device is on
  Gigabit Ethernet (1 Gbit/s, 0.2 ms) or, with probability ``wifi_fraction`` (default 0.5),
  on WiFi 6 (200 Mbit/s goodput, 3 ms); a pair's link runs at the slower attachment's rate
  with both delays added; the client (source and sink: the home or office server that runs the
  embedding and head) is on Ethernet. Links are per pair: a shared WiFi channel is not modelled.
- ``helix24``: the published Helix case (``instances.llm.helix``), read from ``helix_dir``.

Throughput tables come from the roofline of ``instances.llm.roofline`` (parameters
``memory_usable``, ``memory_efficiency``, ``compute_efficiency``, ``max_batch``,
``context_tokens``). Parameters are checked (unknown names refused).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np

from instances.llm.hardware import ACCELERATORS, EDGE, LINKS
from instances.llm.helix import helix_instance
from instances.llm.io import llm_instance_from_dict
from instances.llm.model import LLMInstance
from instances.llm.profiles import LLM_PROFILE_NAMES, llm_model
from instances.llm.roofline import Roofline, throughput_table

FAMILY = "llm-cluster"
LAYOUTS = ("datacenter", "edge", "helix24")
GENERATOR_VERSION = 1
DEFAULT_MIX = {
    "datacenter": {"A100": 2, "V100": 2, "L4": 4, "L4x2": 2, "T4": 6, "T4x2": 2, "T4x4": 2},
    "edge": {name: 1 for name in EDGE},
}
DEFAULT_MODEL = {"datacenter": "llama2_70b", "edge": "llama2_7b", "helix24": "llama2_70b"}
PARAMS = ("layout", "regions", "gpu_mix", "wifi_fraction", "context_tokens", "memory_usable", "memory_efficiency",
          "compute_efficiency", "max_batch", "helix_dir", "link_capacity")


class LLMGenerationError(ValueError):
    """A bad ``llm-cluster`` request (unknown layout, model, device or parameter)."""


def _pick_types(rng: np.random.Generator, nodes: int, mix: dict[str, float]) -> list[str]:
    names = sorted(mix)
    for n in names:
        if n not in ACCELERATORS:
            raise LLMGenerationError(f"gpu_mix: unknown device {n!r}; known: {', '.join(ACCELERATORS)}")
        if not (isinstance(mix[n], (int, float)) and mix[n] >= 0):
            raise LLMGenerationError(f"gpu_mix[{n!r}] must be a number >= 0, got {mix[n]!r}")
    weights = np.array([float(mix[n]) for n in names])
    if weights.sum() <= 0:
        raise LLMGenerationError("gpu_mix: the weights sum to 0")
    return [names[i] for i in rng.choice(len(names), size=nodes, p=weights / weights.sum())]


def generate_llm_cluster(*, layout: str = "datacenter", seed: int = 0, nodes: int = 24, model: str | None = None,
                         name: str | None = None, **params: Any) -> LLMInstance:
    """An ``llm-cluster`` instance (see the module docstring)."""
    unknown = sorted(set(params) - set(PARAMS) - {"layout"})
    if unknown:
        raise LLMGenerationError(f"unknown parameter {unknown[0]!r} for family {FAMILY}; accepted: {', '.join(PARAMS)}")
    if layout not in LAYOUTS:
        raise LLMGenerationError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    model = model or DEFAULT_MODEL[layout]
    if model not in LLM_PROFILE_NAMES:
        raise LLMGenerationError(f"model must be one of {', '.join(LLM_PROFILE_NAMES)}, got {model!r}")
    context = int(params.get("context_tokens", 1024))
    if layout == "helix24":
        extra = sorted(set(params) - {"helix_dir", "link_capacity", "context_tokens"})
        if extra or model != "llama2_70b":
            raise LLMGenerationError("layout helix24 is the published LLaMA-70B case: it takes only helix_dir, "
                                     f"link_capacity and context_tokens (got {extra or model})")
        return helix_instance(params.get("helix_dir"), link_capacity=params.get("link_capacity", "lp"),
                              context_tokens=context, name=name)
    if isinstance(nodes, bool) or not isinstance(nodes, (int, np.integer)) or nodes < 1:
        raise LLMGenerationError(f"nodes must be an integer >= 1, got {nodes!r}")
    roof = Roofline(**{k: params[k] for k in ("memory_usable", "memory_efficiency", "compute_efficiency", "max_batch")
                       if k in params})
    if not (0 < roof.memory_usable <= 1 and roof.memory_efficiency > 0 and roof.compute_efficiency > 0
            and roof.max_batch >= 1):
        raise LLMGenerationError(f"roofline parameters out of range: {roof}")
    regions = int(params.get("regions", 1))
    if layout == "edge" and "regions" in params:
        raise LLMGenerationError("layout edge has no regions")
    if regions < 1:
        raise LLMGenerationError(f"regions must be >= 1, got {regions}")
    wifi_fraction = float(params.get("wifi_fraction", 0.5))
    mix = params.get("gpu_mix") or DEFAULT_MIX[layout]
    rng = np.random.default_rng([3, int(seed)])
    types = _pick_types(rng, int(nodes), dict(mix))
    region_of = np.empty(nodes, dtype=int)
    region_of[rng.permutation(nodes)] = np.arange(nodes) % regions
    wifi = rng.random(nodes) < wifi_fraction if layout == "edge" else np.zeros(nodes, dtype=bool)
    llm = llm_model(model, context)
    node_dicts = []
    for i, t in enumerate(types):
        acc = ACCELERATORS[t]
        theta, latency, batch = throughput_table(acc, llm, roof)
        where = f"region{region_of[i]}" if layout == "datacenter" else ("wifi" if wifi[i] else "ethernet")
        node_dicts.append({
            "name": f"n{i}-{t}", "device": t, "region": where, "memory": acc.memory,
            "memory_bandwidth": acc.memory_bandwidth, "peak_flops": acc.peak_fp16, "throughput": theta,
            "latency": latency, "batch": batch, "throughput_source": "roofline",
        })
    links = []

    def add(a: str, b: str, cls_a: str, cls_b: str) -> None:
        if layout == "datacenter":
            lc = LINKS["intra-region"] if cls_a == cls_b else LINKS["inter-region"]
            links.append({"source": a, "target": b, "bandwidth": lc.bandwidth, "delay": lc.delay})
        else:
            la, lb = LINKS[cls_a], LINKS[cls_b]
            links.append({"source": a, "target": b, "bandwidth": min(la.bandwidth, lb.bandwidth),
                          "delay": la.delay + lb.delay})

    client = "region0" if layout == "datacenter" else "ethernet"
    names = [n["name"] for n in node_dicts]
    where = [n["region"] for n in node_dicts]
    for i in range(nodes):
        add("source", names[i], client, where[i])
    for i in range(nodes):
        for j in range(nodes):
            if i != j:
                add(names[i], names[j], where[i], where[j])
    for i in range(nodes):
        add(names[i], "sink", where[i], client)
    recorded = {k: params[k] for k in sorted(params) if k != "helix_dir"}
    generator = {"tool": "instances.llm.generate", "version": GENERATOR_VERSION, "family": FAMILY, "layout": layout,
                 "seed": int(seed), "nodes": int(nodes), "model": model, "params": recorded,
                 "roofline": roof.to_dict(), "context_tokens": context,
                 "links": {k: {"bandwidth_bps": v.bandwidth_bps, "delay": v.delay, "note": v.note}
                           for k, v in LINKS.items()}}
    if name is None:
        tag = f"r{regions}" if layout == "datacenter" else "lan"
        name = f"llm-{layout}-n{nodes}-{tag}-{model}-s{seed}"
        rest = {k: v for k, v in recorded.items() if k != "regions"}
        if rest:
            name += "-p" + hashlib.sha256(json.dumps(rest, sort_keys=True).encode()).hexdigest()[:8]
    sources = sorted({ACCELERATORS[t].source for t in set(types)})
    data = {
        "format": "dnnsplit-llm-instance", "version": 1, "name": name, "generator": generator,
        "provenance": "device figures: " + "; ".join(sources) + ". Model: " + str(llm.source),
        "memory_usable": roof.memory_usable,
        "model": {"name": llm.name, "layers": llm.num_layers, "layer_param_bytes": llm.layer_param_bytes,
                  "activation_bytes": llm.activation_bytes, "kv_cache_bytes": llm.kv_cache_bytes,
                  "decode_flops": llm.decode_flops, "context_tokens": llm.context_tokens, "source": llm.source},
        "source": "source", "sink": "sink", "nodes": node_dicts, "links": links,
    }
    return llm_instance_from_dict(data)
