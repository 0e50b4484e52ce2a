"""The shortest-path kernels of :mod:`dnnsplit.graph.shortest`, compiled with numba.

One Dijkstra core, :func:`_dijkstra`, shared by the two drivers:

- :func:`layered_pass`: copies ``first..last-1`` of the layered graph of a job (L+1 copies of
  G = (N, A); vertex (n, l) = "data at node n, layers 1..l done"): per copy one multi-source
  Dijkstra on G, seeded with the labels of copy l-1 plus the compute cost ``node_cost[l-1, n]``
  (copy 0: the labels given). The layered graph is never built: per copy the weight of each
  (i, j) pair (its cheapest link for that copy's tensor, ``sizes[l] * inv_b + delay
  (+ link_extra[l, link])``) goes into one (P,) array, overwritten by the next copy.
- :func:`many_sources`: K single-source Dijkstras for one tensor size (transfer tables).

plus :func:`one_pass_bound` (the benchmark's reference: the same weights and seeding, then one
relaxation per arc in CSR order and no queue) and :func:`warm_up`. Memory O(|A| + L|N|): the
caller's int32 parent per (copy, node), and O(|A| + |N|) work arrays here.

The queue is a monotone bucket queue (Dial): bucket q holds the nodes whose key d has
floor((d - lo) / delta) = q, lo = the copy's smallest seed; buckets are emptied in increasing q.
Two modes, chosen per copy from the smallest and largest arc weight (wmin, wmax) and the seed
range [lo, hi]:

- Safe mode, ``delta = wmin / 2``: every node of the lowest non-empty bucket already has its
  final label (a path through any node still queued costs at least wmin = two bucket widths
  more), so a bucket is emptied in any order, with no key comparison at all, and no relaxation
  lands in it meanwhile. The labels are Dijkstra's exactly: each is the minimum of
  label(u) + w(u, v) over final labels, whatever the order. Taken when the keys span at most
  ``_window(N)`` buckets (span = max(hi - lo, wmax)) and delta is far above the rounding of
  the keys (``delta > 2**-40 * (|lo| + |hi| + N * wmax)``): the one-bucket margin of the
  argument then survives floating point. (The pass is label-correcting besides: a node that
  improved after being settled would be queued and settled again.)
- Ordered mode otherwise (zero-cost arcs, weights over a very wide range, huge keys):
  ``delta = span / _window(N)``, and the bucket being emptied is an indexed 4-ary heap with
  decrease-key, so every node settled is the global minimum: plain Dijkstra, exact for any
  delta (the bucket index is monotone in the key, so every key of a later bucket is larger).

The later buckets are singly linked lists in a pool of |N| + P entries (one per seed and per
improvement: each node is settled once, so each arc relaxed once); a node moved to an earlier
bucket leaves a stale entry behind, recognised by the bucket index ``wq`` of its live one. The
buckets form a ring of 2^k >= span / delta + 4 slots, so no key lands a full turn ahead; a
bitmap of the non-empty slots (32-bit words) finds the next bucket with count-trailing-zeros.

Why this queue (1000-node Erdos-Renyi network x 150-layer chain, 1.11 M layered arcs, 850
compute nodes; ns per layered arc): the former binary heap with lazy deletion (one push per
seed and per improvement, 38 % of the pops stale) took about 23; an indexed binary heap with
decrease-key and the seeds heapified in O(n), about 10.7; the same as a 4-ary heap with a
branch-light min-of-4, about 7.5 (1000 pops per copy, ~4 sift levels each, most of the time); a radix heap over the
IEEE-754 bit patterns of the keys, about 10 (a copy's keys share their top bits: ~6 bucket
moves per node, one redistribution per pop); this bucket queue, about 5 (the copies of that
instance all run in safe mode, ~70 buckets each). Replaying only the relaxations in Dijkstra
order (no queue at all) costs about 3.4 there, the one-pass bound about 1.2 (branch-free
relaxations) to 2.0 (branching ones).

Parents: ``parent[l, n]`` = the predecessor node within copy l, ``|N|`` = entered from copy
l-1 through the compute arc (or a seed of copy 0 that kept its seed label), ``UNREACHED`` =
not reached. Ties are broken deterministically (by the input alone).

Numba compiles the functions on the first call in a process and caches them on disk
(``cache=True``); :func:`warm_up` makes that call on a tiny graph with the dtypes the callers
pass. Where numba does not import, ``NUMBA_ERROR`` says why and the same functions run in the
interpreter (same answers, far slower: about 4 ms instead of 16 us on the medium instance).
"""

from __future__ import annotations

import numpy as np

try:
    from llvmlite import ir as _ir
    from numba import njit
    from numba import types as _types
    from numba.extending import intrinsic as _intrinsic

    NUMBA_ERROR = ""
except Exception as _exc:  # noqa: BLE001  # pragma: no cover - any failure to import numba
    NUMBA_ERROR = f"{type(_exc).__name__}: {_exc}"

    def njit(*args, **kwargs):  # type: ignore[no-redef]
        """No numba: the functions run as plain Python."""
        if len(args) == 1 and callable(args[0]) and not kwargs:
            return args[0]
        return lambda fn: fn


UNREACHED = -9999
_INF = np.inf
_WORD = 5  # bitmap words of 2**_WORD = 32 bits (bit 31 at most: no int64 overflow in Python)
_GUARD = 2.0**-40  # safe mode needs wmin / 2 above this times the key magnitude
_INF_BITS = 0x7FF0000000000000  # the bit pattern of +inf

if NUMBA_ERROR == "":

    @_intrinsic
    def _ctz(typingctx, x):
        """Count trailing zeros of a non-zero int64 (llvm.cttz)."""
        sig = _types.int64(_types.int64)

        def codegen(context, builder, signature, args):
            return builder.cttz(args[0], _ir.Constant(_ir.IntType(1), 0))

        return sig, codegen

else:  # pragma: no cover

    def _ctz(x):
        x = int(x)
        return (x & -x).bit_length() - 1


@njit(cache=True, nogil=True)
def _window(n_nodes):
    """Most buckets a copy's keys may span (the ring is the next power of two above it)."""
    return min(1 << 16, max(256, 8 * n_nodes))


# ----------------------------------------------------------------------------- weights


@njit(cache=True, nogil=True)
def _one_link_per_pair(pair_start, pair_stop):
    """Whether pair p owns exactly link position p (no parallel links): the weights are then
    one vectorisable pass."""
    for p in range(pair_start.shape[0]):
        if pair_start[p] != p or pair_stop[p] != p + 1:
            return False
    return True


@njit(cache=True, nogil=True)
def _pair_weights(pair_start, pair_stop, link_sorted, inv_b_sorted, delay_sorted, extra_row, has_extra,
                  simple, size, w):
    """w[p] = min over the links of pair p of size * inv_b + delay (+ extra_row[link])."""
    n_pairs = w.shape[0]
    if simple:
        if has_extra:
            for p in range(n_pairs):
                w[p] = size * inv_b_sorted[p] + delay_sorted[p] + extra_row[link_sorted[p]]
        else:
            for p in range(n_pairs):
                w[p] = size * inv_b_sorted[p] + delay_sorted[p]
    else:
        for p in range(n_pairs):
            best = _INF
            for k in range(pair_start[p], pair_stop[p]):
                c = size * inv_b_sorted[k] + delay_sorted[k]
                if has_extra:
                    c += extra_row[link_sorted[k]]
                best = min(best, c)
            w[p] = best


@njit(cache=True, nogil=True)
def _weight_range(wbits, out, outbits):
    """(smallest, largest finite) of the weights whose bit patterns are ``wbits`` (an int64
    view of w): non-negative doubles order as their bit patterns, and an integer min/max
    vectorises where a float one (NaN rules) does not. ``out``/``outbits``: a float64 (2,)
    scratch and its int64 view, to read the two patterns back as doubles. The largest is 0
    when no weight is finite."""
    lo_bits = _INF_BITS
    hi_bits = 0
    for p in range(wbits.shape[0]):
        x = wbits[p]
        lo_bits = min(lo_bits, x)
        hi_bits = max(hi_bits, x if x < _INF_BITS else 0)
    outbits[0] = lo_bits
    outbits[1] = hi_bits
    return out[0], out[1]


# ----------------------------------------------------------------------------- 4-ary heap


@njit(cache=True, nogil=True)
def _sift_up(hkey, hnode, hpos, i, k, v):
    """Place node v with key k at hole i or above."""
    while i > 0:
        up = (i - 1) >> 2
        ku = hkey[up]
        if ku <= k:
            break
        hkey[i] = ku
        x = hnode[up]
        hnode[i] = x
        hpos[x] = i
        i = up
    hkey[i] = k
    hnode[i] = v
    hpos[v] = i


@njit(cache=True, nogil=True)
def _sift_down(hkey, hnode, hpos, i, size, k, v):
    """Place node v with key k at hole i or below (heap of ``size`` entries)."""
    while True:
        c = 4 * i + 1
        if c >= size:
            break
        if c + 3 < size:  # four children: a branch-light tournament
            k0 = hkey[c]
            k1 = hkey[c + 1]
            k2 = hkey[c + 2]
            k3 = hkey[c + 3]
            b01 = c if k0 <= k1 else c + 1
            m01 = min(k0, k1)
            b23 = c + 2 if k2 <= k3 else c + 3
            m23 = min(k2, k3)
            best = b01 if m01 <= m23 else b23
            kb = min(m01, m23)
        else:
            best = c
            kb = hkey[c]
            for j in range(c + 1, size):
                kj = hkey[j]
                if kj < kb:
                    kb = kj
                    best = j
        if kb >= k:
            break
        hkey[i] = kb
        x = hnode[best]
        hnode[i] = x
        hpos[x] = i
        i = best
    hkey[i] = k
    hnode[i] = v
    hpos[v] = i


# ----------------------------------------------------------------------------- the core


@njit(cache=True, nogil=True)
def _workspace(n_nodes, n_pairs):
    """The core's work arrays; the core leaves them as it found them (hpos, wq, bhead at -1,
    bits at 0), so one set serves every call of a driver."""
    ring = 64
    while ring < _window(n_nodes) + 5:
        ring <<= 1
    hkey = np.empty(n_nodes)
    hnode = np.empty(n_nodes, dtype=np.int32)
    hpos = np.full(n_nodes, -1, dtype=np.int32)
    wq = np.full(n_nodes, -1, dtype=np.int64)
    enode = np.empty(n_nodes + n_pairs, dtype=np.int32)
    enext = np.empty(n_nodes + n_pairs, dtype=np.int32)
    bhead = np.full(ring, -1, dtype=np.int32)
    bits = np.zeros(ring >> _WORD, dtype=np.int64)
    return hkey, hnode, hpos, wq, enode, enext, bhead, bits


@njit(cache=True, nogil=True)
def _bucket_push(enode, enext, bhead, bits, top, slot, node):
    """Entry ``top`` of the pool: ``node`` at the front of bucket ``slot``; returns the next free entry."""
    if top == enode.shape[0]:  # pragma: no cover - one entry per seed and per improvement
        raise RuntimeError("bucket queue: entry pool exhausted")
    enode[top] = node
    enext[top] = bhead[slot]
    bhead[slot] = top
    bits[slot >> _WORD] |= 1 << (slot & ((1 << _WORD) - 1))
    return top + 1


@njit(cache=True, nogil=True)
def _next_bucket(bits, cur, mask, wmask, nwords):
    """The next non-empty slot after ``cur`` on the ring (one exists): (slot, its bitmap word index)."""
    s = (cur + 1) & mask
    wi = s >> _WORD
    word = bits[wi] & (-1 << (s & ((1 << _WORD) - 1)))
    scanned = 0
    while word == 0:
        wi = (wi + 1) & wmask
        word = bits[wi]
        scanned += 1
        if scanned > nwords:  # pragma: no cover - a queued node fell off the ring
            raise RuntimeError("bucket queue: a queued node is in no bucket")
    return (wi << _WORD) | _ctz(word), wi


@njit(cache=True, nogil=True)
def _dijkstra(indptr, pair_head, w, wmin, wmax, dist, par, hkey, hnode, hpos, wq, enode, enext, bhead, bits):
    """Multi-source Dijkstra on G with pair weights ``w`` (``wmin``, ``wmax``: the smallest and
    the largest finite one). On entry ``dist`` holds the seeds (inf = not a seed); on exit the
    labels, with ``par`` the predecessor of each node (``|N|`` for a seed that kept its seed
    label, ``UNREACHED``). Returns False (and touches nothing but ``par``) when no seed is
    finite. The other arrays come from :func:`_workspace`."""
    N = dist.shape[0]
    lo = _INF
    hi = -_INF
    for n in range(N):
        d = dist[n]
        if d < _INF:
            par[n] = N
            lo = min(lo, d)
            hi = max(hi, d)
        else:
            par[n] = UNREACHED
    if not lo < _INF:
        return False

    # bucket width and mode (module docstring)
    window = _window(N)
    span = max(hi - lo, wmax)
    delta = span / window if span > 0.0 else 1.0
    safe = True  # no finite arc: the seeds are final
    if wmin < _INF:
        half = 0.5 * wmin
        safe = half >= delta and half > _GUARD * (abs(lo) + abs(hi) + N * wmax)
        if safe:
            delta = half
    inv = 1.0 / delta
    if not inv < _INF:  # subnormal width: any width is right in ordered mode
        delta = 1.0
        inv = 1.0
        safe = not wmin < _INF
    ring = 64
    while ring < span * inv + 4.0:
        ring <<= 1
    mask = ring - 1
    nwords = ring >> _WORD
    wmask = nwords - 1
    bmask = (1 << _WORD) - 1

    top = 0  # next free entry of the pool
    live = 0  # nodes with a valid bucket entry (wq >= 0)
    if safe:
        # Dial: every seed into its bucket, then empty the buckets in ring order, each in any
        # order (its nodes are final); an improved node gets a new entry in its new bucket
        for n in range(N):
            d = dist[n]
            if d < _INF:
                q = int((d - lo) * inv)
                top = _bucket_push(enode, enext, bhead, bits, top, q & mask, n)
                wq[n] = q
                live += 1
        cur = -1
        while live > 0:
            s, wi = _next_bucket(bits, cur, mask, wmask, nwords)  # one exists: live > 0
            cur += ((s - cur - 1) & mask) + 1
            e = bhead[s]
            while e >= 0:
                bhead[s] = enext[e]
                u = enode[e]
                if wq[u] == cur:  # else stale: u moved to an earlier bucket since
                    wq[u] = -1
                    live -= 1
                    du = dist[u]
                    for p in range(indptr[u], indptr[u + 1]):
                        v = pair_head[p]
                        nd = du + w[p]
                        if nd < dist[v]:
                            dist[v] = nd
                            par[v] = u
                            q = int((nd - lo) * inv)
                            if q != wq[v]:
                                if wq[v] < 0:
                                    live += 1
                                wq[v] = q
                                top = _bucket_push(enode, enext, bhead, bits, top, q & mask, v)
                e = bhead[s]
            bits[wi] &= ~(1 << (s & bmask))
    else:
        # the current bucket (index cur) is a 4-ary heap, the later ones lists as above
        hsize = 0
        for n in range(N):
            d = dist[n]
            if d < _INF:
                q = int((d - lo) * inv)
                if q == 0:
                    hkey[hsize] = d
                    hnode[hsize] = n
                    hpos[n] = hsize
                    hsize += 1
                else:
                    top = _bucket_push(enode, enext, bhead, bits, top, q & mask, n)
                    wq[n] = q
                    live += 1
        for i in range((hsize - 2) >> 2, -1, -1):
            _sift_down(hkey, hnode, hpos, i, hsize, hkey[i], hnode[i])
        cur = 0
        while True:
            if hsize == 0:
                if live == 0:
                    break
                s, wi = _next_bucket(bits, cur, mask, wmask, nwords)
                cur += ((s - cur - 1) & mask) + 1
                bits[wi] &= ~(1 << (s & bmask))
                e = bhead[s]
                bhead[s] = -1
                while e >= 0:
                    v = enode[e]
                    if wq[v] == cur:
                        wq[v] = -1
                        live -= 1
                        hkey[hsize] = dist[v]
                        hnode[hsize] = v
                        hpos[v] = hsize
                        hsize += 1
                    e = enext[e]
                if hsize == 0:
                    continue
                for i in range((hsize - 2) >> 2, -1, -1):
                    _sift_down(hkey, hnode, hpos, i, hsize, hkey[i], hnode[i])
            u = hnode[0]
            du = hkey[0]
            hpos[u] = -1
            hsize -= 1
            if hsize > 0:
                _sift_down(hkey, hnode, hpos, 0, hsize, hkey[hsize], hnode[hsize])
            for p in range(indptr[u], indptr[u + 1]):
                v = pair_head[p]
                nd = du + w[p]
                if nd < dist[v]:
                    dist[v] = nd
                    par[v] = u
                    i = hpos[v]
                    if i >= 0:  # in the current bucket: decrease-key
                        _sift_up(hkey, hnode, hpos, i, nd, v)
                        continue
                    q = int((nd - lo) * inv)
                    if q <= cur:  # joins the current bucket (q < cur cannot happen)
                        if wq[v] >= 0:
                            wq[v] = -1
                            live -= 1
                        _sift_up(hkey, hnode, hpos, hsize, nd, v)
                        hsize += 1
                    elif q != wq[v]:
                        if wq[v] < 0:
                            live += 1
                        wq[v] = q
                        top = _bucket_push(enode, enext, bhead, bits, top, q & mask, v)

    # buckets left holding stale entries only: clear them for the next call
    for wi in range(nwords):
        word = bits[wi]
        while word != 0:
            j = _ctz(word)
            bhead[(wi << _WORD) | j] = -1
            word &= word - 1
        bits[wi] = 0
    return True


# ----------------------------------------------------------------------------- drivers


@njit(cache=True, nogil=True)
def layered_pass(indptr, pair_head, pair_start, pair_stop, link_sorted, inv_b_sorted, delay_sorted,
                 link_extra, sizes, node_cost, labels, first, last, parent):
    """Copies ``first..last-1`` of the layered graph; returns False as soon as a copy has no
    finite seed.

    ``labels`` (|N|,), in/out: on entry the seeds of copy 0 (``first == 0``; inf = not a seed)
    or the final labels of copy ``first-1``; on exit the labels of copy ``last-1``.
    ``link_extra``: (L+1, |A|) indexed [copy, link id], or (0, 0) for none; ``node_cost``
    (L, |N|), inf = no compute arc; ``parent`` (L+1, |N|) int32, rows first..last-1 written.
    Links are given in pair order: pair p (head ``pair_head[p]``, tails by ``indptr``) owns
    positions ``pair_start[p]:pair_stop[p]`` of ``link_sorted`` (link ids), ``inv_b_sorted``
    and ``delay_sorted``.
    """
    n_nodes = labels.shape[0]
    n_pairs = pair_head.shape[0]
    has_extra = link_extra.shape[0] > 0
    hkey, hnode, hpos, wq, enode, enext, bhead, bits = _workspace(n_nodes, n_pairs)
    simple = _one_link_per_pair(pair_start, pair_stop)
    w = np.empty(n_pairs)
    wbits = w.view(np.int64)
    out = np.empty(2)
    outbits = out.view(np.int64)
    no_extra = np.empty(0)
    for copy in range(first, last):
        extra_row = link_extra[copy] if has_extra else no_extra
        _pair_weights(pair_start, pair_stop, link_sorted, inv_b_sorted, delay_sorted, extra_row, has_extra,
                      simple, sizes[copy], w)
        wmin, wmax = _weight_range(wbits, out, outbits)
        if copy > 0:
            for n in range(n_nodes):
                labels[n] += node_cost[copy - 1, n]
        if not _dijkstra(indptr, pair_head, w, wmin, wmax, labels, parent[copy],
                         hkey, hnode, hpos, wq, enode, enext, bhead, bits):
            return False
    return True


@njit(cache=True, nogil=True)
def many_sources(indptr, pair_head, pair_start, pair_stop, link_sorted, inv_b_sorted, delay_sorted,
                 link_extra, size, sources, dist, parent):
    """Single-source Dijkstra on G from each of ``sources`` (K,), link weight
    ``size * inv_b + delay`` (+ ``link_extra[link]`` when it has shape (|A|,); (0,) for none;
    inf = unusable): ``dist`` (K, |N|) and ``parent`` (K, |N|) int32 (predecessor node, |N| for
    the source, ``UNREACHED``)."""
    n_nodes = dist.shape[1]
    n_pairs = pair_head.shape[0]
    has_extra = link_extra.shape[0] > 0
    hkey, hnode, hpos, wq, enode, enext, bhead, bits = _workspace(n_nodes, n_pairs)
    w = np.empty(n_pairs)
    out = np.empty(2)
    simple = _one_link_per_pair(pair_start, pair_stop)
    _pair_weights(pair_start, pair_stop, link_sorted, inv_b_sorted, delay_sorted, link_extra, has_extra,
                  simple, size, w)
    wmin, wmax = _weight_range(w.view(np.int64), out, out.view(np.int64))
    for r in range(sources.shape[0]):
        row = dist[r]
        for n in range(n_nodes):
            row[n] = _INF
        row[sources[r]] = 0.0
        _dijkstra(indptr, pair_head, w, wmin, wmax, row, parent[r], hkey, hnode, hpos, wq, enode, enext, bhead, bits)


@njit(cache=True, nogil=True)
def one_pass_bound(indptr, pair_head, pair_start, pair_stop, link_sorted, inv_b_sorted, delay_sorted,
                   link_extra, sizes, node_cost, labels):
    """The benchmark's reference cost, not a shortest path: per copy the pair weights and the
    seeding exactly as :func:`layered_pass` computes them, then one relaxation per pair arc in
    CSR order (``if nd < dist[v]: dist[v] = nd``, the test a label-setting pass makes) and no
    queue (nor the weight range that sizes the queue's buckets). Returns the sum of the finite
    labels (so nothing is optimised away); ``labels`` is not modified."""
    n_nodes = labels.shape[0]
    n_pairs = pair_head.shape[0]
    has_extra = link_extra.shape[0] > 0
    simple = _one_link_per_pair(pair_start, pair_stop)
    w = np.empty(n_pairs)
    no_extra = np.empty(0)
    dist = labels.copy()
    check = 0.0
    for copy in range(sizes.shape[0]):
        extra_row = link_extra[copy] if has_extra else no_extra
        _pair_weights(pair_start, pair_stop, link_sorted, inv_b_sorted, delay_sorted, extra_row, has_extra,
                      simple, sizes[copy], w)
        if copy > 0:
            for n in range(n_nodes):
                dist[n] += node_cost[copy - 1, n]
        for u in range(n_nodes):
            du = dist[u]
            for p in range(indptr[u], indptr[u + 1]):
                v = pair_head[p]
                nd = du + w[p]
                if nd < dist[v]:
                    dist[v] = nd
    for n in range(n_nodes):
        if dist[n] < _INF:
            check += dist[n]
    return check


@njit(cache=True, nogil=True)
def walk_back(indptr, pair_head, pair_start, pair_stop, link_sorted, inv_b_sorted, delay_sorted, link_extra,
              sizes, parent, source, sink, placement, links, copies):
    """The one predecessor walk, from (sink, L) back to (source, 0) through ``parent`` (as
    :func:`layered_pass` writes it): ``placement[l-1]`` = the node of layer l; the links, last
    first, in ``links`` with their copy in ``copies`` (within a pair, the cheapest link for the
    copy's cost, first on ties, as the pass chose it). Returns how many links were written, or
    -1 when a parent is missing (not reached), -2 when the walk ends elsewhere than ``source``."""
    n_nodes = parent.shape[1]
    layer = parent.shape[0] - 1
    has_extra = link_extra.shape[0] > 0
    n = sink
    k = 0
    steps = 0
    limit = parent.shape[0] * n_nodes
    while True:
        p = parent[layer, n]
        if p == n_nodes:
            if layer == 0:
                break
            placement[layer - 1] = n
            layer -= 1
            continue
        if p < 0 or steps > limit:
            return -1
        q = -1
        for r in range(indptr[p], indptr[p + 1]):
            if pair_head[r] == n:
                q = r
                break
        if q < 0:
            return -1
        best = link_sorted[pair_start[q]]
        if pair_stop[q] - pair_start[q] > 1:
            cost = _INF
            for s in range(pair_start[q], pair_stop[q]):
                c = sizes[layer] * inv_b_sorted[s] + delay_sorted[s]
                if has_extra:
                    c += link_extra[layer, link_sorted[s]]
                if c < cost:
                    cost = c
                    best = link_sorted[s]
        links[k] = best
        copies[k] = layer
        k += 1
        n = p
        steps += 1
    if n != source:
        return -2
    return k


@njit(cache=True, nogil=True)
def shortest_path(indptr, pair_head, pair_start, pair_stop, link_sorted, inv_b_sorted, delay_sorted, link_extra,
                  sizes, node_cost, labels, parent, source, sink, placement, links, copies):
    """:func:`layered_pass` over every copy, then :func:`walk_back` from (sink, L), in one call
    (one dispatch: what a single shortest path costs from Python). Returns the number of links
    written, or -3 when (sink, L) is not reached; -1/-2 as :func:`walk_back`."""
    if not layered_pass(indptr, pair_head, pair_start, pair_stop, link_sorted, inv_b_sorted, delay_sorted,
                        link_extra, sizes, node_cost, labels, 0, sizes.shape[0], parent):
        return -3
    if not labels[sink] < _INF:
        return -3
    return walk_back(indptr, pair_head, pair_start, pair_stop, link_sorted, inv_b_sorted, delay_sorted, link_extra,
                     sizes, parent, source, sink, placement, links, copies)


@njit(cache=True, nogil=True)
def base_arrays(tail, head, n_nodes, bandwidth, delay):
    """G's links grouped by (i, j) pair in CSR order, in one compiled pass (the base graph's
    arrays): (link ids in pair order, pair start, pair stop, pair tail, pair head, CSR row
    pointer, 1 / b and delta in pair order). Links of a pair keep their input order."""
    n_links = tail.shape[0]
    keys = tail * n_nodes + head
    order = np.argsort(keys, kind="mergesort")
    starts = np.empty(n_links, np.int64)
    n_pairs = 0
    for k in range(n_links):
        if k == 0 or keys[order[k]] != keys[order[k - 1]]:
            starts[n_pairs] = k
            n_pairs += 1
    pair_start = starts[:n_pairs].copy()
    pair_stop = np.empty(n_pairs, np.int64)
    pair_tail = np.empty(n_pairs, np.int64)
    pair_head = np.empty(n_pairs, np.int64)
    for p in range(n_pairs):
        pair_stop[p] = pair_start[p + 1] if p + 1 < n_pairs else n_links
        link = order[pair_start[p]]
        pair_tail[p] = tail[link]
        pair_head[p] = head[link]
    indptr = np.zeros(n_nodes + 1, np.int64)
    for p in range(n_pairs):
        indptr[pair_tail[p] + 1] += 1
    for n in range(n_nodes):
        indptr[n + 1] += indptr[n]
    inv_b = np.empty(n_links)
    dly = np.empty(n_links)
    for k in range(n_links):
        inv_b[k] = 1.0 / bandwidth[order[k]]
        dly[k] = delay[order[k]]
    return order, pair_start, pair_stop, pair_tail, pair_head, indptr, inv_b, dly


def warm_up() -> None:
    """Compile (or load from numba's disk cache) every kernel with the dtypes the callers pass:
    C-contiguous writable int64 index arrays, float64 costs, int32 parents, both shapes of
    ``link_extra``. A two-node graph with a pair of parallel links each way."""
    i64, f64 = np.int64, np.float64
    indptr = np.array([0, 1, 2], i64)
    pair_head = np.array([1, 0], i64)
    pair_start = np.array([0, 2], i64)
    pair_stop = np.array([2, 4], i64)
    link_sorted = np.array([0, 2, 1, 3], i64)
    inv_b = np.array([1.0, 0.5, 1.0, 0.5], f64)
    delay = np.array([0.1, 0.2, 0.1, 0.2], f64)
    sizes = np.array([1.0, 2.0], f64)
    node_cost = np.array([[1.0, np.inf]], f64)
    for extra in (np.zeros((0, 0), f64), np.zeros((2, 4), f64)):
        labels = np.array([0.0, np.inf], f64)
        parent = np.empty((2, 2), np.int32)
        layered_pass(indptr, pair_head, pair_start, pair_stop, link_sorted, inv_b, delay, extra, sizes,
                     node_cost, labels, 0, 1, parent)
        layered_pass(indptr, pair_head, pair_start, pair_stop, link_sorted, inv_b, delay, extra, sizes,
                     node_cost, labels, 1, 2, parent)
        one_pass_bound(indptr, pair_head, pair_start, pair_stop, link_sorted, inv_b, delay, extra, sizes,
                       node_cost, np.array([0.0, np.inf], f64))
        walk_back(indptr, pair_head, pair_start, pair_stop, link_sorted, inv_b, delay, extra, sizes, parent, 0, 1,
                  np.empty(1, i64), np.empty(4, i64), np.empty(4, i64))
        shortest_path(indptr, pair_head, pair_start, pair_stop, link_sorted, inv_b, delay, extra, sizes, node_cost,
                      np.array([0.0, np.inf], f64), np.empty((2, 2), np.int32), 0, 1, np.empty(1, i64),
                      np.empty(4, i64), np.empty(4, i64))
    base_arrays(np.array([0, 0, 1, 1], i64), np.array([1, 1, 0, 0], i64), 2, np.ones(4), np.zeros(4))
    for extra in (np.zeros(0, f64), np.zeros(4, f64)):
        dist = np.empty((1, 2), f64)
        parent = np.empty((1, 2), np.int32)
        many_sources(indptr, pair_head, pair_start, pair_stop, link_sorted, inv_b, delay, extra, 1.0,
                     np.array([0], i64), dist, parent)
