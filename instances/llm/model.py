"""The LLM pipeline-placement instance (DESIGN.md section 5, F5): its data model and decision.

An LLM is a chain of L decoder layers; its embedding runs at the source and its head
(final norm + LM head) at the sink, as Petals' clients and Helix's coordinator do, so the
nodes hold decoder layers only and every cut between two stages ships ``activation_bytes``
(beta = hidden x 2 bytes) per token. Node n holds one contiguous range of layers or none;
holding k layers it serves ``throughput[k-1]`` tokens/s (theta_n(k): a measured table, or
the roofline of ``instances.llm.roofline``), each token spends ``latency[k-1]`` seconds on it
at light load, and the range must fit ``memory_usable * memory`` with its parameters
(k x ``layer_param_bytes``) and, where the table states the concurrent requests
(``batch[k-1]``), their KV cache (batch x k x ``context_tokens`` x ``kv_cache_bytes``).

Links are logical, directed connections between two endpoints (nodes, the source, the sink):
one per ordered pair at most, capacity ``bandwidth / activation_bytes`` tokens/s, one-way
``delay``. Activations travel over one link from the node that finished layer l to the node
that starts layer l+1: a node forwards only what it computed (no relaying), as in Helix's
model and Petals' servers.

Classes are frozen; arrays are read-only. Build instances through
:func:`instances.llm.io.llm_instance_from_dict` (or ``instances.io.load``), which validates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from instances.model import frozen_array

LLM_PROBLEM = "llm"  # the registry's problem kind for these instances


@dataclass(frozen=True, eq=False)
class LLMModel:
    """A chain of ``num_layers`` identical decoder layers (fp16), the data F5 needs of it."""

    name: str
    num_layers: int  # L
    layer_param_bytes: float  # m: parameters of one decoder layer, bytes
    activation_bytes: float  # beta: hidden state per token crossing a cut, bytes
    kv_cache_bytes: float  # KV cache per layer per token of context, bytes
    decode_flops: float  # FLOPs per layer per decoded token at ``context_tokens`` of context
    context_tokens: int  # S: context each request keeps in the KV cache
    source: str | None = None  # where the figures come from


@dataclass(frozen=True, eq=False)
class LLMNode:
    """A GPU or edge accelerator with its throughput table theta_n(k), k = 1..K_n."""

    name: str
    device: str  # accelerator type (instances.llm.hardware)
    region: str
    memory: float  # bytes
    memory_bandwidth: float  # bytes/s
    peak_flops: float  # dense fp16 FLOP/s
    throughput: np.ndarray  # tokens/s holding k = 1..K_n layers
    latency: np.ndarray  # s per token through k layers at light load (batch 1)
    batch: np.ndarray | None  # concurrent requests the throughput assumes (None: not stated)
    throughput_source: str  # "roofline" or where the measured table comes from

    @property
    def max_layers(self) -> int:
        """K_n: the most layers the node can hold (0: none)."""
        return len(self.throughput)


@dataclass(frozen=True, eq=False)
class LLMInstance:
    """Nodes, the source and sink endpoints, directed logical links, one LLM.

    Endpoints are numbered 0..N-1 (nodes), N (source), N+1 (sink) in the link arrays.
    """

    name: str
    model: LLMModel
    nodes: tuple[LLMNode, ...]
    source_name: str
    sink_name: str
    link_source: np.ndarray  # endpoint index
    link_target: np.ndarray
    bandwidth: np.ndarray  # bytes/s
    delay: np.ndarray  # s
    memory_usable: float = 0.9  # fraction of a node's memory that layers and KV cache may use
    generator: Mapping[str, Any] | None = None
    provenance: str | None = None

    problem = LLM_PROBLEM  # tells the registry (and the campaign) which pairs apply
    jobs = ()  # no DNN jobs: the campaign's per-job record fields stay empty
    models = ()

    @property
    def num_nodes(self) -> int:
        return len(self.nodes)

    @property
    def num_links(self) -> int:
        return len(self.link_source)

    @property
    def source(self) -> int:
        return len(self.nodes)

    @property
    def sink(self) -> int:
        return len(self.nodes) + 1

    def endpoint_name(self, e: int) -> str:
        if e == self.source:
            return self.source_name
        if e == self.sink:
            return self.sink_name
        return self.nodes[e].name

    @property
    def link_capacity(self) -> np.ndarray:
        """b_a / beta: tokens/s each link carries."""
        cached = self.__dict__.get("_capacity")
        if cached is None:
            cached = frozen_array(self.bandwidth / self.model.activation_bytes)
            object.__setattr__(self, "_capacity", cached)
        return cached

    def link_between(self, i: int, j: int) -> int | None:
        """The index of the link i -> j (endpoint indices), or None."""
        cached = self.__dict__.get("_pairs")
        if cached is None:
            cached = {(int(a), int(b)): k for k, (a, b) in enumerate(zip(self.link_source, self.link_target))}
            object.__setattr__(self, "_pairs", cached)
        return cached.get((int(i), int(j)))

    @property
    def sizes(self) -> dict[str, int]:
        """Dimensions that records and tables group by (the DNN instances' keys, plus F5's)."""
        L = self.model.num_layers
        ranges = int(sum(k_max * (L + 1) - k_max * (k_max + 1) // 2 for k_max in (n.max_layers for n in self.nodes)))
        return {
            "nodes": self.num_nodes,
            "links": self.num_links,
            "compute_nodes": int(sum(n.max_layers > 0 for n in self.nodes)),
            "jobs": 0,
            "max_layers": L,
            "layered_arcs": ranges + self.num_links * max(L - 1, 1),
            "ranges": ranges,
        }

    @property
    def hash(self) -> str:
        from instances.llm.io import llm_instance_hash

        cached = self.__dict__.get("_hash")
        if cached is None:
            cached = llm_instance_hash(self)
            object.__setattr__(self, "_hash", cached)
        return cached


def is_llm_instance(instance: Any) -> bool:
    """Whether ``instance`` is an LLM pipeline-placement instance (not a DNN-split one)."""
    return getattr(instance, "problem", None) == LLM_PROBLEM


@dataclass(frozen=True)
class Placement:
    """The decision of F5: a contiguous range per node, and the flow on each link.

    ``ranges[n]`` is ``(start, count)``: node n holds layers start+1 .. start+count (1-based;
    ``start`` is the number of layers done before it), or None. ``link_flow`` (tokens/s per
    link, in the instance's link order) is optional: without it the evaluator takes the
    maximum flow the placement supports.
    """

    ranges: tuple[tuple[int, int] | None, ...]
    link_flow: tuple[float, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"ranges": [None if r is None else [int(r[0]), int(r[1])] for r in self.ranges],
                "link_flow": None if self.link_flow is None else [float(v) for v in self.link_flow]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Placement":
        ranges = tuple(None if r is None else (int(r[0]), int(r[1])) for r in d["ranges"])
        flow = d.get("link_flow")
        return cls(ranges, None if flow is None else tuple(float(v) for v in flow))

    @classmethod
    def of(cls, instance: LLMInstance, ranges: Mapping[int, tuple[int, int]],
           link_flow: Sequence[float] | np.ndarray | None = None) -> "Placement":
        """From a {node: (start, count)} mapping (nodes not in it hold nothing)."""
        rs = tuple((int(ranges[n][0]), int(ranges[n][1])) if n in ranges else None for n in range(instance.num_nodes))
        return cls(rs, None if link_flow is None else tuple(float(v) for v in link_flow))
