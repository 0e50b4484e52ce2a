"""G = (N, A) with parallel links grouped into (i, j) pairs in CSR order: the base of the engine.

Built once per network by one compiled pass (``_jit.base_arrays``; microseconds on the
default medium instance) and cached weakly by the network; :meth:`BaseGraph.reversed` is the same graph with
every link turned round (distances *to* a node). The arrays the compiled pass reads are built
here too, eagerly, so a solve's clock can count them as build time.

The cheapest link of a pair depends on the tensor size when delays differ, so the shortest-
path pass picks it per copy on the fly (``dnnsplit.graph.shortest``); :meth:`best_link` makes
the same choice when a path is walked back.
"""

from __future__ import annotations

import weakref

import numpy as np
import scipy.sparse as sp

from instances.model import Network


class BaseGraph:
    """G with links grouped by (i, j) pair, pairs sorted by (i, j) (CSR order)."""

    def __init__(self, network: Network, reverse: bool = False):
        from dnnsplit.graph import _jit

        n = network.num_nodes
        tail = np.asarray(network.link_target if reverse else network.link_source, dtype=np.int64)
        head = np.asarray(network.link_source if reverse else network.link_target, dtype=np.int64)
        fn = _jit.base_arrays if _jit.NUMBA_ERROR == "" else getattr(_jit.base_arrays, "py_func", _jit.base_arrays)
        (self.link_order, self.group_start, self.group_stop, self.pair_tail, self.pair_head, self.indptr,
         self.inv_b_sorted, self.delay_sorted) = fn(tail, head, n, np.asarray(network.bandwidth, dtype=np.float64),
                                                    np.asarray(network.delay, dtype=np.float64))
        self.reverse = reverse
        self.num_nodes = n
        self.num_links = len(tail)
        self.num_pairs = len(self.pair_head)
        self.pair_keys = self.pair_tail * n + self.pair_head  # sorted: (i, j) pairs in CSR order
        self.has_parallel = self.num_pairs < self.num_links
        self.pair_link = self.link_order[self.group_start]  # the link of each pair without parallels
        self.zero_delay = np.zeros(self.num_links)
        self._reversed: BaseGraph | None = None
        self._network = weakref.ref(network)

    def kernel_arrays(self, with_delay: bool = True) -> tuple[np.ndarray, ...]:
        """(indptr, pair_head, pair_start, pair_stop, link ids, 1/b, delay) in pair order."""
        return (self.indptr, self.pair_head, self.group_start, self.group_stop, self.link_order,
                self.inv_b_sorted, self.delay_sorted if with_delay else self.zero_delay)

    def reversed(self) -> "BaseGraph":
        """The same network with every link reversed (cached)."""
        if self._reversed is None:
            network = self._network()
            if network is None:  # pragma: no cover - callers hold the network
                raise RuntimeError("the network of this base graph is gone")
            self._reversed = BaseGraph(network, reverse=not self.reverse)
        return self._reversed

    def pair_weights(self, link_weights: np.ndarray) -> np.ndarray:
        """Cheapest weight per pair; ``link_weights`` has shape (..., |A|)."""
        w = np.asarray(link_weights)
        if not self.has_parallel:
            return w[..., self.pair_link]
        return np.minimum.reduceat(w[..., self.link_order], self.group_start, axis=-1)

    def pair_index(self, i: np.ndarray | int, j: np.ndarray | int) -> np.ndarray:
        """Index of pair (i, j) (must exist)."""
        key = np.asarray(i, dtype=np.int64) * self.num_nodes + np.asarray(j, dtype=np.int64)
        return np.searchsorted(self.pair_keys, key)

    def best_link(self, i: int, j: int, link_weights: np.ndarray) -> int:
        """The cheapest link from i to j under ``link_weights`` (shape (|A|,)); first on ties."""
        p = int(self.pair_index(i, j))
        if p >= self.num_pairs or self.pair_keys[p] != i * self.num_nodes + j:
            raise ValueError(f"no link from node {i} to node {j}")
        links = self.link_order[self.group_start[p] : self.group_stop[p]]
        if len(links) == 1:
            return int(links[0])
        return int(links[np.argmin(link_weights[links])])

    def csr(self, weights: np.ndarray) -> sp.csr_array:
        """G as a scipy CSR matrix with per-pair ``weights`` (explicit zeros are edges)."""
        n = self.num_nodes
        return sp.csr_array((weights, self.pair_head, self.indptr), shape=(n, n))


_BASE_CACHE: "weakref.WeakKeyDictionary[Network, BaseGraph]" = weakref.WeakKeyDictionary()


def base_graph(network: Network) -> BaseGraph:
    """The (cached) :class:`BaseGraph` of ``network``."""
    g = _BASE_CACHE.get(network)
    if g is None:
        g = _BASE_CACHE[network] = BaseGraph(network)
    return g
