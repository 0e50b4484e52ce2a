"""The shipped chain profiles against the shared DAG profiles (an independent count)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from instances.profiles import load_profiles

DAG = Path(__file__).resolve().parents[2] / "shared" / "profiles" / "dnn_dag_profiles.json"


@pytest.mark.skipif(not DAG.exists(), reason=f"{DAG} is not there")
def test_every_models_flops_match_the_dag_profile():
    dag = {m["model"]: m for m in json.loads(DAG.read_text())["models"]}
    chain = load_profiles()["models"]
    assert len(chain) == 12
    for m in chain:
        total = sum(layer["flops"] for layer in m["layers"])
        assert total == pytest.approx(dag[m["model"]]["total_flops"], rel=1e-12), m["model"]
        assert m["total_flops"] == pytest.approx(total, rel=1e-12), m["model"]
