"""Network topologies for the generator: synthetic families and the Internet Topology Zoo.

Every builder takes a numpy ``Generator`` (the only randomness; networkx generators get an int
seed drawn from it) and returns a :class:`Topology`: instance-format node and *directed* link
dicts (each undirected edge is emitted in both directions with the same attributes) plus
``info``, facts recorded in the instance's ``generator`` field.

Rules (all deterministic given the generator; round() rounds half up):

Mixed families (erdos_renyi, waxman, barabasi_albert, grid) -- tiers by degree:
  nodes are ranked by degree (highest first; ties broken by a random permutation). The first
  ``max(1, round(cloud_frac n))`` are cloud, the next ``round(edge_frac n)`` edge, the next
  ``round(router_frac n)`` routers (speed 0: transit nodes of middling degree), the rest
  (lowest degree) devices; at least one device is kept by shrinking routers, then edges.
  Defaults: cloud_frac 0.05, edge_frac 0.2, router_frac 0.15. Hardware per tier comes from
  :mod:`instances.hardware`. The graph is connected, so every device reaches a cloud node.
Link attributes: the kind (:func:`instances.hardware.link_kind`) of the two end tiers gives
  bandwidth, delay and energy; bandwidth is multiplied by a factor uniform in
  [1 - bandwidth_jitter, 1 + bandwidth_jitter] per edge (default 0.5), the same in both
  directions. Waxman and Zoo delays come from distance instead (fibre at 2/3 c).
Erdős–Rényi: G(n, p) with p = ``p`` or ``min(1, 2 ln n / n)``; resampled up to 20 times
  until connected, then patched by joining consecutive components (random node pairs).
Waxman: networkx ``waxman_graph`` in the unit square scaled to ``area_km`` (default 2000 km)
  per side, edge probability beta exp(-d / (alpha sqrt 2)) with alpha 0.25 and, unless given,
  beta chosen so the expected mean degree is ``mean_degree`` (default 5; capped at beta = 1);
  disconnected graphs are patched
  by joining each component to the next through their closest node pair. Delay = distance /
  (2e8 m/s) + 0.1 ms equipment latency.
Barabási–Albert: preferential attachment with ``m`` (default 2) edges per new node.
Grid: rows = ``rows`` or round(sqrt n), cols = round(n / rows) (n is rounded to rows x cols).
Hierarchical device-edge-cloud: 1 cloud site (2 from 40 nodes), n_edge = max(1, round(0.15 n))
  edge servers, n_router = round(0.05 n) metro routers, the rest devices. Devices attach to one
  random edge server by an access link of ``uplink_mbps`` (default uniform 10..100 Mbit/s,
  2..10 ms); with probability ``multihome`` (0.3) a device gets a second access link to another
  edge server. Edge servers form a metro ring (1 Gbit/s, 1 ms) and each connects to router
  i mod n_router (metro); routers form a ring and each connects to every cloud site by a WAN
  link (10 Gbit/s, 10..40 ms); with no routers, edges connect to the clouds directly. Cloud
  sites are joined by a backbone link (100 Gbit/s, 30 ms).

Topology Zoo (Knight et al., IEEE JSAC 2011; CC BY 4.0): see :func:`zoo_topology`.
"""

from __future__ import annotations

import math
import re
import tarfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from instances.hardware import FIBRE_SPEED_M_PER_S, LINK_DEFAULTS, link_kind, node_attributes

DEFAULT_ZOO_ARCHIVE = Path("/work/shared/topologies/topology_zoo_gml.tar.gz")


class TopologyError(ValueError):
    """A topology cannot be built (bad parameter or a refused Topology Zoo network)."""


@dataclass
class Topology:
    nodes: list[dict[str, Any]]
    links: list[dict[str, Any]]
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def names_by_tier(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for n in self.nodes:
            out.setdefault(n["tier"], []).append(n["name"])
        return out


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 2**31 - 1))


def _link(a: str, b: str, bandwidth: float, delay: float, energy: float) -> list[dict[str, Any]]:
    return [
        {"source": s, "target": t, "bandwidth": float(bandwidth), "delay": float(delay), "energy_per_byte": float(energy)}
        for s, t in ((a, b), (b, a))
    ]


def _round(x: float) -> int:
    """Round half up (Python's round() rounds half to even)."""
    return int(math.floor(x + 0.5))


def _check_n(n: int, lo: int = 2) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < lo:
        raise TopologyError(f"nodes must be an integer >= {lo}, got {n!r}")
    return int(n)


def _frac(value: Any, name: str) -> float:
    x = float(value)
    if not 0 <= x <= 1:
        raise TopologyError(f"{name} must be in [0, 1], got {value!r}")
    return x


# ----------------------------------------------------------------------------- tiers by degree


def assign_tiers_by_degree(
    rng: np.random.Generator,
    graph: nx.Graph,
    cloud_frac: float = 0.05,
    edge_frac: float = 0.2,
    router_frac: float = 0.15,
) -> dict[Any, str]:
    """Tier per node by the degree rule in the module docstring."""
    nodes = sorted(graph.nodes())
    n = len(nodes)
    n_cloud = max(1, _round(_frac(cloud_frac, "cloud_frac") * n))
    n_edge = _round(_frac(edge_frac, "edge_frac") * n)
    n_router = _round(_frac(router_frac, "router_frac") * n)
    while n_cloud + n_edge + n_router > n - 1 and n_router > 0:
        n_router -= 1
    while n_cloud + n_edge + n_router > n - 1 and n_edge > 0:
        n_edge -= 1
    tie = rng.permutation(n)
    order = sorted(range(n), key=lambda i: (-graph.degree(nodes[i]), tie[i]))
    tiers = {}
    for rank, i in enumerate(order):
        if rank < n_cloud:
            tiers[nodes[i]] = "cloud"
        elif rank < n_cloud + n_edge:
            tiers[nodes[i]] = "edge"
        elif rank < n_cloud + n_edge + n_router:
            tiers[nodes[i]] = "router"
        else:
            tiers[nodes[i]] = "device"
    return tiers


def _mixed_topology(
    rng: np.random.Generator,
    graph: nx.Graph,
    *,
    prefix: str,
    cloud_frac: float,
    edge_frac: float,
    router_frac: float,
    bandwidth_jitter: float,
    distance_km: dict[tuple[Any, Any], float] | None = None,
    info: dict[str, Any] | None = None,
) -> Topology:
    tiers = assign_tiers_by_degree(rng, graph, cloud_frac, edge_frac, router_frac)
    nodes_sorted = sorted(graph.nodes())
    name = {v: f"{prefix}{v}" if not isinstance(v, tuple) else f"{prefix}{v[0]}_{v[1]}" for v in nodes_sorted}
    counters: dict[str, int] = {}
    nodes = []
    for v in nodes_sorted:
        counters[tiers[v]] = counters.get(tiers[v], 0) + 1
        nodes.append({"name": f"{tiers[v]}{counters[tiers[v]] - 1}-{name[v]}", **node_attributes(tiers[v])})
    full = {v: nodes[i]["name"] for i, v in enumerate(nodes_sorted)}
    jitter = _frac(bandwidth_jitter, "bandwidth_jitter")
    links = []
    for u, v in sorted(tuple(sorted(e)) for e in graph.edges()):
        hw = LINK_DEFAULTS[link_kind(tiers[u], tiers[v])]
        factor = rng.uniform(1 - jitter, 1 + jitter) if jitter > 0 else 1.0
        if distance_km is not None:
            delay = distance_km[(u, v)] * 1000.0 / FIBRE_SPEED_M_PER_S + 1e-4
        else:
            delay = hw.delay
        links += _link(full[u], full[v], hw.bandwidth * factor, delay, hw.energy_per_byte)
    return Topology(nodes, links, dict(info or {}))


def _patch_connected(rng: np.random.Generator, graph: nx.Graph, pos: dict[Any, np.ndarray] | None = None) -> int:
    """Join the components of ``graph`` into one; returns the number of edges added."""
    comps = sorted((sorted(c) for c in nx.connected_components(graph)), key=lambda c: c[0])
    added = 0
    for a, b in zip(comps, comps[1:]):
        if pos is None:
            u = a[int(rng.integers(len(a)))]
            v = b[int(rng.integers(len(b)))]
        else:
            pa = np.array([pos[x] for x in a])
            pb = np.array([pos[x] for x in b])
            d = np.linalg.norm(pa[:, None, :] - pb[None, :, :], axis=2)
            i, j = np.unravel_index(int(np.argmin(d)), d.shape)
            u, v = a[i], b[j]
        graph.add_edge(u, v)
        added += 1
    return added


# ----------------------------------------------------------------------------- synthetic families


GNP_DENSE_MAX = 5000  # Erdos-Renyi: the quadratic sampler up to this many nodes


def erdos_renyi(
    rng: np.random.Generator,
    nodes: int,
    *,
    p: float | None = None,
    cloud_frac: float = 0.05,
    edge_frac: float = 0.2,
    router_frac: float = 0.15,
    bandwidth_jitter: float = 0.5,
) -> Topology:
    n = _check_n(nodes)
    prob = min(1.0, 2 * math.log(n) / n) if p is None else _frac(p, "p")
    # up to GNP_DENSE_MAX nodes the classic O(n^2) sampler (the default sets' graphs, unchanged);
    # above it the O(n + m) one (Batagelj-Brandes): a different graph for the same seed, recorded
    sampler = nx.gnp_random_graph if n <= GNP_DENSE_MAX else nx.fast_gnp_random_graph
    graph = None
    for attempt in range(20):
        graph = sampler(n, prob, seed=_seed(rng))
        if nx.is_connected(graph):
            break
    assert graph is not None
    patched = _patch_connected(rng, graph)
    return _mixed_topology(
        rng, graph, prefix="er", cloud_frac=cloud_frac, edge_frac=edge_frac, router_frac=router_frac,
        bandwidth_jitter=bandwidth_jitter,
        info={"p": prob, "resamples": attempt, "patched_edges": patched,
              **({} if n <= GNP_DENSE_MAX else {"sampler": "fast_gnp"})},
    )


def _waxman_mean_factor(alpha: float) -> float:
    """E[exp(-d / (alpha sqrt 2))] for two uniform points of the unit square (midpoint rule, 24x24)."""
    g = (np.arange(24) + 0.5) / 24
    pts = np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2)
    d = np.linalg.norm(pts[:, None, :] - pts[None, :, :], axis=2)
    return float(np.mean(np.exp(-d / (alpha * math.sqrt(2)))))


def waxman(
    rng: np.random.Generator,
    nodes: int,
    *,
    alpha: float = 0.25,
    beta: float | None = None,
    mean_degree: float = 5.0,
    area_km: float = 2000.0,
    cloud_frac: float = 0.05,
    edge_frac: float = 0.2,
    router_frac: float = 0.15,
    bandwidth_jitter: float = 0.5,
) -> Topology:
    n = _check_n(nodes)
    if not (alpha > 0 and area_km > 0 and mean_degree > 0 and (beta is None or 0 < beta <= 1)):
        raise TopologyError("waxman needs alpha > 0, 0 < beta <= 1, mean_degree > 0, area_km > 0")
    if beta is None:
        beta = min(1.0, mean_degree / ((n - 1) * _waxman_mean_factor(float(alpha))))
    graph = nx.waxman_graph(n, beta=float(beta), alpha=float(alpha), domain=(0, 0, 1, 1), seed=_seed(rng))
    pos = {v: np.asarray(graph.nodes[v]["pos"], dtype=float) for v in graph.nodes()}
    patched = _patch_connected(rng, graph, pos)
    dist = {}
    for u, v in graph.edges():
        d = float(np.linalg.norm(pos[u] - pos[v])) * float(area_km)
        dist[(u, v)] = dist[(v, u)] = d
    return _mixed_topology(
        rng, graph, prefix="wx", cloud_frac=cloud_frac, edge_frac=edge_frac, router_frac=router_frac,
        bandwidth_jitter=bandwidth_jitter, distance_km=dist, info={"beta": float(beta), "patched_edges": patched},
    )


def barabasi_albert(
    rng: np.random.Generator,
    nodes: int,
    *,
    m: int = 2,
    cloud_frac: float = 0.05,
    edge_frac: float = 0.2,
    router_frac: float = 0.15,
    bandwidth_jitter: float = 0.5,
) -> Topology:
    n = _check_n(nodes)
    m_eff = max(1, min(int(m), n - 1))
    graph = nx.barabasi_albert_graph(n, m_eff, seed=_seed(rng))
    return _mixed_topology(
        rng, graph, prefix="ba", cloud_frac=cloud_frac, edge_frac=edge_frac, router_frac=router_frac,
        bandwidth_jitter=bandwidth_jitter, info={"m": m_eff},
    )


def grid(
    rng: np.random.Generator,
    nodes: int,
    *,
    rows: int | None = None,
    cloud_frac: float = 0.05,
    edge_frac: float = 0.2,
    router_frac: float = 0.15,
    bandwidth_jitter: float = 0.5,
) -> Topology:
    n = _check_n(nodes)
    r = max(1, _round(math.sqrt(n))) if rows is None else int(rows)
    if r < 1:
        raise TopologyError(f"rows must be >= 1, got {rows!r}")
    c = max(1, _round(n / r))
    if r * c < 2:
        c = 2
    graph = nx.grid_2d_graph(r, c)
    return _mixed_topology(
        rng, graph, prefix="g", cloud_frac=cloud_frac, edge_frac=edge_frac, router_frac=router_frac,
        bandwidth_jitter=bandwidth_jitter, info={"rows": r, "cols": c},
    )


def hierarchical(
    rng: np.random.Generator,
    nodes: int,
    *,
    clouds: int | None = None,
    edge_frac: float = 0.15,
    router_frac: float = 0.05,
    uplink_mbps: float | None = None,
    multihome: float = 0.3,
) -> Topology:
    n = _check_n(nodes)
    n_cloud = (1 if n < 40 else 2) if clouds is None else int(clouds)
    if n_cloud < 1:
        raise TopologyError(f"clouds must be >= 1, got {clouds!r}")
    n_edge = max(1, _round(_frac(edge_frac, "edge_frac") * n)) if n >= 3 else 0
    n_router = _round(_frac(router_frac, "router_frac") * n)
    while n_cloud + n_edge + n_router > n - 1 and n_router > 0:
        n_router -= 1
    while n_cloud + n_edge + n_router > n - 1 and n_edge > 0:
        n_edge -= 1
    if n_cloud + n_edge + n_router > n - 1:
        raise TopologyError(f"hierarchical: {n} nodes are too few for {n_cloud} cloud site(s) and a device")
    n_dev = n - n_cloud - n_edge - n_router
    if uplink_mbps is not None and not float(uplink_mbps) > 0:
        raise TopologyError(f"uplink_mbps must be > 0, got {uplink_mbps!r}")
    mh = _frac(multihome, "multihome")
    cloud = [f"cloud{i}" for i in range(n_cloud)]
    edge = [f"edge{i}" for i in range(n_edge)]
    router = [f"router{i}" for i in range(n_router)]
    device = [f"device{i}" for i in range(n_dev)]
    nodes_out = (
        [{"name": x, **node_attributes("device")} for x in device]
        + [{"name": x, **node_attributes("edge")} for x in edge]
        + [{"name": x, **node_attributes("router")} for x in router]
        + [{"name": x, **node_attributes("cloud")} for x in cloud]
    )
    acc, met, wan, bb = (LINK_DEFAULTS[k] for k in ("access", "metro", "wan", "backbone"))
    links: list[dict[str, Any]] = []

    def access(d: str, e: str) -> None:
        bw_bps = float(uplink_mbps) * 1e6 if uplink_mbps is not None else rng.uniform(10e6, 100e6)
        links.extend(_link(d, e, bw_bps / 8, rng.uniform(0.002, 0.010), acc.energy_per_byte))

    uplinks = edge if edge else cloud  # with 2 nodes the device talks to the cloud directly
    for d in device:
        first = int(rng.integers(len(uplinks)))
        access(d, uplinks[first])
        if len(uplinks) > 1 and rng.random() < mh:
            second = (first + 1 + int(rng.integers(len(uplinks) - 1))) % len(uplinks)
            access(d, uplinks[second])
    if n_edge >= 2:
        pairs = [(edge[i], edge[(i + 1) % n_edge]) for i in range(n_edge if n_edge >= 3 else 1)]
        for a, b in pairs:
            links.extend(_link(a, b, met.bandwidth, met.delay, met.energy_per_byte))
    if router:
        for i, e in enumerate(edge):
            links.extend(_link(e, router[i % n_router], met.bandwidth, met.delay, met.energy_per_byte))
        if n_router >= 2:
            for i in range(n_router if n_router >= 3 else 1):
                a, b = router[i], router[(i + 1) % n_router]
                links.extend(_link(a, b, met.bandwidth, met.delay, met.energy_per_byte))
        upstream = router
    else:
        upstream = edge
    for u in upstream:
        for c in cloud:
            links.extend(_link(u, c, wan.bandwidth, rng.uniform(0.010, 0.040), wan.energy_per_byte))
    for i in range(n_cloud):
        for j in range(i + 1, n_cloud):
            links.extend(_link(cloud[i], cloud[j], bb.bandwidth, 0.030, bb.energy_per_byte))
    info = {"devices": n_dev, "edges": n_edge, "routers": n_router, "clouds": n_cloud}
    return Topology(nodes_out, links, info)


# ----------------------------------------------------------------------------- Topology Zoo

ZOO_DEFAULT_LINK_BPS = 1e9  # most common stated LinkSpeed in the Zoo (1 Gbit/s)
ZOO_DEFAULT_DELAY = 0.001  # s, for a link with an endpoint lacking coordinates
ZOO_MIN_DELAY = 1e-5  # s, equipment latency floor (two PoPs in one city)
ZOO_MIN_NODES = 3
_SPEED_UNITS = {"K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}


def _great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(h)))


def _edge_speed_bps(attrs: dict[str, Any]) -> float | None:
    raw = attrs.get("LinkSpeedRaw")
    if isinstance(raw, (int, float)) and not isinstance(raw, bool) and math.isfinite(raw) and raw > 0:
        return float(raw)
    speed, unit = attrs.get("LinkSpeed"), attrs.get("LinkSpeedUnits")
    try:
        value = float(speed)
    except (TypeError, ValueError):
        return None
    if unit in _SPEED_UNITS and math.isfinite(value) and value > 0:
        return value * _SPEED_UNITS[unit]
    return None


def parse_zoo_gml(text: str) -> nx.MultiGraph:
    """Parse Topology Zoo GML as an undirected multigraph (parallel edges kept)."""
    if not re.search(r"^\s*multigraph\s+1", text, flags=re.MULTILINE):
        text = re.sub(r"graph\s*\[", "graph [\n  multigraph 1", text, count=1)
    graph = nx.parse_gml(text, label="id")
    if graph.is_directed():
        graph = graph.to_undirected()
    return nx.MultiGraph(graph)


def read_zoo_text(zoo_file: str | Path | None = None, zoo_archive: str | Path | None = None,
                  zoo_name: str | None = None) -> tuple[str, str]:
    """(network name, GML text) from a .gml file or from a member of the archive."""
    if zoo_file is not None:
        path = Path(zoo_file)
        try:
            return path.stem, path.read_text(encoding="utf-8", errors="replace")
        except OSError as err:
            raise TopologyError(f"cannot read zoo file {str(path)!r}: {err.strerror or err}") from None
    if zoo_archive is None or not zoo_name:
        raise TopologyError("zoo needs zoo_file=PATH or zoo_archive=PATH with zoo_name=NAME")
    name = Path(str(zoo_name)).stem
    texts = zoo_archive_texts(zoo_archive)
    if name not in texts:
        raise TopologyError(f"no network {name!r} in {str(zoo_archive)!r}")
    return name, texts[name]


def zoo_archive_texts(zoo_archive: str | Path) -> dict[str, str]:
    """{network name (file stem): GML text} for every .gml member of the archive (cached)."""
    path = Path(zoo_archive)
    try:
        st = path.stat()
    except OSError as err:
        raise TopologyError(f"cannot read zoo archive {str(path)!r}: {err.strerror or err}") from None
    return _archive_texts(str(path.resolve()), st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=2)
def _archive_texts(path: str, mtime_ns: int, size: int) -> dict[str, str]:
    try:
        with tarfile.open(path, "r:*") as tar:
            out = {}
            for m in tar.getmembers():
                if m.isfile() and m.name.endswith(".gml"):
                    data = tar.extractfile(m)
                    assert data is not None
                    out[Path(m.name).stem] = data.read().decode("utf-8", errors="replace")
            return out
    except (OSError, tarfile.TarError) as err:
        raise TopologyError(f"cannot read zoo archive {path!r}: {err}") from None


def zoo_names(zoo_archive: str | Path = DEFAULT_ZOO_ARCHIVE) -> list[str]:
    """Names (file stems) of the GML networks in the archive, sorted."""
    return sorted(zoo_archive_texts(zoo_archive))


def zoo_topology(
    rng: np.random.Generator,
    text: str,
    name: str,
    *,
    cloud_frac: float = 0.05,
    edge_frac: float = 0.2,
    zoo_devices: int = 10,
    zoo_largest_component: bool = False,
) -> Topology:
    """A Topology Zoo network as a Topology; raises TopologyError with the refusal reason.

    Rules:
    - parsed as a multigraph; self-loops dropped; parallel edges merged into one link whose
      bandwidth is the SUM of the parallels' speeds (a bundle) and whose delay is the MIN.
    - link speed: LinkSpeedRaw (bit/s), else LinkSpeed x LinkSpeedUnits (K/M/G/T), else
      1 Gbit/s (the Zoo's most common stated speed).
    - delay: great-circle distance between the end PoPs at 2e8 m/s (2/3 c), at least 10 us;
      1 ms when an end has no Latitude/Longitude.
    - energy per byte: the backbone default of :mod:`instances.hardware`.
    - refused: unparseable GML, fewer than 3 PoPs, or a disconnected graph (unless
      ``zoo_largest_component=True``: then the largest connected component is kept, ties
      broken by the smallest node id as text, and the number of dropped PoPs is recorded).
    - tiers: PoPs ranked by degree (ties by a random permutation): the first
      max(1, round(cloud_frac n)) host a cloud datacentre (cloud tier), the next
      round(edge_frac n) an edge server (edge tier), all others are core routers (speed 0).
      Devices are added: each of up to ``zoo_devices`` stub PoPs (degree 1; when there are
      none, the round(n / 4) lowest-degree non-cloud PoPs) gets one device attached by an access link
      (hardware access defaults, uplink uniform 10..100 Mbit/s, 2..10 ms). Stub PoPs are
      picked lowest-degree first, ties by the same permutation.
    """
    try:
        mg = parse_zoo_gml(text)
    except Exception as err:  # networkx raises several types for malformed GML
        raise TopologyError(f"unparseable GML: {type(err).__name__}: {str(err)[:120]}") from None
    mg.remove_edges_from(list(nx.selfloop_edges(mg)))
    dropped = 0
    if mg.number_of_nodes() and zoo_largest_component and not nx.is_connected(nx.Graph(mg)):
        comps = sorted(nx.connected_components(nx.Graph(mg)), key=lambda c: (-len(c), min(c, key=str)))
        dropped = mg.number_of_nodes() - len(comps[0])
        mg = nx.MultiGraph(mg.subgraph(comps[0]))
    n = mg.number_of_nodes()
    if n < ZOO_MIN_NODES:
        raise TopologyError(f"too small: {n} nodes (< {ZOO_MIN_NODES})")
    simple = nx.Graph(mg)
    if not nx.is_connected(simple):
        k = nx.number_connected_components(simple)
        raise TopologyError(f"disconnected: {k} components")
    ids = sorted(simple.nodes())
    labels: dict[Any, str] = {}
    seen: dict[str, int] = {}
    for v in ids:
        lab = str(mg.nodes[v].get("label", v)).strip() or str(v)
        lab = re.sub(r"\s+", " ", lab)
        seen[lab] = seen.get(lab, 0) + 1
        labels[v] = lab
    names = {v: (labels[v] if seen[labels[v]] == 1 else f"{labels[v]}#{v}") for v in ids}

    def coords(v: Any) -> tuple[float, float] | None:
        a = mg.nodes[v]
        lat, lon = a.get("Latitude"), a.get("Longitude")
        if isinstance(lat, (int, float)) and isinstance(lon, (int, float)) and math.isfinite(lat) and math.isfinite(lon):
            return float(lat), float(lon)
        return None

    n_cloud = max(1, _round(_frac(cloud_frac, "cloud_frac") * n))
    n_edge = min(_round(_frac(edge_frac, "edge_frac") * n), n - n_cloud)
    tie = rng.permutation(n)
    rank_of = {v: tie[i] for i, v in enumerate(ids)}
    order = sorted(ids, key=lambda v: (-simple.degree(v), rank_of[v]))
    tier = {v: "core" for v in ids}
    for v in order[:n_cloud]:
        tier[v] = "cloud"
    for v in order[n_cloud : n_cloud + n_edge]:
        tier[v] = "edge"
    nodes_out = [{"name": names[v], **node_attributes(tier[v])} for v in ids]
    bb = LINK_DEFAULTS["backbone"]
    links: list[dict[str, Any]] = []
    default_speed = 0
    no_coords = 0
    merged = 0
    for u, v in sorted(tuple(sorted(e)) for e in simple.edges()):
        parallels = list(mg.get_edge_data(u, v).values())
        merged += len(parallels) - 1
        speeds = []
        for attrs in parallels:
            s = _edge_speed_bps(attrs)
            if s is None:
                default_speed += 1
                s = ZOO_DEFAULT_LINK_BPS
            speeds.append(s)
        cu, cv = coords(u), coords(v)
        if cu is None or cv is None:
            no_coords += 1
            delay = ZOO_DEFAULT_DELAY
        else:
            delay = max(ZOO_MIN_DELAY, _great_circle_km(*cu, *cv) * 1000.0 / FIBRE_SPEED_M_PER_S)
        links += _link(names[u], names[v], sum(speeds) / 8.0, delay, bb.energy_per_byte)
    stubs = [v for v in sorted(ids, key=lambda v: (simple.degree(v), rank_of[v])) if tier[v] != "cloud"]
    deg1 = [v for v in stubs if simple.degree(v) == 1]
    cap = max(1, int(zoo_devices))
    chosen = deg1[:cap] if deg1 else stubs[: min(cap, max(1, _round(0.25 * n)))]
    acc = LINK_DEFAULTS["access"]
    for i, v in enumerate(chosen):
        d = f"device{i}@{names[v]}"
        nodes_out.append({"name": d, **node_attributes("device")})
        links += _link(d, names[v], rng.uniform(10e6, 100e6) / 8, rng.uniform(0.002, 0.010), acc.energy_per_byte)
    info = {
        "zoo_name": name,
        "pops": n,
        "merged_parallel_edges": merged,
        "links_default_speed": default_speed,
        "links_default_delay": no_coords,
        "devices": len(chosen),
        "dropped_pops": dropped,
    }
    return Topology(nodes_out, links, info)
