"""The shared instance generator: ``generate(family, seed=..., nodes=..., ...)`` -> Instance.

Deterministic per (family, parameters, seed): the same call gives a byte-identical
``instances.io.dumps``. The only randomness is numpy ``default_rng``; three independent streams
are derived from the seed (``default_rng([stream, seed])``): 0 topology, 1 models, 2 jobs, so
changing job parameters does not change the network. Every parameter and the seed are recorded
in ``instance.generator``.

Families: ``FAMILIES``; topology rules in :mod:`instances.topologies`, hardware figures in
:mod:`instances.hardware`, DNN models and exits in :mod:`instances.profiles`.

Parameters (keyword ``**params``; unknown names are refused):

- topology: the keyword arguments of the family's builder in :mod:`instances.topologies`
  (e.g. ``p`` for erdos_renyi, ``alpha``/``beta``/``area_km`` for waxman, ``m`` for
  barabasi_albert, ``rows`` for grid, ``uplink_mbps``/``multihome``/``clouds`` for
  hierarchical, ``cloud_frac``/``edge_frac``/``router_frac``/``bandwidth_jitter``);
  zoo: ``zoo_file=PATH`` or ``zoo_archive=PATH`` + ``zoo_name=NAME``, ``zoo_devices``.
  Only the network name and the sha256 of its GML text are recorded, not the path.
- models: ``model`` (``"synthetic"`` or a measured profile name), or ``models=[...]`` for a mix
  (job j gets ``models[j mod len]``); synthetic: ``layers``, ``shape``, ``gflops``, ``noise``;
  profiles: ``merge_elementwise``; exits: ``exits=k``, ``exit_confidence``,
  ``exit_accuracy_drop`` (applied to every model).
- jobs: ``jobs=k``. Sources: device-tier nodes in a random order, cycled (job j gets device
  perm[j mod #devices]). Sink: the source itself, or with probability ``sink_other_prob``
  (default 0.25) another device drawn at random. Rate: ``rate`` (all jobs), else uniform in
  ``rate_range`` (default [0.5, 2.0] /s) when jobs > 1 and 1.0 for a single job.
  ``deadline_factor=f``: deadline T_j = f x the reference latency of the job, the best
  latency of running the whole model on ONE compute node (input shipped from the source over
  shortest paths, result shipped to the sink; exits inactive): with f >= 1 every job can meet
  its deadline when capacities are ignored. ``accuracy_target=A`` (absolute) or
  ``accuracy_target_rel=r`` (A_j = r x alpha_L of the job's model). ``utilisation_cap``
  (kappa, default 0.9).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from instances import profiles, topologies
from instances.io import instance_from_dict
from instances.model import Instance

FAMILIES = ("erdos_renyi", "waxman", "barabasi_albert", "grid", "hierarchical", "zoo")
# What one instance may hold (refused beyond, with the reason): instances and their layered graphs
# grow as nodes x layers x jobs, and a generated file beyond these takes minutes and gigabytes
# before any solver sees it.
LIMITS = {"nodes": 200_000, "layers": 100_000, "jobs": 100_000}
GENERATOR_VERSION = 1

_BUILDERS: dict[str, Callable[..., topologies.Topology]] = {
    "erdos_renyi": topologies.erdos_renyi,
    "waxman": topologies.waxman,
    "barabasi_albert": topologies.barabasi_albert,
    "grid": topologies.grid,
    "hierarchical": topologies.hierarchical,
    "zoo": topologies.zoo_topology,
}
_ZOO_SOURCE = ("zoo_file", "zoo_archive", "zoo_name")
_MODEL_PARAMS = ("models", "shape", "gflops", "noise", "merge_elementwise", "exits", "exit_confidence",
                 "exit_accuracy_drop")
_JOB_PARAMS = ("rate", "rate_range", "sink_other_prob", "deadline_factor", "accuracy_target",
               "accuracy_target_rel", "utilisation_cap")


class GenerationError(ValueError):
    """A bad generator request (unknown family, bad or unknown parameter)."""


def topology_params(family: str) -> tuple[str, ...]:
    """Names of the topology keyword parameters accepted by ``family``."""
    sig = inspect.signature(_BUILDERS[family])
    names = tuple(p.name for p in sig.parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY)
    return names + (_ZOO_SOURCE if family == "zoo" else ())


def accepted_params(family: str) -> tuple[str, ...]:
    return topology_params(family) + _MODEL_PARAMS + _JOB_PARAMS


def _jsonable(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise GenerationError(f"parameter value {value!r} is not a JSON value")


def _num_param(params: dict[str, Any], key: str, default: Any, *, lo: float | None = None,
               hi: float | None = None, lo_open: bool = False) -> Any:
    value = params.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not np.isfinite(value):
        raise GenerationError(f"parameter {key} must be a finite number, got {value!r}")
    if lo is not None and (value < lo or (lo_open and value == lo)):
        raise GenerationError(f"parameter {key} must be {'>' if lo_open else '>='} {lo:g}, got {value!r}")
    if hi is not None and value > hi:
        raise GenerationError(f"parameter {key} must be <= {hi:g}, got {value!r}")
    return value


# ----------------------------------------------------------------------------- pieces


def _build_topology(family: str, rng: np.random.Generator, nodes: int, params: dict[str, Any]) -> tuple[topologies.Topology, dict[str, Any]]:
    kwargs = {k: params[k] for k in topology_params(family) if k in params and k not in _ZOO_SOURCE}
    recorded: dict[str, Any] = {}
    try:
        if family == "zoo":
            zname, text = topologies.read_zoo_text(params.get("zoo_file"), params.get("zoo_archive"), params.get("zoo_name"))
            recorded = {"zoo_name": zname, "zoo_sha256": hashlib.sha256(text.encode()).hexdigest()[:16]}
            topo = topologies.zoo_topology(rng, text, zname, **kwargs)
        else:
            topo = _BUILDERS[family](rng, nodes, **kwargs)
    except topologies.TopologyError:
        raise
    except (TypeError, ValueError) as err:  # a parameter of the wrong type reaching the builder
        raise GenerationError(f"{family}: bad parameter value: {err}") from None
    return topo, recorded


def _build_models(rng: np.random.Generator, names: list[str], layers: int, params: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    shape = params.get("shape", "decreasing")
    gflops = _num_param(params, "gflops", 5.0, lo=0, lo_open=True)
    noise = _num_param(params, "noise", 0.25, lo=0)
    merge = params.get("merge_elementwise", False)
    if not isinstance(merge, bool):
        raise GenerationError(f"parameter merge_elementwise must be true or false, got {merge!r}")
    exits = params.get("exits", 0)
    for name in names:
        if not isinstance(name, str):
            raise GenerationError(f"model names must be strings, got {name!r}")
        if name == "synthetic":
            m = profiles.synthetic_model(rng, layers, shape=shape, gflops=float(gflops), noise=float(noise))
        else:
            m = profiles.profile_model(name, merge_elementwise=merge)
        if m["name"] in seen:
            continue
        seen.add(m["name"])
        profiles.add_exits(
            m,
            exits,
            exit_confidence=float(_num_param(params, "exit_confidence", 0.8, lo=0, hi=1)),
            exit_accuracy_drop=float(_num_param(params, "exit_accuracy_drop", 0.3, lo=0, hi=1)),
        )
        out.append(m)
    return out


def _model_key(name: str, layers: int, params: dict[str, Any]) -> str:
    if name == "synthetic":
        return f"synthetic-{params.get('shape', 'decreasing')}-L{layers}"
    return name + ("-merged" if params.get("merge_elementwise", False) else "")


def _build_jobs(rng: np.random.Generator, topo: topologies.Topology, model_names: list[str], k: int,
                params: dict[str, Any]) -> list[dict[str, Any]]:
    by_tier = topo.names_by_tier
    devices = by_tier.get("device") or [n["name"] for n in topo.nodes if n["speed"] > 0]
    perm = [devices[i] for i in rng.permutation(len(devices))]
    p_other = _num_param(params, "sink_other_prob", 0.25, lo=0, hi=1)
    rate = _num_param(params, "rate", None, lo=0, lo_open=True)
    rate_range = params.get("rate_range", (0.5, 2.0))
    if (not isinstance(rate_range, (list, tuple)) or len(rate_range) != 2
            or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in rate_range)
            or not 0 < rate_range[0] <= rate_range[1] < float("inf")):
        raise GenerationError(f"parameter rate_range must be [low, high] with 0 < low <= high, got {rate_range!r}")
    jobs = []
    for j in range(k):
        src = perm[j % len(perm)]
        sink = src
        if len(devices) > 1 and rng.random() < p_other:
            others = [d for d in devices if d != src]
            sink = others[int(rng.integers(len(others)))]
        r = rng.uniform(float(rate_range[0]), float(rate_range[1])) if k > 1 else 1.0
        jobs.append(
            {
                "name": f"job{j}",
                "model": model_names[j % len(model_names)],
                "source": src,
                "sink": sink,
                "rate": float(rate) if rate is not None else float(r),
                "deadline": None,
                "accuracy_target": None,
            }
        )
    return jobs


def reference_latency(inst: Instance, job_index: int) -> float:
    """Best latency of running the whole model of job j on one compute node (exits inactive).

    min over compute nodes n of D(s, n; o_0) + sum_l tau_{l,n} + D(n, t; o_L), D the
    shortest-path transfer time with arc weight o / b_a + delta_a.
    """
    job = inst.jobs[job_index]
    model = inst.models[job.model]
    net = inst.network
    sizes = model.tensor_sizes

    def dist(size: float, start: int, reverse: bool) -> np.ndarray:
        w = net.transfer_time(size)
        src, dst = (net.link_target, net.link_source) if reverse else (net.link_source, net.link_target)
        # keep the cheapest of parallel links (csr would sum duplicates)
        best: dict[tuple[int, int], float] = {}
        for a, (i, j) in enumerate(zip(src.tolist(), dst.tolist())):
            if (i, j) not in best or w[a] < best[(i, j)]:
                best[(i, j)] = float(w[a])
        rows, cols = zip(*best.keys()) if best else ((), ())
        g = csr_matrix((list(best.values()), (rows, cols)), shape=(net.num_nodes, net.num_nodes))
        return dijkstra(g, directed=True, indices=start)

    to_n = dist(sizes[0], job.source, reverse=False)
    from_n = dist(sizes[-1], job.sink, reverse=True)
    tau = inst.compute_time(model).sum(axis=0)
    total = to_n + tau + from_n
    total[net.speed <= 0] = np.inf
    return float(np.min(total))


# ----------------------------------------------------------------------------- generate


def generate(
    family: str,
    *,
    seed: int = 0,
    nodes: int = 20,
    model: str = "synthetic",
    layers: int = 10,
    jobs: int = 1,
    name: str | None = None,
    progress: Callable[[str], None] | None = None,
    **params: Any,
) -> Instance:
    """A validated instance of ``family`` (see the module docstring for parameters).

    ``progress``, if given, is called with a line after each stage (topology, models, jobs,
    validation), for callers that show large generations as they go."""
    if family not in FAMILIES:
        raise GenerationError(f"unknown family {family!r}: expected one of {', '.join(FAMILIES)}")
    for key, value, lo in (("seed", seed, 0), ("nodes", nodes, 2), ("layers", layers, 1), ("jobs", jobs, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
            raise GenerationError(f"{key} must be an integer >= {lo}, got {value!r}")
        if key in LIMITS and value > LIMITS[key]:
            raise GenerationError(f"{key} = {value} is above the generator's limit of {LIMITS[key]:,} (the instance "
                                  "and its layered graphs grow with nodes x layers x jobs)")
    seed, nodes, layers, jobs = int(seed), int(nodes), int(layers), int(jobs)
    t_start = time.perf_counter()

    def stage(what: str) -> None:
        if progress is not None:
            progress(f"{what} ({time.perf_counter() - t_start:.1f} s)")
    unknown = sorted(set(params) - set(accepted_params(family)))
    if unknown:
        raise GenerationError(
            f"unknown parameter {unknown[0]!r} for family {family}; accepted: {', '.join(accepted_params(family))}"
        )
    params = {k: _jsonable(v) for k, v in params.items()}
    rng_topo, rng_model, rng_jobs = (np.random.default_rng([stream, seed]) for stream in range(3))

    topo, zoo_record = _build_topology(family, rng_topo, nodes, params)
    stage(f"topology: {len(topo.nodes)} nodes, {len(topo.links)} links")
    model_names = params.get("models") or [model]
    if not isinstance(model_names, list) or not model_names:
        raise GenerationError(f"parameter models must be a non-empty list of model names, got {model_names!r}")
    model_dicts = _build_models(rng_model, model_names, layers, params)
    stage(f"models: {len(model_dicts)}")
    job_models = [_model_key(m, layers, params) for m in model_names]
    job_dicts = _build_jobs(rng_jobs, topo, job_models, jobs, params)
    stage(f"jobs: {len(job_dicts)}")

    recorded_params = {k: v for k, v in sorted(params.items()) if k not in _ZOO_SOURCE}
    recorded_params.update(zoo_record)
    generator = {
        "tool": "instances.generate",
        "version": GENERATOR_VERSION,
        "family": family,
        "seed": seed,
        "nodes": nodes,
        "model": model,
        "layers": layers,
        "jobs": jobs,
        "params": recorded_params,
        "topology": _jsonable(topo.info),
    }
    if name is None:
        tag = "mixed" if params.get("models") else model
        where = f"zoo-{zoo_record['zoo_name']}" if family == "zoo" else family
        name = f"{where}-n{len(topo.nodes)}-{tag}" + (f"-L{layers}" if "synthetic" in model_names else "")
        name += f"-j{jobs}-s{seed}"
        extra = {k: v for k, v in recorded_params.items()}
        if extra:
            name += "-p" + hashlib.sha256(json.dumps(extra, sort_keys=True).encode()).hexdigest()[:8]
    kappa = _num_param(params, "utilisation_cap", 0.9, lo=0, lo_open=True, hi=1)
    data = {
        "format": "dnnsplit-instance",
        "version": 1,
        "name": name,
        "utilisation_cap": float(kappa),
        "generator": generator,
        "nodes": topo.nodes,
        "links": topo.links,
        "models": model_dicts,
        "jobs": job_dicts,
    }
    inst = instance_from_dict(data)
    stage("validated")
    factor = _num_param(params, "deadline_factor", None, lo=0, lo_open=True)
    target = _num_param(params, "accuracy_target", None, lo=0, lo_open=True, hi=1)
    target_rel = _num_param(params, "accuracy_target_rel", None, lo=0, lo_open=True, hi=1)
    if factor is None and target is None and target_rel is None:
        return inst
    for j, jd in enumerate(job_dicts):
        if factor is not None:
            jd["deadline"] = float(factor * reference_latency(inst, j))
        if target is not None and inst.models[inst.jobs[j].model].accuracy is not None:
            jd["accuracy_target"] = float(target)  # a model without accuracy figures gets no target
        elif target_rel is not None:
            alpha = inst.models[inst.jobs[j].model].accuracy
            jd["accuracy_target"] = float(target_rel * alpha) if alpha is not None else None
    return instance_from_dict(data)


# ----------------------------------------------------------------------------- Topology Zoo survey


def zoo_survey(zoo_archive: str | Path = topologies.DEFAULT_ZOO_ARCHIVE, **params: Any) -> dict[str, Any]:
    """Generate an instance from every network of the archive; count loaded and refused.

    Returns ``{"files": N, "loaded": k, "refused": {reason class: count},
    "refused_names": {name: reason}}``; the reason class is the text before the first colon
    (e.g. "disconnected"). Refusals are :class:`instances.topologies.TopologyError`; any other
    error propagates (it would be a bug).
    """
    names = topologies.zoo_names(zoo_archive)
    loaded = 0
    refused: dict[str, int] = {}
    refused_names: dict[str, str] = {}
    for zname in names:
        try:
            generate("zoo", zoo_archive=zoo_archive, zoo_name=zname, **params)
        except topologies.TopologyError as err:
            reason = str(err)
            key = reason.split(":")[0]
            refused[key] = refused.get(key, 0) + 1
            refused_names[zname] = reason
            continue
        loaded += 1
    return {"files": len(names), "loaded": loaded, "refused": dict(sorted(refused.items())),
            "refused_names": refused_names}
