"""``dnnsplit plot``: a PNG of one solution; a result of another instance is refused."""

from __future__ import annotations

import json

import matplotlib.image
import numpy as np
import pytest

from dnnsplit import catalogue, plot
from dnnsplit.cli import main
from dnnsplit.options import SolverOptions
from instances.generate import generate
from instances.io import save

OPTS = SolverOptions(time_limit=60)
TAB_BLUE = np.array([31, 119, 180]) / 255  # the colour of the first job drawn


def _solve(inst, pair=("F2", "layered-dijkstra")):
    return catalogue.run(catalogue.get(*pair), inst, OPTS)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A small hierarchical instance, its instance file and its solve record file."""
    d = tmp_path_factory.mktemp("plot")
    inst = generate("hierarchical", seed=4, nodes=10, layers=6)
    save(inst, d / "inst.json")
    (d / "result.json").write_text(_solve(inst).to_json(indent=1))
    return inst, d


def _png_pixels(path):
    img = matplotlib.image.imread(path)
    assert img.ndim == 3 and img.shape[0] > 300 and img.shape[1] > 300
    return img[..., :3]


def test_writes_a_png_with_the_route_and_placement(small, capsys):
    inst, d = small
    out = d / "fig.png"
    assert main(["plot", str(d / "inst.json"), str(d / "result.json"), "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    px = _png_pixels(out)
    route_pixels = np.all(np.abs(px - TAB_BLUE) < 0.08, axis=-1).sum()
    assert route_pixels > 200, "no route drawn in the job's colour"
    # the nodes labelled with layers are exactly the nodes the decision places layers on
    result = _solve(inst)
    info = plot.draw(inst, result, d / "again.png")
    placed = {inst.network.node_names[n] for route in result.decision[0] for n in route.placement}
    assert set(info["labelled"]) == placed
    assert info["layout"] == "tiered"


def test_refuses_a_result_of_another_instance(small, capsys):
    inst, d = small
    other = generate("hierarchical", seed=5, nodes=10, layers=6)
    save(other, d / "other.json")
    out = d / "wrong.png"
    capsys.readouterr()
    assert main(["plot", str(d / "other.json"), str(d / "result.json"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "hash" in err and inst.hash in err and other.hash in err, err
    assert "Traceback" not in err and not out.exists()


def test_picks_its_record_from_a_results_file(small, capsys):
    """A campaign-style file: the record of the instance is found by hash; two of them need --line."""
    _, d = small
    other = generate("hierarchical", seed=5, nodes=10, layers=6)
    mine = json.loads((d / "result.json").read_text())
    lines = [json.dumps({**_solve(other).to_dict(), "key": "x", "pair": "F2/layered-dijkstra"}),
             json.dumps({**mine, "key": "y", "source": "campaign"})]
    (d / "two.jsonl").write_text("\n".join(lines) + "\n")
    assert main(["plot", str(d / "inst.json"), str(d / "two.jsonl"), "-o", str(d / "f.png")]) == 0
    (d / "three.jsonl").write_text("\n".join(lines + [lines[1]]) + "\n")
    capsys.readouterr()
    assert main(["plot", str(d / "inst.json"), str(d / "three.jsonl"), "-o", str(d / "g.png")]) == 2
    assert "--line" in capsys.readouterr().err
    assert main(["plot", str(d / "inst.json"), str(d / "three.jsonl"), "-o", str(d / "g.png"), "--line", "3"]) == 0
    capsys.readouterr()
    assert main(["plot", str(d / "inst.json"), str(d / "three.jsonl"), "-o", str(d / "h.png"), "--line", "1"]) == 2
    assert "hash" in capsys.readouterr().err


def test_refusals_are_one_line(small, capsys, tmp_path):
    inst, d = small
    bad = _solve(inst).to_dict()
    bad["decision"], bad["status"] = None, "infeasible"
    (tmp_path / "none.json").write_text(json.dumps(bad))
    cases = [
        ([str(d / "inst.json"), str(tmp_path / "none.json"), "-o", str(tmp_path / "a.png")], "no decision"),
        ([str(d / "inst.json"), str(d / "result.json"), "-o", str(tmp_path / "a.png"), "--job", "3"], "job 3"),
        ([str(d / "inst.json"), str(d / "result.json"), "-o", str(tmp_path / "a.txt")], ".png"),
        ([str(d / "inst.json"), str(tmp_path / "missing.json"), "-o", str(tmp_path / "a.png")], "cannot read"),
        ([str(d / "inst.json"), str(d / "inst.json"), "-o", str(tmp_path / "a.png")], "not a result record"),
    ]
    for args, words in cases:
        capsys.readouterr()
        assert main(["plot", *args]) == 2, args
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and words in err and "Traceback" not in err, err
    assert not list(tmp_path.glob("*.png"))


def test_multi_job_result_draws_every_job_or_one(tmp_path):
    inst = generate("hierarchical", seed=31, nodes=12, layers=5, jobs=4, rate_range=[0.5, 1.0])
    result = _solve(inst, ("F3-latency-milp", "highspy"))
    assert result.decision
    every = plot.draw(inst, result, tmp_path / "all.png")
    assert every["jobs"] == sorted(result.decision)
    one = plot.draw(inst, result, tmp_path / "one.png", jobs=[2])
    assert one["jobs"] == [2]
    placed = {inst.network.node_names[n] for route in result.decision[2] for n in route.placement}
    assert set(one["labelled"]) == placed


GML = """graph [
  node [ id 0 label "West" Latitude 50.0 Longitude 0.0 ]
  node [ id 1 label "East" Latitude 50.0 Longitude 10.0 ]
  node [ id 2 label "North" Latitude 58.0 Longitude 5.0 ]
  node [ id 3 label "South" Latitude 42.0 Longitude 5.0 ]
  node [ id 4 label "Centre" Latitude 50.0 Longitude 5.0 ]
  edge [ source 0 target 4 ] edge [ source 1 target 4 ] edge [ source 2 target 4 ] edge [ source 3 target 4 ]
  edge [ source 0 target 2 ] edge [ source 1 target 3 ]
]
"""


def test_geo_layout_follows_the_gml_coordinates(tmp_path):
    gml = tmp_path / "Cross.gml"
    gml.write_text(GML)
    inst = generate("zoo", zoo_file=str(gml), layers=4, seed=2)
    pos, how = plot.layout(inst, "auto", zoo_file=str(gml))
    assert how == "geo"
    names = inst.network.node_names
    x = {names[n]: p[0] for n, p in pos.items()}
    y = {names[n]: p[1] for n, p in pos.items()}
    assert x["West"] < x["Centre"] < x["East"] and y["South"] < y["Centre"] < y["North"]
    devices = [n for n, t in enumerate(inst.network.tier) if t == "device"]
    assert devices and all(np.all(np.isfinite(pos[n])) for n in devices)
    # a GML that is not the instance's (another SHA-256) is not used for geography
    gml.write_text(GML.replace("58.0", "59.0"))
    assert plot.layout(inst, "auto", zoo_file=str(gml))[1] != "geo"
    with pytest.raises(plot.PlotError, match="geo"):
        plot.layout(inst, "geo", zoo_file=str(gml))


def test_topology_zoo_instance(zoo_archive, tmp_path):
    """A default Zoo instance (Geant2012): geographic layout from the shared archive, and the
    routes' region enlarged beside the map when the routes are short."""
    from instances.defaults import default_set

    inst = next(i for i in default_set("zoo-sample") if i.name.startswith("zoo-Geant2012-L20"))
    result = _solve(inst)
    info = plot.draw(inst, result, tmp_path / "zoo.png", zoo_archive=str(zoo_archive))
    assert info["layout"] == "geo"
    assert (tmp_path / "zoo.png").stat().st_size > 50_000
    spread = np.ptp(info["positions"], axis=0).max()
    net = inst.network
    used = {n for route in result.decision[0] for n in route.placement} | {inst.jobs[0].source, inst.jobs[0].sink}
    used |= {int(end[a]) for route in result.decision[0] for path in route.paths for a in path
             for end in (net.link_source, net.link_target)}
    route_spread = np.ptp(info["positions"][sorted(used)], axis=0).max()
    assert info["zoom"] == (route_spread < plot.ZOOM_BELOW * spread)
    _readable(info)


def test_plots_the_record_that_solve_writes(small, capsys):
    """`dnnsplit solve --out` (decisions annotated with names) feeds `dnnsplit plot` as it is."""
    _, d = small
    rec = d / "solve-out.json"
    assert main(["solve", str(d / "inst.json"), "-f", "F1-aggregated", "-b", "highspy", "--out", str(rec)]) == 0
    assert "placement_names" in rec.read_text()
    assert main(["plot", str(d / "inst.json"), str(rec), "-o", str(d / "solve-out.png")]) == 0
    assert (d / "solve-out.png").stat().st_size > 10_000


def _readable(info):
    """Placement labels inside the figure and apart from each other."""
    boxes, (w, h) = info["label_boxes"], info["size_px"]
    assert boxes, "no placement label drawn"
    for b in boxes:
        assert 0 <= b[0] and b[2] <= w and 0 <= b[1] and b[3] <= h, (b, w, h)
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), ("labels overlap", a, b)


@pytest.mark.parametrize("set_name,prefix", [("small", "small-waxman"), ("small", "small-hierarchical-n10-L6-exits2"),
                                             ("medium", "medium-grid"), ("medium", "medium-hierarchical-n30-resnet18"),
                                             ("multi-small", "multi-small-hierarchical-n20-j12")])
def test_default_instances_are_drawn_readably(set_name, prefix, tmp_path):
    """Default instances: every node that runs layers is labelled, the labels stay inside the
    figure without overlapping, and the figure's pixels show the first job's colour."""
    from instances.defaults import default_set

    inst = next(i for i in default_set(set_name) if i.name.startswith(prefix))
    result = _solve(inst, ("F2", "layered-dijkstra") if len(inst.jobs) == 1 else ("F3-latency-lp", "highspy"))
    info = plot.draw(inst, result, tmp_path / "fig.png")
    placed = {inst.network.node_names[n] for routes in result.decision.values() for r in routes for n in r.placement}
    assert set(info["labelled"]) == placed
    _readable(info)
    if len(inst.jobs) == 1:
        px = _png_pixels(tmp_path / "fig.png")
        assert np.all(np.abs(px - TAB_BLUE) < 0.08, axis=-1).sum() > 200


def test_llm_instances_are_refused(tmp_path, capsys):
    inst = tmp_path / "llm.json"
    assert main(["generate", "llm-cluster", "--seed", "2", "--nodes", "4", "-p", "layout=edge", "-o", str(inst)]) == 0
    assert main(["solve", str(inst), "-f", "pipeedge", "-b", "dp", "--out", str(tmp_path / "r.json")]) == 0
    capsys.readouterr()
    assert main(["plot", str(inst), str(tmp_path / "r.json"), "-o", str(tmp_path / "llm.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "LLM pipeline-placement instance" in err, err
    assert not list(tmp_path.glob("*.png"))


def test_units_are_the_cli_units():
    """plot and export name an objective's unit as `dnnsplit solve` prints it: from one table."""
    from dnnsplit import export
    from dnnsplit.results import OBJECTIVE_UNITS

    from dnnsplit import catalogue

    assert {spec.objective for spec in catalogue.specs()} <= set(OBJECTIVE_UNITS)  # every pair's objective has a unit
    for name, (unit, _) in OBJECTIVE_UNITS.items():
        assert export.objective_unit(name) == unit
    assert export.objective_unit("no-such-objective") == ""
