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


# ----------------------------------------------------------------------------- columns (F3 pricing)
#
# Arc numbering of a job's layered graph (``dnnsplit.graph.layered.LayeredGraph``): communication
# arc ``l*|A| + a`` (copy l, link a), then computation arc ``(L+1)|A| + (l-1)|C| + k`` (layer l on
# the k-th compute node). A *column* is one source-sink path written in that numbering in
# canonical order (its communication arcs in path order, then its computation arcs by layer),
# with its summed loads per resource (rows of a CSC matrix R, arcs x resources), its summed
# latency and objective coefficients. The drivers below price (a layered pass, or resource-
# constrained labels) and extract the columns of many jobs in one compiled call.


@njit(cache=True, nogil=True)
def _pairwise_block(a, lo, n):
    """numpy's pairwise summation of a block of n <= 128 values a[lo:lo+n]: sequential below 8,
    else 8 partial sums combined as ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7)), then the rest."""
    if n < 8:
        res = 0.0
        for i in range(n):
            res += a[lo + i]
        return res
    r0 = a[lo]
    r1 = a[lo + 1]
    r2 = a[lo + 2]
    r3 = a[lo + 3]
    r4 = a[lo + 4]
    r5 = a[lo + 5]
    r6 = a[lo + 6]
    r7 = a[lo + 7]
    i = 8
    stop = n - (n % 8)
    while i < stop:
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@njit(cache=True, nogil=True)
def _pairwise_sum(a, lo, n):
    """numpy's pairwise summation of a[lo:lo+n] (``np.add.reduce`` on a contiguous float64
    array: blocks of at most 128, larger ranges split in two halves, the first a multiple of
    8), so compiled and numpy sums agree to the last bit. The recursion is unrolled into an
    explicit stack (numba's disk cache does not take recursive functions)."""
    if n <= 128:
        return _pairwise_block(a, lo, n)
    st_lo = np.empty(64, dtype=np.int64)
    st_n = np.empty(64, dtype=np.int64)
    st_stage = np.zeros(64, dtype=np.int64)
    st_left = np.empty(64)
    top = 0
    st_lo[0] = lo
    st_n[0] = n
    ret = 0.0
    while top >= 0:
        m = st_n[top]
        if m <= 128:
            ret = _pairwise_block(a, st_lo[top], m)
            top -= 1
            continue
        n2 = m // 2
        n2 -= n2 % 8
        stage = st_stage[top]
        if stage == 0:
            st_stage[top] = 1
            top += 1
            st_lo[top] = st_lo[top - 1]
            st_n[top] = n2
            st_stage[top] = 0
        elif stage == 1:
            st_left[top] = ret
            st_stage[top] = 2
            top += 1
            st_lo[top] = st_lo[top - 1] + n2
            st_n[top] = m - n2
            st_stage[top] = 0
        else:
            ret = st_left[top] + ret
            top -= 1
    return ret


@njit(cache=True, nogil=True)
def _grow(a, need):
    """``a`` if it holds ``need`` entries, else a copy at least twice as long (same dtype)."""
    if need <= a.shape[0]:
        return a
    b = np.empty(max(need, 2 * a.shape[0]), dtype=a.dtype)
    b[: a.shape[0]] = a
    return b


_grow_int = _grow_float = _grow  # one generic kernel; the names say what the call sites grow


@njit(cache=True, nogil=True)
def _arc_costs(base, lat0, alpha, beta, forb_arc, f0, f1, n_links, comp_nodes, link_cost, node_cost,
               link_lat, node_lat):
    """One job's costs alpha * base + beta * lat0 per arc as (L+1, |A|) link and (L, |N|) node
    arrays (inf: no arc), arcs ``forb_arc[f0:f1]`` pruned; with ``link_lat`` of shape (L+1, |A|)
    the latencies ``lat0`` too (pruned where the cost is)."""
    L1 = link_cost.shape[0]
    L = L1 - 1
    C = comp_nodes.shape[0]
    nc = L1 * n_links
    with_lat = link_lat.shape[0] > 0
    for l in range(L1):
        for a in range(n_links):
            e = l * n_links + a
            link_cost[l, a] = alpha * base[e] + beta * lat0[e]
            if with_lat:
                link_lat[l, a] = lat0[e] if link_cost[l, a] < _INF else _INF
    for l in range(L):
        for n in range(node_cost.shape[1]):
            node_cost[l, n] = _INF
            if with_lat:
                node_lat[l, n] = _INF
        for k in range(C):
            e = nc + l * C + k
            node_cost[l, comp_nodes[k]] = alpha * base[e] + beta * lat0[e]
            if with_lat and node_cost[l, comp_nodes[k]] < _INF:
                node_lat[l, comp_nodes[k]] = lat0[e]
    for i in range(f0, f1):
        e = forb_arc[i]
        if e < nc:
            link_cost[e // n_links, e % n_links] = _INF
            if with_lat:
                link_lat[e // n_links, e % n_links] = _INF
        else:
            r = e - nc
            node_cost[r // C, comp_nodes[r % C]] = _INF
            if with_lat:
                node_lat[r // C, comp_nodes[r % C]] = _INF


@njit(cache=True, nogil=True)
def _emit_column(arcs, n_arcs, lam, R_indptr, R_indices, R_data, lat_arc, obj_arc, acc, mark, touched, scratch,
                 q, k, col_q, arc_ptr, out_arcs, res_ptr, out_res, out_vals, out_lat, out_obj):
    """Append column k (of job slot q, arcs ``arcs[:n_arcs]``) to the output arrays: its arcs,
    its resources (ascending) with the loads summed in arc order, then times ``lam`` (as
    ``np.bincount(...) * lam``), and the pairwise sums of its latency and objective
    coefficients (as ``x[arcs].sum()``). Returns the (possibly grown) output arrays."""
    a0 = arc_ptr[k]
    col_q = _grow_int(col_q, k + 1)
    arc_ptr = _grow_int(arc_ptr, k + 2)
    res_ptr = _grow_int(res_ptr, k + 2)
    out_lat = _grow_float(out_lat, k + 1)
    out_obj = _grow_float(out_obj, k + 1)
    out_arcs = _grow_int(out_arcs, a0 + n_arcs)
    t = 0
    for i in range(n_arcs):
        e = arcs[i]
        out_arcs[a0 + i] = e
        for p in range(R_indptr[e], R_indptr[e + 1]):
            r = R_indices[p]
            if mark[r] == 0:
                mark[r] = 1
                acc[r] = 0.0
                touched[t] = r
                t += 1
            acc[r] += R_data[p]
    rows = np.sort(touched[:t])
    r0 = res_ptr[k]
    out_res = _grow_int(out_res, r0 + t)
    out_vals = _grow_float(out_vals, r0 + t)
    for i in range(t):
        r = rows[i]
        out_res[r0 + i] = r
        out_vals[r0 + i] = acc[r] * lam
        mark[r] = 0
    for i in range(n_arcs):
        scratch[i] = lat_arc[arcs[i]]
    out_lat[k] = _pairwise_sum(scratch, 0, n_arcs)
    for i in range(n_arcs):
        scratch[i] = obj_arc[arcs[i]]
    out_obj[k] = _pairwise_sum(scratch, 0, n_arcs)
    col_q[k] = q
    arc_ptr[k + 1] = a0 + n_arcs
    res_ptr[k + 1] = r0 + t
    return col_q, arc_ptr, out_arcs, res_ptr, out_res, out_vals, out_lat, out_obj


@njit(cache=True, nogil=True)
def _column_buffers(n_q, L, n_res):
    """Scratch and output arrays of the column-emitting kernels (:func:`_emit_column` grows the
    outputs): (acc, mark, touched, col_q, arc_ptr, out_arcs, res_ptr, out_res, out_vals,
    out_lat, out_obj)."""
    k = max(n_q, 1)
    return (np.zeros(n_res), np.zeros(n_res, dtype=np.int8), np.empty(n_res, dtype=np.int64),
            np.empty(k, dtype=np.int64), np.zeros(k + 1, dtype=np.int64), np.empty(k * (L + 8), dtype=np.int64),
            np.zeros(k + 1, dtype=np.int64), np.empty(k * (L + 8), dtype=np.int64), np.empty(k * (L + 8)),
            np.empty(k), np.empty(k))


@njit(cache=True, nogil=True)
def _columns_out(k, col_q, arc_ptr, out_arcs, res_ptr, out_res, out_vals, out_lat, out_obj):
    """The first k emitted columns, trimmed copies: the kernels' common return value."""
    return (k, col_q[:k].copy(), arc_ptr[: k + 1].copy(), out_arcs[: arc_ptr[k]].copy(), res_ptr[: k + 1].copy(),
            out_res[: res_ptr[k]].copy(), out_vals[: res_ptr[k]].copy(), out_lat[:k].copy(), out_obj[:k].copy())


@njit(cache=True, nogil=True)
def _bound_buffers(L, N, n_links):
    """Arrays of the searches bounded by reverse passes (cost and latency to the sink):
    (link_cost, node_cost, link_lat, node_lat, rev_link, rev_node, lb_cost, lb_lat, labels, parent)."""
    L1 = L + 1
    return (np.empty((L1, n_links)), np.empty((L, N)), np.empty((L1, n_links)), np.empty((L, N)),
            np.empty((L1, n_links)), np.empty((L, N)), np.empty((L1, N)), np.empty((L1, N)), np.empty(N),
            np.empty((L1, N), dtype=np.int32))


@njit(cache=True, nogil=True)
def _sink_bounds(rindptr, rpair_head, rpair_start, rpair_stop, rlink_sorted, rinv_b_sorted, zero_delay,
                 link_cost, node_cost, link_lat, node_lat, sink, rev_link, rev_node, labels, parent, lb_cost, lb_lat):
    """Cheapest cost and cheapest latency from every vertex to (sink, L): two reverse passes."""
    _reverse_bounds(rindptr, rpair_head, rpair_start, rpair_stop, rlink_sorted, rinv_b_sorted, zero_delay,
                    link_cost, node_cost, sink, rev_link, rev_node, labels, parent, lb_cost)
    _reverse_bounds(rindptr, rpair_head, rpair_start, rpair_stop, rlink_sorted, rinv_b_sorted, zero_delay,
                    link_lat, node_lat, sink, rev_link, rev_node, labels, parent, lb_lat)


@njit(cache=True, nogil=True)
def _new_label(lab_vertex, lab_cost, lab_lat, lab_pred, lab_arc, n_lab, vertex, cost, lat, pred, arc):
    """Store label ``n_lab`` (grown arrays returned)."""
    if n_lab == lab_vertex.shape[0]:
        lab_vertex = _grow_int(lab_vertex, n_lab + 1)
        lab_cost = _grow_float(lab_cost, n_lab + 1)
        lab_lat = _grow_float(lab_lat, n_lab + 1)
        lab_pred = _grow_int(lab_pred, n_lab + 1)
        lab_arc = _grow_int(lab_arc, n_lab + 1)
    lab_vertex[n_lab] = vertex
    lab_cost[n_lab] = cost
    lab_lat[n_lab] = lat
    lab_pred[n_lab] = pred
    lab_arc[n_lab] = arc
    return lab_vertex, lab_cost, lab_lat, lab_pred, lab_arc


@njit(cache=True, nogil=True)
def price_paths(indptr, pair_head, pair_start, pair_stop, link_sorted, inv_b_sorted, zero_delay,
                base, lat0, n_links, comp_nodes, compute_pos,
                pass_source, pass_alpha, pass_beta, forb_ptr, forb_arc, pass_jobs,
                job_sink, job_mult, job_acc, job_sigma, job_lam, thr,
                R_indptr, R_indices, R_data, lat_arc, obj_arc, n_res, value):
    """Price and extract columns for many jobs of one layered graph in one call.

    Pass p (source ``pass_source[p]``) runs :func:`layered_pass` on the arc costs
    ``pass_alpha[p] * base + pass_beta[p] * lat0`` with arcs ``forb_arc[forb_ptr[p]:forb_ptr[p+1]]``
    pruned; the jobs ``pass_jobs[p]:pass_jobs[p+1]`` (slots q, consecutive) read their value
    ``value[q] = job_mult[q] * label(sink, L) - job_acc[q]`` from it (inf: not reached), and
    a job whose reduced cost ``value[q] - job_sigma[q]`` is below ``-thr`` gets its path walked
    back (:func:`walk_back`, the engine's one walk) and emitted as a column (:func:`_emit_column`,
    loads times ``job_lam[q]``). Returns (count, slot, arc_ptr, arcs, res_ptr, res, vals,
    latency, objective) of the columns, in slot order."""
    N = compute_pos.shape[0]
    C = comp_nodes.shape[0]
    m = base.shape[0]  # (L+1)|A| + L|C| arcs
    L = (m - n_links) // (n_links + C)
    L1 = L + 1
    nc = L1 * n_links
    link_cost = np.empty((L1, n_links))
    node_cost = np.empty((L, N))
    no_lat = np.empty((0, 0))
    sizes0 = np.zeros(L1)
    labels = np.empty(N)
    parent = np.empty((L1, N), dtype=np.int32)
    placement = np.empty(max(L, 1), dtype=np.int64)
    cap = L1 * N + 1
    links = np.empty(cap, dtype=np.int64)
    copies = np.empty(cap, dtype=np.int64)
    arcs = np.empty(cap + L, dtype=np.int64)
    scratch = np.empty(cap + L)
    n_q = job_sink.shape[0]
    acc, mark, touched, col_q, arc_ptr, out_arcs, res_ptr, out_res, out_vals, out_lat, out_obj = \
        _column_buffers(n_q, L, n_res)
    k = 0
    for p in range(pass_source.shape[0]):
        _arc_costs(base, lat0, pass_alpha[p], pass_beta[p], forb_arc, forb_ptr[p], forb_ptr[p + 1], n_links,
                   comp_nodes, link_cost, node_cost, no_lat, no_lat)
        for n in range(N):
            labels[n] = _INF
        src = pass_source[p]
        labels[src] = 0.0
        ok = layered_pass(indptr, pair_head, pair_start, pair_stop, link_sorted, inv_b_sorted, zero_delay,
                          link_cost, sizes0, node_cost, labels, 0, L1, parent)
        for q in range(pass_jobs[p], pass_jobs[p + 1]):
            lab = labels[job_sink[q]] if ok else _INF
            val = job_mult[q] * lab - job_acc[q]
            value[q] = val
            if not lab < _INF:
                continue
            rc = val - job_sigma[q]
            if not rc < -thr:
                continue
            nl = walk_back(indptr, pair_head, pair_start, pair_stop, link_sorted, inv_b_sorted, zero_delay,
                           link_cost, sizes0, parent, src, job_sink[q], placement, links, copies)
            if nl < 0:  # pragma: no cover - a reached sink always walks back
                raise RuntimeError("price_paths: the walk from a reached sink failed")
            n_arcs = 0
            for i in range(nl - 1, -1, -1):
                arcs[n_arcs] = copies[i] * n_links + links[i]
                n_arcs += 1
            for l in range(L):
                arcs[n_arcs] = nc + l * C + compute_pos[placement[l]]
                n_arcs += 1
            col_q, arc_ptr, out_arcs, res_ptr, out_res, out_vals, out_lat, out_obj = _emit_column(
                arcs, n_arcs, job_lam[q], R_indptr, R_indices, R_data, lat_arc, obj_arc, acc, mark, touched, scratch,
                q, k, col_q, arc_ptr, out_arcs, res_ptr, out_res, out_vals, out_lat, out_obj)
            k += 1
    return _columns_out(k, col_q, arc_ptr, out_arcs, res_ptr, out_res, out_vals, out_lat, out_obj)


@njit(cache=True, nogil=True)
def _reverse_bounds(rindptr, rpair_head, rpair_start, rpair_stop, rlink_sorted, rinv_b_sorted, zero_delay,
                    link_cost, node_cost, sink, rev_link, rev_node, labels, parent, out):
    """Cost from every vertex (n, l) to (sink, L) under ``link_cost``/``node_cost``, shape
    (L+1, |N|) in ``out`` (inf: out of reach): the layered pass on the reversed graph (its
    kernel arrays ``r*``), copies taken from L down to 0, as ``shortest.reverse_labels``."""
    L1 = link_cost.shape[0]
    L = L1 - 1
    N = labels.shape[0]
    for k in range(L1):
        for a in range(link_cost.shape[1]):
            rev_link[k, a] = link_cost[L - k, a]
    for k in range(L):
        for n in range(N):
            rev_node[k, n] = node_cost[L - 1 - k, n]
    for n in range(N):
        labels[n] = _INF
        for l in range(L1):
            out[l, n] = _INF
    labels[sink] = 0.0
    sizes0 = np.zeros(L1)
    for k in range(L1):
        if not layered_pass(rindptr, rpair_head, rpair_start, rpair_stop, rlink_sorted, rinv_b_sorted, zero_delay,
                            rev_link, sizes0, rev_node, labels, k, k + 1, parent):
            break
        for n in range(N):
            out[L - k, n] = labels[n]


@njit(cache=True, nogil=True)
def _label_push(hkey, hlab, size, key, lab):
    if size == hkey.shape[0]:
        hkey = _grow_float(hkey, size + 1)
        hlab = _grow_int(hlab, size + 1)
    i = size
    while i > 0:
        up = (i - 1) >> 1
        if hkey[up] <= key:
            break
        hkey[i] = hkey[up]
        hlab[i] = hlab[up]
        i = up
    hkey[i] = key
    hlab[i] = lab
    return hkey, hlab, size + 1


@njit(cache=True, nogil=True)
def _label_pop(hkey, hlab, size):
    """Remove the minimum of a binary heap of ``size`` entries; returns (key, label, size)."""
    key = hkey[0]
    lab = hlab[0]
    size -= 1
    if size > 0:
        k = hkey[size]
        v = hlab[size]
        i = 0
        while True:
            c = 2 * i + 1
            if c >= size:
                break
            if c + 1 < size and hkey[c + 1] < hkey[c]:
                c += 1
            if hkey[c] >= k:
                break
            hkey[i] = hkey[c]
            hlab[i] = hlab[c]
            i = c
        hkey[i] = k
        hlab[i] = v
    return key, lab, size


@njit(cache=True, nogil=True)
def constrained_paths(indptr, pair_head, pair_start, pair_stop, link_sorted, inv_b_sorted, zero_delay,
                      rindptr, rpair_head, rpair_start, rpair_stop, rlink_sorted, rinv_b_sorted,
                      out_ptr, out_link, link_head,
                      base, lat0, n_links, comp_nodes, compute_pos,
                      job_source, job_sink, job_alpha, job_beta, forb_ptr, forb_arc, job_limit,
                      job_acc, job_sigma, job_lam, thr, max_labels,
                      R_indptr, R_indices, R_data, lat_arc, obj_arc, n_res, value, labels_used):
    """Resource-constrained shortest paths (latency the resource), exact, with dominance.

    Job q: arc costs ``job_alpha[q] * base + job_beta[q] * lat0`` (arcs of ``forb_arc`` in
    ``forb_ptr[q]:forb_ptr[q+1]`` pruned), latency ``lat0``; the cheapest source-sink path whose
    latency is at most ``job_limit[q]``. Label setting in the order of key = cost + (cheapest
    cost to the sink), an A* order with a consistent bound (reverse layered passes through the
    one Dijkstra core give the cost and the latency to the sink of every vertex). A label is
    (vertex, cost, latency, predecessor); labels leave the queue in key order, so at one vertex
    in cost order: a label is kept only if its latency is below that of every label kept there
    before (those cost no more: dominance), and partial paths that cannot reach the sink within
    the limit are never queued. The first sink label taken is optimal. The search also stops
    when the key reaches the job's reduced-cost zero (``key - job_acc - job_sigma >= 0``): then
    ``value[q]`` is that key minus ``job_acc[q]``, a lower bound of the value (no column prices
    out). ``value[q]`` is inf when no path meets the limit. A column is emitted as in
    :func:`price_paths` when its reduced cost is below ``-thr``. ``labels_used[q]``: labels
    created (-1: more than ``max_labels``, the job is left unpriced with value -inf).
    Parallel links are separate arcs here (their cost and latency differ)."""
    N = compute_pos.shape[0]
    C = comp_nodes.shape[0]
    m = base.shape[0]
    L = (m - n_links) // (n_links + C)
    L1 = L + 1
    nc = L1 * n_links
    V = L1 * N
    (link_cost, node_cost, link_lat, node_lat, rev_link, rev_node, lb_cost, lb_lat, labels,
     parent) = _bound_buffers(L, N, n_links)
    minlat = np.empty(V)
    cap = V + L + 1
    arcs = np.empty(cap, dtype=np.int64)
    chain = np.empty(cap, dtype=np.int64)
    scratch = np.empty(cap)
    n_q = job_sink.shape[0]
    acc, mark, touched, col_q, arc_ptr, out_arcs, res_ptr, out_res, out_vals, out_lat, out_obj = \
        _column_buffers(n_q, L, n_res)
    lab_vertex = np.empty(1024, dtype=np.int64)
    lab_cost = np.empty(1024)
    lab_lat = np.empty(1024)
    lab_pred = np.empty(1024, dtype=np.int64)
    lab_arc = np.empty(1024, dtype=np.int64)
    hkey = np.empty(1024)
    hlab = np.empty(1024, dtype=np.int64)
    k = 0
    for q in range(n_q):
        _arc_costs(base, lat0, job_alpha[q], job_beta[q], forb_arc, forb_ptr[q], forb_ptr[q + 1], n_links,
                   comp_nodes, link_cost, node_cost, link_lat, node_lat)
        sink = job_sink[q]
        _sink_bounds(rindptr, rpair_head, rpair_start, rpair_stop, rlink_sorted, rinv_b_sorted, zero_delay,
                     link_cost, node_cost, link_lat, node_lat, sink, rev_link, rev_node, labels, parent, lb_cost, lb_lat)
        src = job_source[q]
        limit = job_limit[q]
        value[q] = _INF
        labels_used[q] = 0
        if not (lb_cost[0, src] < _INF and lb_lat[0, src] <= limit):
            continue
        for v in range(V):
            minlat[v] = _INF
        n_lab = 1
        lab_vertex[0] = src
        lab_cost[0] = 0.0
        lab_lat[0] = 0.0
        lab_pred[0] = -1
        lab_arc[0] = -1
        size = 0
        hkey, hlab, size = _label_push(hkey, hlab, size, lb_cost[0, src], 0)
        found = -1
        over = False
        while size > 0:
            key, lab, size = _label_pop(hkey, hlab, size)
            if (key - job_acc[q]) - job_sigma[q] >= 0.0:  # no path left prices out: key bounds the value
                value[q] = key - job_acc[q]
                break
            v = lab_vertex[lab]
            lt = lab_lat[lab]
            if not lt < minlat[v]:
                continue  # dominated by a label kept at v (no more cost, no more latency)
            minlat[v] = lt
            l = v // N
            n = v - l * N
            if l == L and n == sink:
                found = lab
                break
            c = lab_cost[lab]
            for i in range(out_ptr[n], out_ptr[n + 1]):
                a = out_link[i]
                w = link_cost[l, a]
                if not w < _INF:
                    continue
                h = link_head[a]
                u = l * N + h
                nlt = lt + link_lat[l, a]
                if not (nlt < minlat[u] and nlt + lb_lat[l, h] <= limit and lb_cost[l, h] < _INF):
                    continue
                nc_ = c + w
                lab_vertex, lab_cost, lab_lat, lab_pred, lab_arc = _new_label(
                    lab_vertex, lab_cost, lab_lat, lab_pred, lab_arc, n_lab, u, nc_, nlt, lab, l * n_links + a)
                hkey, hlab, size = _label_push(hkey, hlab, size, nc_ + lb_cost[l, h], n_lab)
                n_lab += 1
            if l < L:
                w = node_cost[l, n]
                if w < _INF:
                    u = (l + 1) * N + n
                    nlt = lt + node_lat[l, n]
                    if nlt < minlat[u] and nlt + lb_lat[l + 1, n] <= limit and lb_cost[l + 1, n] < _INF:
                        nc_ = c + w
                        lab_vertex, lab_cost, lab_lat, lab_pred, lab_arc = _new_label(
                            lab_vertex, lab_cost, lab_lat, lab_pred, lab_arc, n_lab, u, nc_, nlt, lab,
                            nc + l * C + compute_pos[n])
                        hkey, hlab, size = _label_push(hkey, hlab, size, nc_ + lb_cost[l + 1, n], n_lab)
                        n_lab += 1
            if n_lab > max_labels:
                over = True
                break
        labels_used[q] = -1 if over else n_lab
        if over:
            value[q] = -_INF
            continue
        if found < 0:
            continue
        val = lab_cost[found] - job_acc[q]
        value[q] = val
        if not val - job_sigma[q] < -thr:
            continue
        # the label chain, last arc first -> canonical order (links in path order, then compute arcs)
        n_arcs = 0
        lab = found
        while lab_pred[lab] >= 0:
            chain[n_arcs] = lab_arc[lab]
            n_arcs += 1
            lab = lab_pred[lab]
        n_comm = 0
        for i in range(n_arcs):
            if chain[i] < nc:
                n_comm += 1
        ci = 0
        pi = n_comm
        for i in range(n_arcs - 1, -1, -1):
            e = chain[i]
            if e < nc:
                arcs[ci] = e
                ci += 1
            else:
                arcs[pi] = e
                pi += 1
        col_q, arc_ptr, out_arcs, res_ptr, out_res, out_vals, out_lat, out_obj = _emit_column(
            arcs, n_arcs, job_lam[q], R_indptr, R_indices, R_data, lat_arc, obj_arc, acc, mark, touched, scratch,
            q, k, col_q, arc_ptr, out_arcs, res_ptr, out_res, out_vals, out_lat, out_obj)
        k += 1
    return _columns_out(k, col_q, arc_ptr, out_arcs, res_ptr, out_res, out_vals, out_lat, out_obj)


@njit(cache=True, nogil=True)
def fix_arcs(indptr, pair_head, pair_start, pair_stop, link_sorted, inv_b_sorted, zero_delay,
             rindptr, rpair_head, rpair_start, rpair_stop, rlink_sorted, rinv_b_sorted,
             link_tail, link_head, base, lat0, n_links, comp_nodes,
             pass_source, pass_alpha, pass_beta, forb_ptr, forb_arc, pass_jobs,
             job_sink, job_mult, job_acc, job_limit):
    """Reduced-cost arc fixing: the arcs e whose cheapest source-sink path through e has value
    ``job_mult * (F(tail) + cost(e) + B(head)) - job_acc >= job_limit`` (F: the layered pass's
    labels from the source, copy by copy; B: the reverse pass's labels to the sink). Passes and
    job slots as :func:`price_paths`. Arcs already pruned are not listed. Returns (slot, arc)
    pairs as two arrays."""
    N = indptr.shape[0] - 1
    C = comp_nodes.shape[0]
    m = base.shape[0]
    L = (m - n_links) // (n_links + C)
    L1 = L + 1
    nc = L1 * n_links
    link_cost = np.empty((L1, n_links))
    node_cost = np.empty((L, N))
    no_lat = np.empty((0, 0))
    sizes0 = np.zeros(L1)
    labels = np.empty(N)
    parent = np.empty((L1, N), dtype=np.int32)
    fwd = np.empty((L1, N))
    bwd = np.empty((L1, N))
    rev_link = np.empty((L1, n_links))
    rev_node = np.empty((L, N))
    out_q = np.empty(1024, dtype=np.int64)
    out_e = np.empty(1024, dtype=np.int64)
    k = 0
    for p in range(pass_source.shape[0]):
        _arc_costs(base, lat0, pass_alpha[p], pass_beta[p], forb_arc, forb_ptr[p], forb_ptr[p + 1], n_links,
                   comp_nodes, link_cost, node_cost, no_lat, no_lat)
        for n in range(N):
            labels[n] = _INF
            for l in range(L1):
                fwd[l, n] = _INF
        labels[pass_source[p]] = 0.0
        for l in range(L1):
            if not layered_pass(indptr, pair_head, pair_start, pair_stop, link_sorted, inv_b_sorted, zero_delay,
                                link_cost, sizes0, node_cost, labels, l, l + 1, parent):
                break
            for n in range(N):
                fwd[l, n] = labels[n]
        for q in range(pass_jobs[p], pass_jobs[p + 1]):
            _reverse_bounds(rindptr, rpair_head, rpair_start, rpair_stop, rlink_sorted, rinv_b_sorted, zero_delay,
                            link_cost, node_cost, job_sink[q], rev_link, rev_node, labels, parent, bwd)
            lim = job_limit[q]
            mult = job_mult[q]
            acc = job_acc[q]
            need = k + m
            out_q = _grow_int(out_q, need)
            out_e = _grow_int(out_e, need)
            for l in range(L1):
                for a in range(n_links):
                    c = link_cost[l, a]
                    if not c < _INF:
                        continue
                    through = fwd[l, link_tail[a]] + c + bwd[l, link_head[a]]
                    if not mult * through - acc < lim:
                        out_q[k] = q
                        out_e[k] = l * n_links + a
                        k += 1
            for l in range(L):
                for i in range(C):
                    n = comp_nodes[i]
                    c = node_cost[l, n]
                    if not c < _INF:
                        continue
                    through = fwd[l, n] + c + bwd[l + 1, n]
                    if not mult * through - acc < lim:
                        out_q[k] = q
                        out_e[k] = nc + l * C + i
                        k += 1
    return out_q[:k].copy(), out_e[:k].copy()


@njit(cache=True, nogil=True)
def enumerate_paths(indptr, pair_head, pair_start, pair_stop, link_sorted, inv_b_sorted, zero_delay,
                    rindptr, rpair_head, rpair_start, rpair_stop, rlink_sorted, rinv_b_sorted,
                    out_ptr, out_link, link_head, base, lat0, n_links, comp_nodes, compute_pos,
                    pass_source, pass_alpha, pass_beta, forb_ptr, forb_arc, pass_jobs,
                    job_sink, job_mult, job_acc, job_limit, job_lat_limit, job_lam, max_job, max_total,
                    R_indptr, R_indices, R_data, lat_arc, obj_arc, n_res, counts):
    """Every simple source-sink path of each job slot whose value ``job_mult * cost - job_acc``
    is below ``job_limit`` and whose latency is at most ``job_lat_limit`` (passes and slots as
    :func:`price_paths`): a depth-first search on the layered graph (parallel links apart),
    pruned by the reverse pass's cost and latency to the sink (the one Dijkstra core), every
    path emitted as a column (:func:`_emit_column`). ``counts[q]``: paths of slot q, or -1 when
    the slot passed ``max_job`` paths or the call ``max_total`` (then the search stops: -2 on
    the slots not searched). Returns the columns as :func:`price_paths`."""
    N = compute_pos.shape[0]
    C = comp_nodes.shape[0]
    m = base.shape[0]
    L = (m - n_links) // (n_links + C)
    L1 = L + 1
    nc = L1 * n_links
    V = L1 * N
    (link_cost, node_cost, link_lat, node_lat, rev_link, rev_node, lb_cost, lb_lat, labels,
     parent) = _bound_buffers(L, N, n_links)
    visited = np.zeros(V, dtype=np.int8)
    st_v = np.empty(V + 1, dtype=np.int64)
    st_i = np.empty(V + 1, dtype=np.int64)
    st_c = np.empty(V + 1)
    st_t = np.empty(V + 1)
    st_a = np.empty(V + 1, dtype=np.int64)
    arcs = np.empty(V + L + 1, dtype=np.int64)
    scratch = np.empty(V + L + 1)
    n_q = job_sink.shape[0]
    acc_buf, mark, touched, col_q, arc_ptr, out_arcs, res_ptr, out_res, out_vals, out_lat, out_obj = \
        _column_buffers(n_q, L, n_res)
    for q in range(n_q):
        counts[q] = -2
    k = 0
    stop = False
    for p in range(pass_source.shape[0]):
        if stop:
            break
        _arc_costs(base, lat0, pass_alpha[p], pass_beta[p], forb_arc, forb_ptr[p], forb_ptr[p + 1], n_links,
                   comp_nodes, link_cost, node_cost, link_lat, node_lat)
        src = pass_source[p]
        for q in range(pass_jobs[p], pass_jobs[p + 1]):
            if stop:
                break
            sink = job_sink[q]
            _sink_bounds(rindptr, rpair_head, rpair_start, rpair_stop, rlink_sorted, rinv_b_sorted, zero_delay,
                         link_cost, node_cost, link_lat, node_lat, sink, rev_link, rev_node, labels, parent, lb_cost, lb_lat)
            mult = job_mult[q]
            acc = job_acc[q]
            lim = job_limit[q]
            lat_lim = job_lat_limit[q]
            found = 0
            counts[q] = 0
            if not (mult * lb_cost[0, src] - acc < lim and lb_lat[0, src] <= lat_lim):
                continue
            top = 0
            st_v[0] = src
            st_i[0] = 0
            st_c[0] = 0.0
            st_t[0] = 0.0
            st_a[0] = -1
            visited[src] = 1
            while top >= 0:
                v = st_v[top]
                l = v // N
                n = v - l * N
                deg = out_ptr[n + 1] - out_ptr[n]
                i = st_i[top]
                st_i[top] = i + 1
                if l == L and n == sink:  # a path: emit it, never extend past the sink
                    if i == 0:
                        n_arcs = 0
                        for s in range(1, top + 1):
                            if st_a[s] < nc:
                                arcs[n_arcs] = st_a[s]
                                n_arcs += 1
                        for s in range(1, top + 1):
                            if st_a[s] >= nc:
                                arcs[n_arcs] = st_a[s]
                                n_arcs += 1
                        col_q, arc_ptr, out_arcs, res_ptr, out_res, out_vals, out_lat, out_obj = _emit_column(
                            arcs, n_arcs, job_lam[q], R_indptr, R_indices, R_data, lat_arc, obj_arc, acc_buf, mark,
                            touched, scratch, q, k, col_q, arc_ptr, out_arcs, res_ptr, out_res, out_vals, out_lat,
                            out_obj)
                        k += 1
                        found += 1
                        if found > max_job or k > max_total:
                            stop = True
                    visited[v] = 0
                    top -= 1
                    if stop:
                        break
                    continue
                if i > deg:  # every out-arc tried
                    visited[v] = 0
                    top -= 1
                    continue
                c = st_c[top]
                t = st_t[top]
                if i < deg:
                    a = out_link[out_ptr[n] + i]
                    w = link_cost[l, a]
                    if not w < _INF:
                        continue
                    h = link_head[a]
                    u = l * N + h
                    nl = l
                    nt = t + link_lat[l, a]
                    e = l * n_links + a
                else:
                    if l == L:
                        continue
                    w = node_cost[l, n]
                    if not w < _INF:
                        continue
                    h = n
                    u = (l + 1) * N + n
                    nl = l + 1
                    nt = t + node_lat[l, n]
                    e = nc + l * C + compute_pos[n]
                if visited[u] != 0:
                    continue
                ncost = c + w
                if not (mult * (ncost + lb_cost[nl, h]) - acc < lim and nt + lb_lat[nl, h] <= lat_lim):
                    continue
                top += 1
                st_v[top] = u
                st_i[top] = 0
                st_c[top] = ncost
                st_t[top] = nt
                st_a[top] = e
                visited[u] = 1
            while top >= 0:  # an interrupted search leaves its marks: clear them
                visited[st_v[top]] = 0
                top -= 1
            counts[q] = -1 if stop else found
    return _columns_out(k, col_q, arc_ptr, out_arcs, res_ptr, out_res, out_vals, out_lat, out_obj)


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
    # columns: one compute layer on node 0 (9 arcs: 2 copies x 4 links + 1), one load per arc
    zero = np.zeros(4, f64)
    base = np.ones(9, f64)
    comp, pos = np.array([0], i64), np.array([0, -1], i64)
    r_ptr, r_rows = np.arange(10, dtype=i64), np.array([2, 3, 4, 5, 2, 3, 4, 5, 0], i64)
    one = np.ones(1, f64)
    none = np.zeros(0, i64)
    price_paths(indptr, pair_head, pair_start, pair_stop, link_sorted, inv_b, zero, base, base, 4, comp, pos,
                np.array([0], i64), one, one, np.zeros(2, i64), none, np.array([0, 1], i64), np.array([0], i64), one,
                one * 0.0, one * np.inf, one, 0.0, r_ptr, r_rows, np.ones(9, f64), base, base, 6, np.empty(1, f64))
    constrained_paths(indptr, pair_head, pair_start, pair_stop, link_sorted, inv_b, zero,
                      indptr, pair_head, pair_start, pair_stop, link_sorted, inv_b,
                      np.array([0, 2, 4], i64), np.array([0, 1, 2, 3], i64), np.array([1, 1, 0, 0], i64),
                      base, base, 4, comp, pos, np.array([0], i64), np.array([0], i64), one, one, np.zeros(2, i64),
                      none, one * 10.0, one * 0.0, one * np.inf, one, 0.0, 1000, r_ptr, r_rows, np.ones(9, f64), base,
                      base, 6, np.empty(1, f64), np.empty(1, i64))
    fix_arcs(indptr, pair_head, pair_start, pair_stop, link_sorted, inv_b, zero,
             indptr, pair_head, pair_start, pair_stop, link_sorted, inv_b,
             np.array([0, 0, 1, 1], i64), np.array([1, 1, 0, 0], i64), base, base, 4, comp,
             np.array([0], i64), one, one, np.zeros(2, i64), none, np.array([0, 1], i64), np.array([0], i64), one,
             one * 0.0, one)
    enumerate_paths(indptr, pair_head, pair_start, pair_stop, link_sorted, inv_b, zero,
                    indptr, pair_head, pair_start, pair_stop, link_sorted, inv_b,
                    np.array([0, 2, 4], i64), np.array([0, 1, 2, 3], i64), np.array([1, 1, 0, 0], i64),
                    base, base, 4, comp, pos, np.array([0], i64), one, one, np.zeros(2, i64), none,
                    np.array([0, 1], i64), np.array([0], i64), one, one * 0.0, one * 10.0, one * 10.0, one, 10, 10,
                    r_ptr, r_rows, np.ones(9, f64), base, base, 6, np.empty(1, i64))
    for extra in (np.zeros(0, f64), np.zeros(4, f64)):
        dist = np.empty((1, 2), f64)
        parent = np.empty((1, 2), np.int32)
        many_sources(indptr, pair_head, pair_start, pair_stop, link_sorted, inv_b, delay, extra, 1.0,
                     np.array([0], i64), dist, parent)
