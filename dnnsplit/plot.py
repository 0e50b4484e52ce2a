"""``dnnsplit plot INSTANCE RESULT --out fig.png``: one solution drawn on its network.

RESULT is what ``dnnsplit solve ... --json`` prints (or ``--out`` writes): one SolveResult
record; or a results file of one record per line (a campaign's ``.jsonl``): the record of
INSTANCE is taken (``--line N`` picks one where there are several); ``-`` reads standard
input. The record must carry INSTANCE's hash (a result of another instance is refused) and a
decision.

The figure: every link of the network (grey), the nodes by tier (device, edge, router/core,
cloud; shape and colour in the legend), and for each job drawn, in the job's colour:

- the placement: a label beside each node that runs layers, ``L1-5`` (runs of consecutive
  layers; ``j3: L1-5`` when several jobs are drawn; with more than ``MAX_LABELLED_JOBS`` jobs,
  the number of layers and jobs per node instead);
- the tensor routes: an arrow along every link a tensor crosses, labelled with the stages l
  whose tensor o_l uses it (``o0``, ``o3,4``); a route with share < 1 is thinner and labelled
  with its share; results of early exits (their delivery to the sink) dashed;
- the job's source (triangle) and sink (star);
- below the drawing, one line per job: the placement with node names and the job's latency
  (from the evaluator).

``--job K`` draws job K alone (the clearest view of a multi-job solution); by default every
job is drawn, one colour each.

Layout (``--layout``): ``geo`` places Topology Zoo PoPs at their longitude/latitude, read from
the GML (``--zoo-file``, or ``--zoo-archive``, default the shared archive, with the name in the
instance's generator record; its SHA-256 must match the record's); devices sit beside their
PoP. ``tiered`` puts tiers in rows (cloud on top, then routers, edge servers, devices) ordered
to reduce crossings. ``spring`` is networkx's Kamada-Kawai layout (deterministic). ``auto``
(default): geo for a Zoo instance whose GML is at hand, tiered for the hierarchical family,
spring otherwise.

Readability: each placement label goes to the first corner of its node where it overlaps no
other label and stays inside the figure (:func:`declutter`); ``draw`` returns the labels' boxes
as saved, which the tests check. The figure is written to a temporary name and moved into place.
LLM pipeline-placement instances (problem "llm", F5) are refused.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from dnnsplit.results import OBJECTIVE_UNITS
from instances.model import Instance

DPI = 150  # of the figure as drawn and saved (PNG pixels per inch)
MAX_LABELLED_JOBS = 8  # per-job placement labels up to this many jobs drawn
MAX_TEXT_JOBS = 12  # lines of the text panel
TIER_STYLE = {  # tier -> (marker, colour, size, row of the tiered layout)
    "device": ("o", "#8da0cb", 60, 0),
    "edge": ("s", "#fc8d62", 110, 1),
    "router": ("D", "#b3b3b3", 60, 2),
    "core": ("D", "#b3b3b3", 60, 2),
    "cloud": ("h", "#66c2a5", 220, 3),
}
OTHER_TIER = ("o", "#dddddd", 60, 1)


class PlotError(Exception):
    """An expected failure: printed as one line by the CLI."""


# ----------------------------------------------------------------------------- the result


def refuse_llm(instance: Any) -> None:
    """LLM pipeline-placement instances (problem "llm", F5) have no layer placement and tensor
    routes of the kind drawn here."""
    from instances.llm.model import LLM_PROBLEM, is_llm_instance

    if is_llm_instance(instance):
        raise PlotError(f"instance {instance.name!r} is an LLM pipeline-placement instance (problem {LLM_PROBLEM!r}, "
                        "F5); dnnsplit plot draws DNN-split solutions only")


def read_record(text: str, source: str, instance: Instance, line: int | None = None) -> dict[str, Any]:
    """The result record of ``instance`` in ``text`` (one JSON record, or one per line)."""
    text = text.strip()
    if not text:
        raise PlotError(f"{source}: empty, expected a result record (dnnsplit solve --json)")
    try:
        records = [(1, json.loads(text))]
    except json.JSONDecodeError:
        records = []
        for k, raw in enumerate(text.splitlines(), start=1):
            if raw.strip():
                try:
                    records.append((k, json.loads(raw)))
                except json.JSONDecodeError as err:
                    raise PlotError(f"{source}:{k}: not a JSON record ({err.msg})") from None
    for k, rec in records:
        if not isinstance(rec, dict) or "status" not in rec:
            raise PlotError(f"{source}:{k}: not a result record (no status field)")
    if line is not None:
        chosen = [(k, r) for k, r in records if k == line]
        if not chosen:
            raise PlotError(f"{source}: no record on line {line}")
    elif len(records) == 1:
        chosen = records
    else:
        chosen = [(k, r) for k, r in records if r.get("instance_hash") == instance.hash]
        if len(chosen) > 1:
            lines = ", ".join(str(k) for k, _ in chosen[:10]) + (", ..." if len(chosen) > 10 else "")
            raise PlotError(f"{source}: {len(chosen)} records of instance {instance.name!r} (lines {lines}); "
                            "choose one with --line N")
        if not chosen:
            raise PlotError(f"{source}: none of its {len(records)} records is a result of instance "
                            f"{instance.name!r} (hash {instance.hash})")
    k, rec = chosen[0]
    got = rec.get("instance_hash")
    if got != instance.hash:
        raise PlotError(f"{source}: the result is of instance {rec.get('instance_id') or '?'!r} (hash {got or 'none'}), "
                        f"not of {instance.name!r} (hash {instance.hash})")
    return rec


def result_of_record(rec: dict[str, Any]) -> Any:
    """A SolveResult from a record (extra keys of campaign lines and name annotations dropped)."""
    from dnnsplit.results import SolveResult, result_from_dict

    keep = {f.name for f in fields(SolveResult)}
    try:
        return result_from_dict({k: v for k, v in rec.items() if k in keep})
    except (ValueError, TypeError, KeyError) as err:
        raise PlotError(f"malformed result record: {err}") from None


# ----------------------------------------------------------------------------- layouts


def zoo_coordinates(text: str) -> dict[str, tuple[float, float]]:
    """PoP name -> (longitude, latitude), names as ``instances.topologies.zoo_topology`` makes them."""
    import networkx as nx

    from instances.topologies import parse_zoo_gml

    mg = parse_zoo_gml(text)
    ids = sorted(nx.Graph(mg).nodes())
    labels = {}
    seen: dict[str, int] = {}
    for v in ids:
        lab = re.sub(r"\s+", " ", str(mg.nodes[v].get("label", v)).strip()) or str(v)
        labels[v] = lab
        seen[lab] = seen.get(lab, 0) + 1
    out = {}
    for v in ids:
        a = mg.nodes[v]
        lat, lon = a.get("Latitude"), a.get("Longitude")
        if all(isinstance(x, (int, float)) and math.isfinite(x) for x in (lat, lon)):
            out[labels[v] if seen[labels[v]] == 1 else f"{labels[v]}#{v}"] = (float(lon), float(lat))
    return out


def zoo_text(instance: Instance, zoo_file: str | None, zoo_archive: str | None) -> str | None:
    """The GML of a Zoo instance, when it can be found and matches the generator record."""
    gen = dict(instance.generator or {})
    if gen.get("family") != "zoo":
        return None
    params = dict(gen.get("params") or {})
    from instances.topologies import DEFAULT_ZOO_ARCHIVE, TopologyError, read_zoo_text

    archive = zoo_archive or (str(DEFAULT_ZOO_ARCHIVE) if Path(DEFAULT_ZOO_ARCHIVE).is_file() else None)
    if zoo_file is None and archive is None:
        return None
    try:
        _, text = read_zoo_text(zoo_file, None if zoo_file else archive, params.get("zoo_name"))
    except TopologyError:
        return None
    want = params.get("zoo_sha256")
    if want and hashlib.sha256(text.encode()).hexdigest()[:16] != want:
        return None
    return text


def spread(pos: dict[int, np.ndarray], min_fraction: float = 0.035, rounds: int = 60) -> dict[int, np.ndarray]:
    """Positions pushed apart until no two nodes are closer than ``min_fraction`` of the drawing's
    extent (pairwise, deterministic): dense clusters become readable, the shape stays."""
    keys = sorted(pos)
    P = np.array([pos[k] for k in keys], dtype=float)
    if len(P) < 2:
        return pos
    extent = float(max(np.ptp(P[:, 0]), np.ptp(P[:, 1]), 1e-9))
    d_min = min_fraction * extent
    for _ in range(rounds):
        diff = P[:, None, :] - P[None, :, :]
        dist = np.hypot(diff[..., 0], diff[..., 1])
        np.fill_diagonal(dist, np.inf)
        close = dist < d_min
        if not close.any():
            break
        # coincident points: a fixed direction per pair
        unit = np.where(dist[..., None] > 1e-12, diff / np.maximum(dist, 1e-12)[..., None],
                        np.array([1.0, 0.0]) * np.sign(np.arange(len(P))[:, None] - np.arange(len(P))[None, :])[..., None])
        push = np.where(close, (d_min - np.where(np.isfinite(dist), dist, 0.0)) / 2, 0.0)[..., None] * unit
        P += push.sum(axis=1) * 0.5
    return {k: P[i] for i, k in enumerate(keys)}


def geo_layout(instance: Instance, coords: dict[str, tuple[float, float]]) -> dict[int, np.ndarray]:
    """Longitude/latitude (longitude shrunk by the cosine of the mean latitude, so distances look
    right), a device (or a PoP without coordinates) beside its first neighbour with some; then
    :func:`spread` so that nearby PoPs do not overlap."""
    net = instance.network
    names = net.node_names
    pos = {n: np.array(coords[name]) for n, name in enumerate(names) if name in coords}
    if not pos:
        raise PlotError("no node of the instance has coordinates in the GML")
    shrink = math.cos(math.radians(float(np.mean([p[1] for p in pos.values()]))))
    pos = {n: np.array([p[0] * shrink, p[1]]) for n, p in pos.items()}
    pts = np.array(list(pos.values()))
    span = float(max(np.ptp(pts[:, 0]), np.ptp(pts[:, 1]), 1e-3))
    nbrs: dict[int, list[int]] = {}
    for s, t in zip(net.link_source.tolist(), net.link_target.tolist()):
        nbrs.setdefault(s, []).append(t)
    missing = [n for n in range(net.num_nodes) if n not in pos]
    for _ in range(3):  # neighbours of neighbours
        for k, n in enumerate(missing):
            if n in pos:
                continue
            anchor = next((m for m in nbrs.get(n, []) if m in pos), None)
            if anchor is not None:
                angle = -math.pi / 2 + 0.9 * (k % 5 - 2) / 2
                pos[n] = pos[anchor] + 0.05 * span * np.array([math.cos(angle), math.sin(angle)])
    corner = pts.min(axis=0) - 0.05 * span
    for k, n in enumerate(missing):
        pos.setdefault(n, corner + np.array([0.03 * span * k, 0.0]))
    return spread(pos)


def tiered_layout(instance: Instance) -> dict[int, np.ndarray]:
    """Tiers in rows (cloud on top), each row ordered by its neighbours' mean position
    (a few barycentre sweeps, deterministic) so that links cross little."""
    net = instance.network
    row = {n: TIER_STYLE.get(t, OTHER_TIER)[3] for n, t in enumerate(net.tier)}
    rows = sorted(set(row.values()))
    members = {r: [n for n in range(net.num_nodes) if row[n] == r] for r in rows}
    nbrs: dict[int, set[int]] = {n: set() for n in range(net.num_nodes)}
    for s, t in zip(net.link_source.tolist(), net.link_target.tolist()):
        nbrs[s].add(t)
        nbrs[t].add(s)
    x = {}
    for r in rows:
        for k, n in enumerate(members[r]):
            x[n] = (k + 0.5) / len(members[r])
    for sweep in range(6):
        order = rows[::-1] if sweep % 2 else rows  # top-down, then bottom-up
        for r in order:
            def key(n: int, r: int = r) -> tuple[float, int]:
                other = [x[m] for m in nbrs[n] if row[m] != r]
                return (float(np.mean(other)) if other else x[n], n)

            members[r].sort(key=key)
            for k, n in enumerate(members[r]):
                x[n] = (k + 0.5) / len(members[r])
    height = max(1, len(rows) - 1)
    # a crowded row alternates between two heights, so that neighbouring names do not collide
    lift = {n: 0.06 / height * (k % 2) if len(members[r]) > 14 else 0.0
            for r in rows for k, n in enumerate(members[r])}
    return {n: np.array([x[n], rows.index(row[n]) / height + lift[n]]) for n in range(net.num_nodes)}


def spring_layout(instance: Instance) -> dict[int, np.ndarray]:
    """networkx's Kamada-Kawai layout (deterministic); spring layout with seed 0 above 400 nodes."""
    import networkx as nx

    net = instance.network
    g = nx.Graph()
    g.add_nodes_from(range(net.num_nodes))
    g.add_edges_from(zip(net.link_source.tolist(), net.link_target.tolist()))
    if net.num_nodes > 400:
        return {n: np.asarray(p) for n, p in nx.spring_layout(g, seed=0).items()}
    return spread({n: np.asarray(p) for n, p in nx.kamada_kawai_layout(g).items()})


def layout(instance: Instance, how: str = "auto", zoo_file: str | None = None,
           zoo_archive: str | None = None) -> tuple[dict[int, np.ndarray], str]:
    """Node positions and the layout used (see the module docstring)."""
    if how in ("auto", "geo"):
        text = zoo_text(instance, zoo_file, zoo_archive)
        if text is not None:
            return geo_layout(instance, zoo_coordinates(text)), "geo"
        if how == "geo":
            raise PlotError("--layout geo needs a Topology Zoo instance and its GML (--zoo-file or --zoo-archive, "
                            "matching the generator record's zoo_sha256)")
    if how == "tiered" or (how == "auto" and (instance.generator or {}).get("family") == "hierarchical"):
        return tiered_layout(instance), "tiered"
    return spring_layout(instance), "spring"


# ----------------------------------------------------------------------------- drawing


def layer_runs(placement: Sequence[int]) -> list[tuple[int, int, int]]:
    """(first layer, last layer, node) for each run of consecutive layers on one node."""
    runs: list[list[int]] = []
    for layer, node in enumerate(placement, start=1):
        if runs and runs[-1][2] == node:
            runs[-1][1] = layer
        else:
            runs.append([layer, layer, node])
    return [tuple(r) for r in runs]  # type: ignore[misc]


def _bytes(x: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if x >= size:
            return f"{x / size:.3g} {unit}"
    return f"{x:.3g} B"


def _span(a: int, b: int) -> str:
    return f"L{a}" if a == b else f"L{a}-{b}"


ZOOM_BELOW = 0.3  # a zoom panel when the drawn routes span less than this share of the map


def draw(instance: Instance, result: Any, out: Path, *, jobs: Sequence[int] | None = None, how: str = "auto",
         zoo_file: str | None = None, zoo_archive: str | None = None, title: str | None = None) -> dict[str, Any]:
    """Draw ``result``'s decision on ``instance`` into ``out`` (PNG, PDF or SVG by suffix);
    returns what was drawn (layout, jobs, labelled nodes, zoom) for callers and tests.

    When the drawn routes cover a small part of the map (a short route on a large Zoo network,
    say), a second panel on the right shows their region enlarged, with the arc labels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from instances.evaluate import evaluate

    refuse_llm(instance)
    decision = result.decision
    if not decision:
        raise PlotError(f"the result has no decision (status {result.status.value}"
                        f"{': ' + result.message if result.message else ''}): nothing to draw")
    try:
        ev = evaluate(instance, decision)
    except (ValueError, IndexError, KeyError) as err:
        raise PlotError(f"the result's decision does not fit instance {instance.name!r}: {err}") from None
    chosen = sorted(decision) if jobs is None else list(dict.fromkeys(jobs))
    for j in chosen:
        if j not in decision:
            raise PlotError(f"--job {j}: the result has no decision for job {j} (jobs {min(decision)}..{max(decision)})")
    net = instance.network
    names = net.node_names
    pos, used_layout = layout(instance, how, zoo_file, zoo_archive)
    P = np.array([pos[n] for n in range(net.num_nodes)])
    lines = _text_lines(instance, decision, chosen, ev)
    cmap = plt.get_cmap("tab10" if len(chosen) <= 10 else "tab20")
    colour = {j: cmap(k % cmap.N) for k, j in enumerate(chosen)}
    arrows, hosted = _route_pieces(instance, decision, chosen)
    touched = sorted({n for n in hosted} | {a for a, *_ in arrows} | {b for _, b, *_ in arrows}
                     | {instance.jobs[j].source for j in chosen} | {instance.jobs[j].sink for j in chosen})
    lo, hi = P.min(axis=0), P.max(axis=0)
    extent = float(max(hi[0] - lo[0], hi[1] - lo[1], 1e-9))
    T = P[touched]
    t_extent = float(max(np.ptp(T[:, 0]), np.ptp(T[:, 1])))
    zoom = net.num_nodes > 20 and t_extent < ZOOM_BELOW * extent
    width = float(min(18.0, 7.0 + net.num_nodes / 7.0)) * (1.35 if zoom else 1.0)
    text_in = 0.135 * len(lines) + 0.25  # inches of the text panel below the drawing
    fig = plt.figure(figsize=(width, width * (0.62 / 1.35 if zoom else 0.62) + text_in), dpi=DPI)
    text_h = text_in / fig.get_figheight()
    top = 0.90 - text_h
    ax = fig.add_axes((0.02, text_h + 0.02, 0.60 if zoom else 0.96, top))
    pad = 0.08 * extent
    panel = _Panel(instance, P, chosen, colour, arrows, hosted, geo=used_layout == "geo")
    panel.draw(ax, (lo[0] - pad, hi[0] + pad), (lo[1] - pad, hi[1] + pad), arc_labels=not zoom,
               all_names=net.num_nodes <= 80, touched=set(touched), legend=True)
    if zoom:
        margin = max(0.35 * t_extent, 0.04 * extent)
        zlo, zhi = T.min(axis=0) - margin, T.max(axis=0) + margin
        zax = fig.add_axes((0.64, text_h + 0.02, 0.34, top))
        panel.draw(zax, (zlo[0], zhi[0]), (zlo[1], zhi[1]), arc_labels=True, all_names=True, touched=set(touched),
                   legend=False)
        zax.set_axis_on()
        zax.set_xticks([])
        zax.set_yticks([])
        zax.set_title("the routes' region, enlarged", fontsize=8)
        (zx0, zx1), (zy0, zy1) = zax.get_xlim(), zax.get_ylim()  # as widened to the panel's shape
        ax.add_patch(matplotlib.patches.Rectangle((zx0, zy0), zx1 - zx0, zy1 - zy0, fill=False, ec="#666666",
                                                  lw=0.8, ls=":", zorder=2))
    unit = OBJECTIVE_UNITS.get(result.objective_name, ("", ""))[0]
    obj = "-" if result.objective is None else f"{result.objective:.6g} {unit}"
    pair = f"{result.formulation}/{result.backend}" if result.formulation else "result"
    drawn = f"job {chosen[0]}" if len(chosen) == 1 and len(decision) > 1 else \
        f"{len(chosen)} job{'s' if len(chosen) > 1 else ''}"
    fig.suptitle(title or f"{instance.name}: {pair}, {result.status.value}, {result.objective_name} {obj}; {drawn}",
                 fontsize=10)
    fig.text(0.02, text_h, "\n".join(lines), fontsize=7.5, va="top", ha="left", family="monospace")
    declutter(fig, panel.placement_labels)
    save_atomically(fig, out)
    boxes = label_boxes(fig, panel.placement_labels)
    plt.close(fig)
    return {"layout": used_layout, "jobs": chosen, "labelled": [names[n] for n in sorted(hosted)], "zoom": zoom,
            "positions": P, "label_boxes": boxes, "size_px": tuple(fig.bbox.size)}


LABEL_OFFSETS = ((9, 9, "left", "bottom"), (9, -9, "left", "top"), (-9, 9, "right", "bottom"),
                 (-9, -9, "right", "top"), (9, 24, "left", "bottom"), (-9, -24, "right", "top"))


def declutter(fig: Any, labels: Sequence[Any]) -> None:
    """Move each placement label to the first of a few corners of its node where it overlaps no
    label placed before it and stays inside the figure (the first corner when none is free)."""
    renderer = fig.canvas.get_renderer()
    W, H = fig.bbox.width, fig.bbox.height
    placed: list[Any] = []
    for a in labels:
        for dx, dy, ha, va in LABEL_OFFSETS:
            a.xyann = (dx, dy)
            a.set_ha(ha)
            a.set_va(va)
            b = a.get_window_extent(renderer).expanded(1.1, 1.25)
            if 0 <= b.x0 and b.x1 <= W and 0 <= b.y0 and b.y1 <= H and not any(b.overlaps(p) for p in placed):
                break
        else:
            dx, dy, ha, va = LABEL_OFFSETS[0]
            a.xyann = (dx, dy)
            a.set_ha(ha)
            a.set_va(va)
            b = a.get_window_extent(renderer)
        placed.append(b)


def label_boxes(fig: Any, labels: Sequence[Any]) -> list[tuple[float, float, float, float]]:
    """(x0, y0, x1, y1) in pixels of the saved figure of each placement label drawn, in every panel."""
    renderer = fig.canvas.get_renderer()
    out = []
    for a in labels:
        b = a.get_bbox_patch().get_window_extent(renderer) if a.get_bbox_patch() else a.get_window_extent(renderer)
        out.append((float(b.x0), float(b.y0), float(b.x1), float(b.y1)))
    return out


def save_atomically(fig: Any, out: Path) -> None:
    """The figure written to a temporary name beside ``out`` and moved into place when complete
    (an interrupted or failed save leaves no half-written figure, and an older one stays)."""
    import os

    out = Path(out)
    tmp = out.with_name(f".{out.stem}.tmp-{os.getpid()}{out.suffix}")
    try:
        fig.savefig(tmp, dpi="figure", format=out.suffix.lstrip(".").lower())
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def _text_lines(instance: Instance, decision: Any, chosen: Sequence[int], ev: Any) -> list[str]:
    """One line per route drawn: placement with node names, then the job's latency (and energy)."""
    names = instance.network.node_names
    lines: list[str] = []
    for k, j in enumerate(chosen):
        if len(lines) >= MAX_TEXT_JOBS:
            lines.append(f"... {len(chosen) - k} more jobs (--job K draws one)")
            break
        job = instance.jobs[j]
        for route in decision[j]:
            share = "" if route.share == 1.0 else f" (share {route.share:.3g})"
            place = ", ".join(f"{_span(a, b)} {names[n]}" for a, b, n in layer_runs(route.placement))
            lines.append(f"job {j} ({job.name}){share}: {names[job.source]} -> {names[job.sink]}; {place}")
        lines[-1] += f"; latency {ev.job_latency[j]:.4g} s"
        if any(ev.job_energy.values()):
            lines[-1] += f", energy {ev.job_energy[j]:.4g} J per request"
    return lines


def _route_pieces(instance: Instance, decision: Any, chosen: Sequence[int]) -> tuple[dict, dict]:
    """Arrows {(tail, head, job, route): stages, share, exit} and hosted {node: [(job, first, last, share)]}."""
    net = instance.network
    arrows: dict[tuple[int, int, int, int], dict[str, Any]] = {}
    hosted: dict[int, list[tuple[int, int, int, float]]] = {}
    for j in chosen:
        for r, route in enumerate(decision[j]):
            for a, b, n in layer_runs(route.placement):
                hosted.setdefault(n, []).append((j, a, b, route.share))
            for l, path in enumerate(route.paths):
                for link in path:
                    key = (int(net.link_source[link]), int(net.link_target[link]), j, r)
                    arrows.setdefault(key, {"stages": [], "share": route.share, "exit": False})["stages"].append(l)
            for x, path in zip(route.active_exits, route.exit_paths):
                for link in path:
                    key = (int(net.link_source[link]), int(net.link_target[link]), j, -1 - r)
                    arrows.setdefault(key, {"stages": [], "share": route.share, "exit": True})["stages"].append(x)
    return arrows, hosted


MANY_COLOUR = "#1f4e79"


@dataclass
class _Panel:
    """What one axes shows: the network, the placement labels and the routes."""

    instance: Instance
    P: np.ndarray
    chosen: Sequence[int]
    colour: dict[int, Any]
    arrows: dict
    hosted: dict
    geo: bool = False
    placement_labels: list = field(default_factory=list)  # the L1-5 boxes drawn (the readability check)

    def _draw_load(self, ax: Any, labels: bool) -> None:
        """Many jobs: one arrow per directed link used, width by the number of routes (weighted
        by share) that cross it, labelled with that number."""
        from matplotlib.patches import FancyArrowPatch

        P = self.P
        load: dict[tuple[int, int, bool], float] = {}
        for (a, b, j, r), info in self.arrows.items():
            key = (a, b, info["exit"])
            load[key] = load.get(key, 0.0) + info["share"]
        top = max(load.values(), default=1.0)
        for (a, b, is_exit), k in load.items():
            lw = 0.8 + 4.0 * k / top
            ax.add_patch(FancyArrowPatch(P[a], P[b], arrowstyle="-|>", mutation_scale=8 + 2 * lw, lw=lw,
                                         color=MANY_COLOUR, alpha=0.7, connectionstyle="arc3,rad=0.12",
                                         linestyle="--" if is_exit else "-", shrinkA=7, shrinkB=7, zorder=4))
            if labels and len(load) <= 60:
                pa, pb = ax.transData.transform(P[a]), ax.transData.transform(P[b])
                d = pb - pa
                mid = ax.transData.inverted().transform((pa + pb) / 2 + 0.06 * np.array([d[1], -d[0]]))
                ax.text(*mid, f"{k:.3g}", fontsize=6.5, color=MANY_COLOUR, ha="center", va="center", zorder=6,
                        bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.8))

    def draw(self, ax: Any, xlim: tuple[float, float], ylim: tuple[float, float], *, arc_labels: bool,
             all_names: bool, touched: set[int], legend: bool) -> None:
        from matplotlib.lines import Line2D
        from matplotlib.patches import FancyArrowPatch

        inst, P, chosen, colour = self.instance, self.P, self.chosen, self.colour
        net = inst.network
        names = net.node_names
        N = net.num_nodes
        ax.set_axis_off()
        if self.geo:  # equal scales: widen the limits to the panel's shape, so that nothing is cut off
            box = ax.get_position()
            fw, fh = ax.figure.get_size_inches()
            shape = (box.width * fw) / (box.height * fh)
            (x0, x1), (y0, y1) = xlim, ylim
            dx, dy = x1 - x0, y1 - y0
            if dx / dy < shape:
                xlim = ((x0 + x1) / 2 - dy * shape / 2, (x0 + x1) / 2 + dy * shape / 2)
            else:
                ylim = ((y0 + y1) / 2 - dx / shape / 2, (y0 + y1) / 2 + dx / shape / 2)
            ax.set_aspect("equal", adjustable="box")
        ax.set_xlim(*xlim)
        ax.set_ylim(*ylim)
        ax.apply_aspect()  # the final data-to-display transform (arc labels are placed in display space)
        pairs = {tuple(sorted(p)) for p in zip(net.link_source.tolist(), net.link_target.tolist())}
        for a, b in pairs:
            ax.plot(*zip(P[a], P[b]), color="#d9d9d9", lw=0.8, zorder=1)
        handles = []
        for tier in dict.fromkeys(net.tier):
            marker, col, size, _ = TIER_STYLE.get(tier, OTHER_TIER)
            sel = [n for n in range(N) if net.tier[n] == tier]
            ax.scatter(P[sel, 0], P[sel, 1], marker=marker, s=size, c=col, edgecolors="#555555", linewidths=0.6,
                       zorder=3)
            handles.append(Line2D([], [], ls="", marker=marker, markersize=math.sqrt(size) * 0.8, color=col,
                                  markeredgecolor="#555555", label=tier))
        many = len(chosen) > MAX_LABELLED_JOBS
        if many:  # one arrow per used link, its width the number of jobs' routes over it
            self._draw_load(ax, arc_labels)
        for (a, b, j, r), info in ([] if many else self.arrows.items()):
            route = r if r >= 0 else -1 - r
            rad = 0.12 + 0.04 * (chosen.index(j) % 4) + 0.14 * route  # the routes of a split apart
            lw = 0.8 + 1.6 * info["share"] if not many else 1.0
            ax.add_patch(FancyArrowPatch(P[a], P[b], arrowstyle="-|>", mutation_scale=10 + 2 * lw, lw=lw,
                                         color=colour[j], alpha=0.85, connectionstyle=f"arc3,rad={rad}",
                                         linestyle="--" if info["exit"] else "-", shrinkA=7, shrinkB=7, zorder=4))
            if arc_labels and not many:
                # the arc's midpoint: halfway to arc3's control point, which lies in display space
                pa, pb = ax.transData.transform(P[a]), ax.transData.transform(P[b])
                d = pb - pa
                mid = ax.transData.inverted().transform((pa + pb) / 2 + rad / 2 * np.array([d[1], -d[0]]))
                stages = sorted(set(info["stages"]))
                label = ("exit " if info["exit"] else "o") + ",".join(map(str, stages[:4])) + \
                    ("..." if len(stages) > 4 else "")
                if len(stages) == 1 and len(chosen) == 1 and not info["exit"]:
                    label += f" {_bytes(inst.model_of(j).tensor_sizes[stages[0]])}"
                if info["share"] != 1.0:
                    label += f" ({info['share']:.2g})"
                ax.text(*mid, label, fontsize=6.5, color=colour[j], ha="center", va="center", zorder=6,
                        bbox=dict(boxstyle="round,pad=0.12", fc="white", ec="none", alpha=0.8))
        for n, items in sorted(self.hosted.items()):
            if many:
                layers = sum(b - a + 1 for _, a, b, _ in items)
                k = len({j for j, *_ in items})
                text, col = f"{layers} layers, {k} job{'s' if k > 1 else ''}", "#333333"
            elif len(chosen) == 1:
                text = ", ".join(_span(a, b) + (f" ({s:.2g})" if s != 1.0 else "") for _, a, b, s in items)
                col = colour[chosen[0]]
            else:
                text = "\n".join(f"j{j}: {_span(a, b)}" + (f" ({s:.2g})" if s != 1.0 else "") for j, a, b, s in items)
                col = "#333333"
            self.placement_labels.append(
                ax.annotate(text, P[n], xytext=(9, 9), textcoords="offset points", fontsize=7.5, color=col, zorder=7,
                            fontweight="bold", bbox=dict(boxstyle="round,pad=0.2", fc="white", ec=col, lw=0.8,
                                                         alpha=0.9)))
        x0, x1 = sorted(xlim)
        y0, y1 = sorted(ylim)
        for n in range(N):
            inside = x0 <= P[n, 0] <= x1 and y0 <= P[n, 1] <= y1
            if inside and (all_names or n in touched):
                ax.annotate(names[n], P[n], xytext=(0, -10), textcoords="offset points", fontsize=6.5 if N > 20 else 7.5,
                            ha="center", va="top", color="#444444", zorder=5, annotation_clip=True)
        for j in chosen:
            job = inst.jobs[j]
            edge = MANY_COLOUR if many else colour[j]
            ax.scatter(*P[job.source], marker="^", s=150, facecolors="none", edgecolors=edge, linewidths=1.6,
                       zorder=8)
            ax.scatter(*P[job.sink], marker="*", s=260, facecolors="none", edgecolors=edge, linewidths=1.4,
                       zorder=8)
        if not legend:
            return
        handles += [
            Line2D([], [], ls="", marker="^", markersize=9, markerfacecolor="none", markeredgecolor="#333333",
                   label="source"),
            Line2D([], [], ls="", marker="*", markersize=11, markerfacecolor="none", markeredgecolor="#333333",
                   label="sink"),
            Line2D([], [], color="#333333", lw=1.5, label="tensor o_l route"),
        ]
        if any(info["exit"] for info in self.arrows.values()):
            handles.append(Line2D([], [], color="#333333", lw=1.5, ls="--", label="early-exit result"))
        if 1 < len(chosen) <= 10 and not many:
            handles += [Line2D([], [], color=colour[j], lw=2.5, label=f"job {j}") for j in chosen]
        if many:
            handles[-1 - any(info["exit"] for info in self.arrows.values())] = Line2D(
                [], [], color=MANY_COLOUR, lw=2.5, label="routes over a link (width: how many)")
        ax.legend(handles=handles, loc="best", fontsize=7.5, frameon=True, framealpha=0.9)


# ----------------------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Draw a solution: the network by tier, which layers run on which node, and the route of "
                          "every tensor (arrows labelled o_l), with the job's source and sink. RESULT is the record "
                          "of `dnnsplit solve --json` (or --out), or a results file with one record per line.")
    parser.add_argument("instance", metavar="INSTANCE", help="the instance file the result was solved on")
    parser.add_argument("result", metavar="RESULT", help="result record (JSON) or results file (JSONL); '-': stdin")
    parser.add_argument("--out", "-o", required=True, help="figure file: .png, .pdf or .svg")
    parser.add_argument("--job", type=int, action="append", metavar="K",
                        help="draw job K only (repeatable); default: every job, one colour each")
    parser.add_argument("--line", type=int, metavar="N", help="the record on line N of a results file")
    parser.add_argument("--layout", choices=("auto", "geo", "tiered", "spring"), default="auto",
                        help="node positions (default auto: geo for a Zoo instance with its GML, tiered for "
                             "hierarchical networks, else Kamada-Kawai)")
    parser.add_argument("--zoo-file", help="the Topology Zoo .gml of a zoo instance (geographic layout)")
    parser.add_argument("--zoo-archive", help="the Topology Zoo archive (geographic layout; default: the shared one)")
    parser.add_argument("--title", help="figure title (default: instance, pair, status, objective)")


def run_cli(args: argparse.Namespace) -> int:
    from instances.io import InstanceError, load

    try:
        out = Path(args.out)
        if out.suffix.lower() not in (".png", ".pdf", ".svg"):
            raise PlotError(f"--out {out}: expected a .png, .pdf or .svg file")
        if out.is_dir() or not out.parent.is_dir():
            raise PlotError(f"--out {out}: {'is a folder' if out.is_dir() else 'its folder does not exist'}")
        inst = load(args.instance)
        refuse_llm(inst)
        if args.result == "-":
            text, source = sys.stdin.read(), "<stdin>"
        else:
            try:
                text, source = Path(args.result).read_text(encoding="utf-8"), args.result
            except (OSError, UnicodeDecodeError) as err:
                raise PlotError(f"{args.result}: cannot read ({getattr(err, 'strerror', None) or err})") from None
        rec = read_record(text, source, inst, args.line)
        result = result_of_record(rec)
        drawn = draw(inst, result, out, jobs=args.job, how=args.layout, zoo_file=args.zoo_file,
                     zoo_archive=args.zoo_archive, title=args.title)
        print(f"wrote {out} ({drawn['layout']} layout, {len(drawn['jobs'])} job(s) drawn)")
        return 0
    except (PlotError, InstanceError) as err:
        print(f"dnnsplit plot: error: {err}", file=sys.stderr)
        return 2
