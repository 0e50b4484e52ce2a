"""Instance format: round trip, hash stability, validation with field paths, mutation fuzzing."""

from __future__ import annotations

import copy
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dnnsplit.cli import main as cli_main
from instances.generate import generate
from instances.io import InstanceError, dumps, instance_from_dict, instance_to_dict, load, loads, save
from tests.helpers import line_instance_dict

ROOT = Path(__file__).resolve().parents[1]


def _rich_instance():
    """A small generated instance using every optional feature (exits, deadlines, targets, times)."""
    return generate("hierarchical", seed=5, nodes=5, jobs=2, models=["synthetic", "alexnet"], layers=4,
                    merge_elementwise=True, exits=2, deadline_factor=1.5, accuracy_target_rel=0.9)


# ----------------------------------------------------------------------------- round trip


def test_save_load_round_trip_is_byte_identical(tmp_path):
    inst = _rich_instance()
    path = save(inst, tmp_path / "a.json")
    again = load(path)
    assert dumps(again) == dumps(inst) == path.read_text()
    path2 = save(again, tmp_path / "b.json")
    assert path2.read_bytes() == path.read_bytes()
    assert again.hash == inst.hash


def test_hash_is_stable_across_calls_and_processes():
    a, b = _rich_instance(), _rich_instance()
    assert a.hash == b.hash and len(a.hash) == 16
    code = ("from tests.test_io import _rich_instance; print(_rich_instance().hash)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == a.hash
    # and the hash changes when the content does
    d = instance_to_dict(a)
    d["links"][0]["delay"] += 1e-3
    assert instance_from_dict(d).hash != a.hash


# ----------------------------------------------------------------------------- malformations


def _set(d: dict, path: list, value: Any) -> None:
    for k in path[:-1]:
        d = d[k]
    d[path[-1]] = value


def _del(d: dict, path: list) -> None:
    for k in path[:-1]:
        d = d[k]
    del d[path[-1]]


def _mutated(change) -> dict:
    d = line_instance_dict()
    change(d)
    return d


def _unreachable_sink(d):
    d["jobs"][0]["sink"] = "cloud"
    d["links"] = [l for l in d["links"] if l["target"] != "cloud"]


def _no_compute(d):
    for n in d["nodes"]:
        if n["name"] == "dev":
            n["speed"] = 0.0
    d["links"] = [l for l in d["links"] if l["source"] != "dev"]


def _two_exits(d):
    d["models"][0]["exits"] = [
        {"after_layer": 1, "probability": 0.6, "head_flops": 1e6, "accuracy": 0.5, "result_bytes": 4e3},
        {"after_layer": 2, "probability": 0.6, "head_flops": 1e6, "accuracy": 0.6, "result_bytes": 4e3},
    ]


MALFORMED = [
    ("missing node field", lambda d: _del(d, ["nodes", 0, "speed"]), "nodes[0].speed", "missing"),
    ("missing top-level field", lambda d: _del(d, ["jobs"]), "jobs", "missing"),
    ("extra link field", lambda d: _set(d, ["links", 1, "colour"], "red"), "links[1].colour", "unknown field"),
    ("extra top-level field", lambda d: _set(d, ["comment"], "x"), "comment", "unknown field"),
    ("string speed", lambda d: _set(d, ["nodes", 1, "speed"], "fast"), "nodes[1].speed", "expected a number"),
    ("bool rate", lambda d: _set(d, ["jobs", 0, "rate"], True), "jobs[0].rate", "expected a number"),
    ("list for nodes", lambda d: _set(d, ["nodes"], {"a": 1}), "nodes", "expected a list"),
    ("zero bandwidth", lambda d: _set(d, ["links", 2, "bandwidth"], 0), "links[2].bandwidth", "must be >"),
    ("negative bandwidth", lambda d: _set(d, ["links", 0, "bandwidth"], -5.0), "links[0].bandwidth", "must be >"),
    ("negative delay", lambda d: _set(d, ["links", 0, "delay"], -1e-3), "links[0].delay", "must be >="),
    ("NaN flops", lambda d: _set(d, ["models", 0, "layers", 1, "flops"], math.nan), "models[0].layers[1].flops",
     "finite"),
    ("link to unknown node", lambda d: _set(d, ["links", 3, "target"], "moon"), "links[3].target", "unknown node"),
    ("unreachable sink", _unreachable_sink, "jobs[0].sink", "cannot be reached"),
    ("no reachable compute node", _no_compute, "jobs[0].source", "no compute node"),
    ("empty layers", lambda d: _set(d, ["models", 0, "layers"], []), "models[0].layers", "must not be empty"),
    ("exit probabilities > 1", _two_exits, "models[0].exits", "sum to"),
    ("exit probability > 1", lambda d: _set(d, ["models", 0, "exits"], [
        {"after_layer": 1, "probability": 1.5, "head_flops": 0, "accuracy": 0.5, "result_bytes": 1}]),
     "models[0].exits[0].probability", "must be <="),
    ("unsupported version", lambda d: _set(d, ["version"], 2), "version", "unsupported format version"),
    ("wrong format", lambda d: _set(d, ["format"], "other"), "format", "expected"),
    ("unknown tier", lambda d: _set(d, ["nodes", 0, "tier"], "fog"), "nodes[0].tier", "must be one of"),
    ("duplicate node", lambda d: _set(d, ["nodes", 1, "name"], "dev"), "nodes[1].name", "duplicate"),
    ("unknown model", lambda d: _set(d, ["jobs", 0, "model"], "x"), "jobs[0].model", "unknown model"),
]


@pytest.mark.parametrize("label, change, path, reason", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_instances_name_the_field(label, change, path, reason):
    with pytest.raises(InstanceError) as info:
        instance_from_dict(_mutated(change))
    assert info.value.path == path
    assert reason in info.value.reason


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_json_text_nan_and_infinity_are_refused(token):
    text = json.dumps(line_instance_dict()).replace('"delay": 0.001', f'"delay": {token}', 1)
    with pytest.raises(InstanceError) as info:
        loads(text)
    assert info.value.path == "links[0].delay" and "finite" in info.value.reason


def test_not_json_and_not_an_object():
    with pytest.raises(InstanceError, match="not valid JSON"):
        loads("{")
    with pytest.raises(InstanceError, match="expected an object"):
        loads("[1, 2]")


def test_cli_validate_reports_the_field_path(tmp_path, capsys):
    good = save(_rich_instance(), tmp_path / "good.json")
    bad = tmp_path / "bad.json"
    d = line_instance_dict()
    d["links"][2]["bandwidth"] = 0
    bad.write_text(json.dumps(d))
    assert cli_main(["validate", str(good)]) == 0
    capsys.readouterr()
    assert cli_main(["validate", str(good), str(bad)]) != 0
    err = capsys.readouterr().err
    assert "links[2].bandwidth" in err and str(bad) in err


# ----------------------------------------------------------------------------- mutation fuzzing

BASE = instance_to_dict(_rich_instance())


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node[:3]):  # the first few items of each list suffice
            out += _paths(v, prefix + (i,))
    return out


PATHS = [p for p in _paths(BASE) if p]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)


@st.composite
def mutations(draw):
    d = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        parent = d
        try:
            for k in path[:-1]:
                parent = parent[k]
            current = parent[path[-1]]
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or retyped this part
        op = draw(st.sampled_from(["delete", "add", "replace", "negate", "nan", "zero", "dup"]))
        key = path[-1]
        if op == "delete":
            if isinstance(parent, list):
                parent.pop(key)
            else:
                del parent[key]
        elif op == "add" and isinstance(current, dict):
            current[draw(st.text(min_size=1, max_size=6))] = draw(json_values)
        elif op == "add" and isinstance(current, list):
            current.append(draw(json_values))
        elif op == "negate" and isinstance(current, (int, float)) and not isinstance(current, bool):
            parent[key] = -current
        elif op == "nan":
            parent[key] = draw(st.sampled_from([math.nan, math.inf, -math.inf, 1e308 * 10, 10**400]))
        elif op == "zero":
            parent[key] = 0
        elif op == "dup" and isinstance(parent, list):
            parent.append(copy.deepcopy(current))
        else:
            parent[key] = draw(json_values)
    return d


@settings(derandomize=True, deadline=None, max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(data=mutations())
def test_mutations_are_accepted_and_round_trip_or_refused(data):
    try:
        inst = instance_from_dict(data)
    except InstanceError as err:
        assert str(err)  # a message naming the problem
        return
    text = dumps(inst)
    again = loads(text)
    assert dumps(again) == text


@settings(derandomize=True, deadline=None, max_examples=150)
@given(data=mutations())
def test_mutated_json_text_is_accepted_or_refused(data):
    """The same through the text reader (non-finite numbers become JSON NaN/Infinity tokens)."""
    try:
        text = json.dumps(data)
    except (ValueError, OverflowError):
        return
    try:
        inst = loads(text)
    except InstanceError:
        return
    assert dumps(loads(dumps(inst))) == dumps(inst)
