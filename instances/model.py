"""The instance data model: network, DNN models and jobs (DESIGN.md section 2).

Every class is frozen; numeric tables are read-only numpy arrays. Derived quantities live
here with the data:

- ``Instance.compute_time(model)``: tau_{l,n}, the measured time of layer l for the node's
  device class when the model's profile has that class, else w_l / c_n (inf on routers).
- ``DNNModel.reach(active_exits)``: rho_l = 1 - sum_{active x < l} q_x for l = 1..L+1.

Build instances through :func:`instances.io.instance_from_dict` (or ``load``), which validates
them; constructing the classes directly skips validation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

TIERS = ("device", "edge", "cloud", "core", "router")


def frozen_array(values: Any, dtype: type = np.float64) -> np.ndarray:
    """A read-only 1-D copy of ``values``."""
    array = np.array(values, dtype=dtype).reshape(-1)
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class Network:
    """Directed graph G = (N, A) with node and link attributes (arrays indexed by node/link)."""

    node_names: tuple[str, ...]
    tier: tuple[str, ...]
    device_class: tuple[str | None, ...]  # profile device class ("gpu", "cpu16", "cpu1") or None
    speed: np.ndarray  # c_n, FLOP/s; 0 = router (cannot compute)
    power: np.ndarray  # p_n, W while computing
    memory: np.ndarray  # M_n, bytes for model parameters
    link_source: np.ndarray  # int index of i for link a = (i, j)
    link_target: np.ndarray  # int index of j
    bandwidth: np.ndarray  # b_a, bytes/s
    delay: np.ndarray  # delta_a, s
    energy_per_byte: np.ndarray  # epsilon_a, J/byte

    @property
    def num_nodes(self) -> int:
        return len(self.node_names)

    @property
    def num_links(self) -> int:
        return len(self.link_source)

    @property
    def compute_nodes(self) -> np.ndarray:
        """Indices of nodes that can compute (c_n > 0)."""
        return np.flatnonzero(self.speed > 0)

    def index(self, name: str) -> int:
        return self._index[name]

    @property
    def device_class_array(self) -> np.ndarray:
        """``device_class`` as a numpy object array (cached), for vectorised lookups."""
        cached = self.__dict__.get("_device_class_array")
        if cached is None:
            cached = np.array(self.device_class, dtype=object)
            object.__setattr__(self, "_device_class_array", cached)
        return cached

    @property
    def _index(self) -> dict[str, int]:
        cached = self.__dict__.get("_index_cache")
        if cached is None:
            cached = {n: i for i, n in enumerate(self.node_names)}
            object.__setattr__(self, "_index_cache", cached)
        return cached

    def transfer_time(self, size_bytes: float) -> np.ndarray:
        """Per-link time to move ``size_bytes``: o / b_a + delta_a."""
        return size_bytes / self.bandwidth + self.delay


@dataclass(frozen=True)
class Exit:
    """An early-exit head after layer ``after_layer`` (1-based, < L)."""

    after_layer: int
    probability: float  # q_x: fraction of all samples that leave here when active
    head_flops: float  # h_x
    accuracy: float  # alpha_x
    # r_x: bytes of the result a sample that leaves here ships from the exit node to the sink (the
    # exit head's output, e.g. class scores; DESIGN.md section 3 writes o_x for this size). Not
    # the tensor o_l of the layer the exit follows, which stays on its node.
    result_bytes: float


@dataclass(frozen=True, eq=False)
class DNNModel:
    """A chain of L layers; arrays are indexed by layer l-1 for l = 1..L."""

    name: str
    input_bytes: float  # o_0
    layer_names: tuple[str, ...]
    flops: np.ndarray  # w_l
    output_bytes: np.ndarray  # o_l
    param_bytes: np.ndarray  # m_l
    measured_time: Mapping[str, np.ndarray] = field(default_factory=lambda: MappingProxyType({}))
    exits: tuple[Exit, ...] = ()
    accuracy: float | None = None  # alpha_L, accuracy of the full network
    provenance: str | None = None

    @property
    def num_layers(self) -> int:
        return len(self.layer_names)

    @property
    def tensor_sizes(self) -> np.ndarray:
        """o_0..o_L: the tensor carried by path l."""
        return np.concatenate(([self.input_bytes], self.output_bytes))

    def reach(self, active_exits: tuple[int, ...] = ()) -> np.ndarray:
        """rho_1..rho_{L+1}: fraction of samples that reach layer l (L+1: finish the chain).

        ``active_exits`` are indices into ``self.exits``.
        """
        rho = np.ones(self.num_layers + 1)
        for x in active_exits:
            e = self.exits[x]
            rho[e.after_layer :] -= e.probability  # layers after_layer+1 .. L+1
        return rho

    def expected_accuracy(self, active_exits: tuple[int, ...] = ()) -> float:
        """sum_x q_x alpha_x + rho_{L+1} alpha_L (requires ``accuracy``)."""
        if self.accuracy is None:
            raise ValueError(f"model {self.name!r} has no full-network accuracy")
        rho = self.reach(active_exits)
        return float(
            sum(self.exits[x].probability * self.exits[x].accuracy for x in active_exits)
            + rho[-1] * self.accuracy
        )


@dataclass(frozen=True)
class Job:
    """One inference stream: model, source s_j, sink t_j, rate lambda_j, optional targets."""

    name: str
    model: int  # index into Instance.models
    source: int
    sink: int
    rate: float
    deadline: float | None = None
    accuracy_target: float | None = None


@dataclass(frozen=True, eq=False)
class Instance:
    name: str
    network: Network
    models: tuple[DNNModel, ...]
    jobs: tuple[Job, ...]
    utilisation_cap: float = 0.9  # kappa in C1/C2
    generator: Mapping[str, Any] | None = None  # parameters and seed that produced it

    def only_job(self, job_index: int) -> "Instance":
        """The same instance with job ``job_index`` alone (for the single-job formulations)."""
        from dataclasses import replace

        if not 0 <= job_index < len(self.jobs):
            raise IndexError(f"job {job_index} out of range: instance {self.name!r} has {len(self.jobs)} jobs")
        return replace(self, name=f"{self.name}-job{job_index}", jobs=(self.jobs[job_index],))

    def model_of(self, job: Job | int) -> DNNModel:
        if isinstance(job, int):
            job = self.jobs[job]
        return self.models[job.model]

    def compute_time(self, model: DNNModel | int) -> np.ndarray:
        """tau[l-1, n]: time of layer l on node n (inf where c_n = 0). Shape (L, |N|)."""
        if isinstance(model, int):
            model = self.models[model]
        cache = self.__dict__.setdefault("_tau_cache", {})
        key = id(model)
        if key not in cache:
            net = self.network
            routers = net.speed <= 0
            tau = np.full((model.num_layers, net.num_nodes), np.inf)
            tau[:, ~routers] = np.divide.outer(model.flops, net.speed[~routers])
            if model.measured_time:  # one vectorised assignment per measured device class
                classes = net.device_class_array
                for device_class, times in model.measured_time.items():
                    nodes = (classes == device_class) & ~routers
                    if nodes.any():
                        tau[:, nodes] = np.asarray(times)[:, None]
            tau.setflags(write=False)
            cache[key] = tau
        return cache[key]

    def head_time(self, model: DNNModel | int, exit_index: int) -> np.ndarray:
        """Time of exit head x on each node: h_x / c_n (inf on routers)."""
        if isinstance(model, int):
            model = self.models[model]
        speed = self.network.speed
        with np.errstate(divide="ignore"):
            t = np.where(speed > 0, model.exits[exit_index].head_flops / np.where(speed > 0, speed, 1), np.inf)
        return t

    @property
    def sizes(self) -> dict[str, int]:
        """Dimensions that benchmarks and tables group by."""
        layers = [self.model_of(j).num_layers for j in self.jobs]
        return {
            "nodes": self.network.num_nodes,
            "links": self.network.num_links,
            "compute_nodes": int(len(self.network.compute_nodes)),
            "jobs": len(self.jobs),
            "max_layers": max(layers) if layers else 0,
            "layered_arcs": int(
                sum((L + 1) * self.network.num_links + L * len(self.network.compute_nodes) for L in layers)
            ),
        }

    @property
    def hash(self) -> str:
        from instances.io import instance_hash

        cached = self.__dict__.get("_hash")
        if cached is None:
            cached = instance_hash(self)
            object.__setattr__(self, "_hash", cached)
        return cached
