"""Topology Zoo reader: every archive network loads or is refused with a reason; GML rules."""

from __future__ import annotations

import numpy as np
import pytest

from instances.generate import generate, zoo_survey
from instances.topologies import TopologyError, zoo_names, zoo_topology

GML = """graph [
  node [ id 0 label "A" Latitude 0.0 Longitude 0.0 ]
  node [ id 1 label "B" Latitude 0.0 Longitude 1.0 ]
  node [ id 2 label "C" ]
  node [ id 3 label "D" Latitude 1.0 Longitude 1.0 ]
  edge [ source 0 target 1 LinkSpeedRaw 1000000000.0 ]
  edge [ source 1 target 0 LinkSpeed "10" LinkSpeedUnits "G" ]
  edge [ source 1 target 2 ]
  edge [ source 1 target 3 LinkSpeed "155" LinkSpeedUnits "M" ]
  edge [ source 3 target 3 ]
]
"""


def _links(topo):
    return {(l["source"], l["target"]): l for l in topo.links}


def test_gml_rules_parallel_edges_speed_and_delay():
    topo = zoo_topology(np.random.default_rng(0), GML, "toy")
    links = _links(topo)
    # parallel A-B edges (no multigraph flag in the file) merge: capacities summed
    assert links[("A", "B")]["bandwidth"] == pytest.approx((1e9 + 10e9) / 8)
    assert links[("B", "A")] == {**links[("A", "B")], "source": "B", "target": "A"}
    # great-circle delay: one degree of longitude at the equator is 111.19 km, at 2e8 m/s
    assert links[("A", "B")]["delay"] == pytest.approx(111.195e3 / 2e8, rel=1e-3)
    # C has no coordinates: the documented default delay and speed
    assert links[("B", "C")]["delay"] == 0.001 and links[("B", "C")]["bandwidth"] == 1e9 / 8
    assert links[("B", "D")]["bandwidth"] == pytest.approx(155e6 / 8)
    assert ("D", "D") not in links  # self-loop dropped
    assert topo.info["merged_parallel_edges"] == 1 and topo.info["links_default_speed"] == 1
    tiers = {n["name"]: n["tier"] for n in topo.nodes}
    assert tiers["B"] == "cloud"  # the highest-degree PoP
    # degree-1 PoPs (A, C, D) get an attached device each
    devices = [n for n, t in tiers.items() if t == "device"]
    assert sorted(d.split("@")[1] for d in devices) == ["A", "C", "D"]


@pytest.mark.parametrize(
    "text, reason",
    [
        ("graph [ node [ id 0 ] node [ id 1 ] edge [ source 0 target 1 ] ]", "too small"),
        ("graph [ node [ id 0 ] node [ id 1 ] node [ id 2 ] node [ id 3 ] edge [ source 0 target 1 ] "
         "edge [ source 2 target 3 ] ]", "disconnected: 2 components"),
        ("graph [ node [ id 0 ", "unparseable GML"),
        ("not gml at all", "unparseable GML"),
    ],
)
def test_refusals_name_the_reason(text, reason):
    with pytest.raises(TopologyError, match=reason):
        zoo_topology(np.random.default_rng(0), text, "bad")


def test_largest_component_option():
    text = ("graph [ node [ id 0 ] node [ id 1 ] node [ id 2 ] node [ id 3 ] node [ id 4 ] "
            "edge [ source 0 target 1 ] edge [ source 1 target 2 ] edge [ source 3 target 4 ] ]")
    topo = zoo_topology(np.random.default_rng(0), text, "two", zoo_largest_component=True)
    assert topo.info["pops"] == 3 and topo.info["dropped_pops"] == 2


def test_zoo_file_parameter(tmp_path):
    path = tmp_path / "Toy.gml"
    path.write_text(GML)
    a = generate("zoo", zoo_file=str(path), model="alexnet", seed=1)
    b = generate("zoo", zoo_file=str(path), model="alexnet", seed=1)
    assert a.hash == b.hash and a.name.startswith("zoo-Toy-")
    assert a.generator["params"]["zoo_name"] == "Toy" and "zoo_file" not in a.generator["params"]


def test_every_archive_network_loads_or_is_refused(zoo_archive):
    result = zoo_survey(zoo_archive)
    names = zoo_names(zoo_archive)
    assert result["files"] == len(names) > 200
    assert result["loaded"] + sum(result["refused"].values()) == len(names)
    assert set(result["refused_names"]) <= set(names)
    assert all(reason for reason in result["refused_names"].values())
    assert result["loaded"] >= 0.8 * len(names)


def test_archive_member_geography(zoo_archive):
    inst = generate("zoo", zoo_archive=zoo_archive, zoo_name="Abilene")
    net = inst.network
    i, j = net.index("New York"), net.index("Chicago")
    (a,) = [k for k in range(net.num_links) if net.link_source[k] == i and net.link_target[k] == j]
    # New York - Chicago is about 1145 km great-circle: about 5.7 ms in fibre
    assert net.delay[a] == pytest.approx(1145e3 / 2e8, rel=0.02)
    assert net.bandwidth[a] == 1e9 / 8  # Abilene states no link speeds: the 1 Gbit/s default
