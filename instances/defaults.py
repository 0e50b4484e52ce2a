"""The default instance sets: named, deterministic lists of generated instances.

Each set is a fixed list of :func:`instances.generate.generate` calls (family, seed, sizes,
parameters), so ``default_set(name)`` always returns the same instances (byte-identical files).
The first instance of "small", "medium" and "large" is ``canonical(name)``. Sets:

- "small": single job, 8-12 nodes, 6-10 layers, one instance per family plus a measured profile.
- "medium": single job, about 30 nodes and 20 layers: the weak assignment MILP (F1, weak
  linearisation; O(L |N|^2) variables) takes seconds to about a minute on HiGHS.
- "large": single job, 100-150 nodes and 50-60 layers (plus resnet152, 107 layers).
- "multi-small": 5-20 jobs on 12-20 nodes; several where the node/link capacities bind
  (rates high enough that not every job can run on its best route), some with early exits,
  deadlines and accuracy targets, mixed measured models.
- "multi-medium": 50-100 jobs on 40-60 nodes, the same mix.
- "profiles": each of the 12 measured DNNs on a device-edge-cloud line (a cpu1 device, a cpu16
  edge server, an H100 cloud) at uplinks of 1, 10, 100 and 1000 Mbit/s (48 instances): the
  table of optimal split against simple splits.
- "zoo-sample": real Topology Zoo networks (only when the archive is present; empty otherwise).
- "multi-jobs": a jobs sweep (table T4): the same 30-node hierarchical network and the same
  synthetic 10-layer model with 50, 100, 200, 500 and 1,000 jobs (``MULTI_JOBS``); rates uniform
  in [42/J, 140/J] /s, so the total offered load (about 91 requests/s) is the same at every J
  and only the number of commodities grows. That load makes capacities bind: the LP optimum
  uses some node or link at the cap kappa = 0.9 at every J, and the unsplittable optimum lies
  above it. With 20 jobs or fewer the per-job rates overload a single device (infeasible).
- "exits": energy with early exits (table T5): one base instance (15-node hierarchical, 8 jobs,
  8 synthetic layers, 3 exits) at every accuracy target (``EXIT_TARGETS``, x alpha_L) and
  deadline factor (``EXIT_DEADLINES``, x the reference latency): 3 x 3 = 9 instances.
- "fin": six single-job early-exit instances with a deadline and an accuracy target
  (``FIN_INSTANCES``: the first four of ``benchmarks/fin_gamma.py``, where the deadline binds
  tightly, and two with looser deadlines): the FIN gap against gamma (figure F3, table T6).
- "llm-helix": the published Helix case, LLaMA-70B on 24 GPUs (``instances.llm.helix``; only
  when the artifact is in ``../shared/helix``, empty otherwise). Table T8, figure F7.
- "llm": generated LLM clusters (family ``llm-cluster``, ``LLM_INSTANCES``): Llama-2-70B on 24
  and 42 datacenter GPUs in one region and across 3 regions; Llama-2-7B / Llama-3-8B on edge
  clusters of 4, 8 and 16 devices. Table T8, figure F7.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from instances.generate import generate
from instances.io import save
from instances.model import Instance
from instances.profiles import PROFILE_NAMES
from instances.topologies import DEFAULT_ZOO_ARCHIVE

# in the order tables list them
SET_NAMES: tuple[str, ...] = (
    "small", "medium", "large", "multi-small", "multi-medium", "multi-jobs", "exits", "profiles", "fin", "zoo-sample",
    "llm-helix", "llm",
)

UPLINKS_MBPS = (1, 10, 100, 1000)
MULTI_JOBS = (50, 100, 200, 500, 1000)
MULTI_JOBS_LOAD = (42.0, 140.0)  # rate range x J: the same total offered load at every J, enough to bind
EXIT_TARGETS = (0.9, 0.95, 0.99)  # accuracy target / alpha_L
EXIT_DEADLINES = (1.1, 1.5, 2.5)  # deadline / reference latency
# (family, seed, nodes, layers, exits, deadline factor, relative accuracy target); the first four as in
# benchmarks/fin_gamma.py
FIN_INSTANCES = (
    ("hierarchical", 101, 8, 8, 2, 1.2, 0.95),
    ("hierarchical", 102, 10, 10, 3, 1.4, 0.95),
    ("erdos_renyi", 103, 8, 8, 2, 1.15, 0.95),
    ("waxman", 104, 10, 8, 3, 1.05, 0.95),
    ("hierarchical", 105, 10, 10, 3, 2.0, 0.95),
    ("hierarchical", 108, 12, 12, 3, 1.8, 0.9),
)

# (layout, nodes, regions, model, seed): the generated LLM clusters of set "llm"
LLM_INSTANCES = (
    ("datacenter", 24, 1, "llama2_70b", 81),
    ("datacenter", 24, 3, "llama2_70b", 82),
    ("datacenter", 42, 1, "llama2_70b", 83),
    ("datacenter", 42, 3, "llama2_70b", 84),
    ("edge", 4, 1, "llama2_7b", 85),
    ("edge", 8, 1, "llama3_8b", 86),
    ("edge", 16, 1, "llama2_7b", 87),
)

Spec = tuple[str, str, dict[str, Any]]  # (instance name, family, generate keyword arguments)


def _single(prefix: str, nodes: int, layers: int, seeds: Sequence[int]) -> list[Spec]:
    fams = ("hierarchical", "erdos_renyi", "waxman", "barabasi_albert", "grid")
    shapes = ("decreasing", "bottleneck", "random", "uniform", "decreasing")
    out: list[Spec] = []
    for fam, shape, seed in zip(fams, shapes, seeds):
        out.append((f"{prefix}-{fam}-n{nodes}-L{layers}-{shape}-s{seed}", fam,
                    dict(seed=seed, nodes=nodes, layers=layers, shape=shape)))
    return out


def _specs(name: str) -> list[Spec]:
    if name == "small":
        out = _single("small", 10, 8, (1, 2, 3, 4, 5))
        out.append(("small-hierarchical-n8-alexnet-merged-s6", "hierarchical",
                    dict(seed=6, nodes=8, model="alexnet", merge_elementwise=True)))
        out.append(("small-hierarchical-n10-L6-exits2-s7", "hierarchical",
                    dict(seed=7, nodes=10, layers=6, exits=2)))
        return out
    if name == "medium":
        out = _single("medium", 30, 20, (11, 12, 13, 14, 15))
        out.append(("medium-hierarchical-n30-resnet18-s16", "hierarchical", dict(seed=16, nodes=30, model="resnet18")))
        return out
    if name == "large":
        out = _single("large", 120, 60, (21, 22, 23, 24, 25))
        out.append(("large-hierarchical-n150-resnet152-s26", "hierarchical", dict(seed=26, nodes=150, model="resnet152")))
        return out
    if name == "multi-small":
        return [
            ("multi-small-hierarchical-n15-j5-L10-s31", "hierarchical", dict(seed=31, nodes=15, layers=10, jobs=5)),
            ("multi-small-hierarchical-n15-j10-L10-busy-s32", "hierarchical",
             dict(seed=32, nodes=15, layers=10, jobs=10, rate_range=[3.5, 10.5])),
            ("multi-small-erdos_renyi-n15-j10-L8-exits-s33", "erdos_renyi",
             dict(seed=33, nodes=15, layers=8, jobs=10, exits=2, rate_range=[2.0, 8.0])),
            ("multi-small-waxman-n20-j20-L10-deadline-s34", "waxman",
             dict(seed=34, nodes=20, layers=10, jobs=20, deadline_factor=1.5, rate_range=[0.8, 4.0])),
            ("multi-small-hierarchical-n20-j12-mixed-exits-acc-s35", "hierarchical",
             dict(seed=35, nodes=20, jobs=12, models=["resnet18", "mobilenet_v2", "alexnet"], merge_elementwise=True,
                  exits=3, deadline_factor=2.0, accuracy_target_rel=0.97, rate_range=[8.0, 32.0])),
            ("multi-small-barabasi_albert-n12-j8-L12-s36", "barabasi_albert",
             dict(seed=36, nodes=12, layers=12, jobs=8, rate_range=[2.0, 6.0])),
        ]
    if name == "multi-medium":
        return [
            ("multi-medium-hierarchical-n50-j50-L15-s41", "hierarchical", dict(seed=41, nodes=50, layers=15, jobs=50)),
            ("multi-medium-hierarchical-n60-j100-L15-busy-s42", "hierarchical",
             dict(seed=42, nodes=60, layers=15, jobs=100, rate_range=[0.6, 2.4])),
            ("multi-medium-waxman-n40-j60-L12-exits-deadline-s43", "waxman",
             dict(seed=43, nodes=40, layers=12, jobs=60, exits=2, deadline_factor=1.5, rate_range=[0.8, 3.2])),
            ("multi-medium-hierarchical-n50-j80-mixed-exits-acc-s44", "hierarchical",
             dict(seed=44, nodes=50, jobs=80, models=["resnet50", "mobilenet_v2", "efficientnet_b0", "vgg16"],
                  merge_elementwise=True, exits=3, deadline_factor=2.0, accuracy_target_rel=0.97,
                  rate_range=[1.0, 5.0])),
        ]
    if name == "profiles":
        out = []
        for model in PROFILE_NAMES:
            for up in UPLINKS_MBPS:
                out.append((f"profiles-{model}-up{up}mbps", "hierarchical",
                            dict(seed=0, nodes=3, model=model, uplink_mbps=float(up), multihome=0.0,
                                 sink_other_prob=0.0)))
        return out
    if name == "zoo-sample":
        if not Path(DEFAULT_ZOO_ARCHIVE).is_file():
            return []
        arch = str(DEFAULT_ZOO_ARCHIVE)
        return [
            ("zoo-Abilene-resnet50-j1-s51", "zoo", dict(seed=51, zoo_archive=arch, zoo_name="Abilene", model="resnet50")),
            ("zoo-Geant2012-L20-j1-s52", "zoo", dict(seed=52, zoo_archive=arch, zoo_name="Geant2012", layers=20)),
            ("zoo-Cogentco-L20-j1-s53", "zoo", dict(seed=53, zoo_archive=arch, zoo_name="Cogentco", layers=20)),
            ("zoo-Geant2012-j10-mixed-s54", "zoo",
             dict(seed=54, zoo_archive=arch, zoo_name="Geant2012", jobs=10,
                  models=["resnet18", "mobilenet_v2"], merge_elementwise=True, rate_range=[2.0, 8.0])),
        ]
    if name == "multi-jobs":
        lo, hi = MULTI_JOBS_LOAD
        return [(f"multi-jobs-hierarchical-n30-L10-j{j}-s61", "hierarchical",
                 dict(seed=61, nodes=30, layers=10, jobs=j, rate_range=[lo / j, hi / j])) for j in MULTI_JOBS]
    if name == "exits":
        return [(f"exits-hierarchical-n15-j8-L8-x3-acc{acc:g}-df{df:g}-s71", "hierarchical",
                 dict(seed=71, nodes=15, layers=8, jobs=8, exits=3, accuracy_target_rel=acc, deadline_factor=df,
                      rate_range=[0.5, 2.0]))
                for acc in EXIT_TARGETS for df in EXIT_DEADLINES]
    if name == "fin":
        return [(f"fin-{fam}-n{n}-L{layers}-x{x}-f{df:g}-s{seed}", fam,
                 dict(seed=seed, nodes=n, layers=layers, exits=x, deadline_factor=df, accuracy_target_rel=acc))
                for fam, seed, n, layers, x, df, acc in FIN_INSTANCES]
    if name == "llm-helix":
        from instances.llm.helix import helix_available

        return [("llm-helix-cluster24-llama2_70b", "llm-cluster", dict(layout="helix24"))] if helix_available() else []
    if name == "llm":
        return [(f"llm-{layout}-n{n}-{'lan' if layout == 'edge' else f'r{r}'}-{model}-s{seed}", "llm-cluster",
                 dict(layout=layout, seed=seed, nodes=n, model=model, **({"regions": r} if layout == "datacenter" else {})))
                for layout, n, r, model, seed in LLM_INSTANCES]
    raise ValueError(f"unknown default set {name!r}: expected one of {', '.join(SET_NAMES)}")


def default_set(name: str) -> list[Instance]:
    """The instances of set ``name`` (deterministic)."""
    return [generate(family, name=inst_name, **kwargs) for inst_name, family, kwargs in _specs(name)]


def canonical(name: str) -> Instance:
    """The default small/medium/large instance: the first of that set."""
    if name not in ("small", "medium", "large"):
        raise ValueError(f"canonical instances exist for small, medium, large; got {name!r}")
    inst_name, family, kwargs = _specs(name)[0]
    return generate(family, name=inst_name, **kwargs)


def write_default_sets(out_dir: Path, sets: Sequence[str] | None = None) -> list[Path]:
    """Write each set to ``out_dir/<set>/<instance name>.json``; returns the paths written.

    Files of an earlier definition of the set (named ``<set>-*.json`` but no longer in it) are
    removed, so a folder never mixes two versions of a set; other files are left alone.
    """
    out_dir = Path(out_dir)
    names = list(SET_NAMES if sets is None else sets)
    for s in names:
        if s not in SET_NAMES:
            raise ValueError(f"unknown default set {s!r}: expected one of {', '.join(SET_NAMES)}")
    paths = []
    for s in names:
        written = [save(inst, out_dir / s / f"{inst.name}.json") for inst in default_set(s)]
        current = {Path(p).name for p in written}
        for stale in (out_dir / s).glob(f"{s}-*.json"):
            if stale.name not in current:
                stale.unlink()
        paths += written
    return paths
