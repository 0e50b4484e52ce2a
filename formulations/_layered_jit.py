"""The per-copy pass of :func:`formulations._layered.layered_dijkstra`, compiled with numba.

Same algorithm as the heapq pass (``_layered._all_copies_heap``): for copy l = 0..L one
multi-source Dijkstra on G = (N, A), seeded with 0 at s (l = 0) or with
label_{l-1}(n) + tau_{l,n} at every compute node n, arc weight per (i, j) pair
min over its links of o_l / b_a + delta_a (+ link_extra[l, a]). A binary heap with lazy
deletion in preallocated arrays; memory O(|A| + L|N|) (one int32 parent per node and copy,
one label vector per copy, overwritten).

The functions compile on the first call in a process (about a second) and are cached on disk
by numba (``cache=True``); the benchmark harness excludes that through its warm-up solve.
"""

from __future__ import annotations

import numpy as np
from numba import njit

UNREACHED = -9999


@njit(cache=True, nogil=True)
def _push(keys: np.ndarray, vals: np.ndarray, size: int, key: float, val: int) -> int:
    i = size
    keys[i] = key
    vals[i] = val
    while i > 0:
        up = (i - 1) >> 1
        if keys[up] <= keys[i]:
            break
        keys[up], keys[i] = keys[i], keys[up]
        vals[up], vals[i] = vals[i], vals[up]
        i = up
    return size + 1


@njit(cache=True, nogil=True)
def _pop(keys: np.ndarray, vals: np.ndarray, size: int) -> int:
    """Remove the root (read it before calling); returns the new size."""
    size -= 1
    keys[0] = keys[size]
    vals[0] = vals[size]
    i = 0
    while True:
        left = 2 * i + 1
        if left >= size:
            break
        child = left
        if left + 1 < size and keys[left + 1] < keys[left]:
            child = left + 1
        if keys[i] <= keys[child]:
            break
        keys[child], keys[i] = keys[i], keys[child]
        vals[child], vals[i] = vals[i], vals[child]
        i = child
    return size


@njit(cache=True, nogil=True)
def all_copies(indptr: np.ndarray, pair_head: np.ndarray, pair_start: np.ndarray, pair_stop: np.ndarray,
               link_sorted: np.ndarray, inv_b_sorted: np.ndarray, delay_sorted: np.ndarray,
               link_extra: np.ndarray, sizes: np.ndarray, tau: np.ndarray, is_compute: np.ndarray,
               source: int, parent: np.ndarray) -> tuple[bool, np.ndarray]:
    """Every copy; fills ``parent`` (shape (L+1, |N|): |N| = entered from the copy below,
    -9999 = unreached) and returns (every copy reached a compute node, labels of copy L).

    Links are given sorted by (i, j) pair: pair p owns positions pair_start[p]:pair_stop[p] of
    ``link_sorted`` (link ids, for ``link_extra``), ``inv_b_sorted`` and ``delay_sorted``.
    ``link_extra`` has shape (L+1, |A|) or (0, 0) for none.
    """
    n_nodes = indptr.shape[0] - 1
    n_pairs = pair_head.shape[0]
    n_copies = sizes.shape[0]
    has_extra = link_extra.shape[0] > 0
    inf = np.inf
    w = np.empty(n_pairs)
    dist = np.full(n_nodes, inf)
    prev = np.full(n_nodes, inf)
    done = np.zeros(n_nodes, dtype=np.bool_)
    cap = n_pairs + n_nodes + 1
    keys = np.empty(cap)
    vals = np.empty(cap, dtype=np.int32)
    for copy in range(n_copies):
        size_l = sizes[copy]
        for p in range(n_pairs):
            best = inf
            for k in range(pair_start[p], pair_stop[p]):
                c = size_l * inv_b_sorted[k] + delay_sorted[k]
                if has_extra:
                    c += link_extra[copy, link_sorted[k]]
                if c < best:
                    best = c
            w[p] = best
        heap = 0
        for n in range(n_nodes):
            dist[n] = inf
            done[n] = False
            parent[copy, n] = UNREACHED
        if copy == 0:
            dist[source] = 0.0
            parent[0, source] = n_nodes
            heap = _push(keys, vals, heap, 0.0, source)
        else:
            seeded = False
            for n in range(n_nodes):
                if is_compute[n] and prev[n] < inf and tau[copy - 1, n] < inf:
                    v = prev[n] + tau[copy - 1, n]
                    dist[n] = v
                    parent[copy, n] = n_nodes
                    heap = _push(keys, vals, heap, v, n)
                    seeded = True
            if not seeded:
                return False, dist
        while heap > 0:
            d = keys[0]
            u = vals[0]
            heap = _pop(keys, vals, heap)
            if done[u]:
                continue
            done[u] = True
            for p in range(indptr[u], indptr[u + 1]):
                nd = d + w[p]
                v = pair_head[p]
                if nd < dist[v]:
                    dist[v] = nd
                    parent[copy, v] = u
                    if heap == cap:  # cannot happen: one push per improved label  # pragma: no cover
                        raise RuntimeError("heap overflow")
                    heap = _push(keys, vals, heap, nd, v)
        for n in range(n_nodes):
            prev[n] = dist[n]
    return True, dist
