"""Packaging: the wheel ships the data (profiles), and installs and loads outside the working tree.

The wheel is built from a copy of the working tree (no build/ of an older build in it) with
``pip wheel --no-deps --no-build-isolation --no-index`` (offline) when
the environment's setuptools is recent enough for ``pyproject.toml`` (the ``test`` extra installs
it); otherwise pip builds it in an isolated environment, which downloads setuptools, and the test
is skipped when that needs a network it cannot reach. The wheel is installed into a temporary
folder (``pip install --target``), and a fresh interpreter whose only path to the project is that
folder loads a shipped profile. What ``pip install -e .`` runs (``build_editable``) is checked to be
quiet too.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NEED_SETUPTOOLS = (77, 0)
NETWORK_WORDS = ("Could not find a version", "No matching distribution", "connection", "Network is unreachable",
                 "Temporary failure in name resolution", "Max retries exceeded")


def _setuptools_ok() -> bool:
    try:
        import setuptools
    except ImportError:
        return False
    return tuple(int(x) for x in setuptools.__version__.split(".")[:2]) >= NEED_SETUPTOOLS


def _pip(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pip", *args], cwd=cwd, capture_output=True, text=True, timeout=600)


WARNING = "is absent from the `packages` configuration"  # setuptools' warning about package data
SKIP = {".git", ".venv", "build", "results", "out", "paper_tables", "__pycache__", ".pytest_cache", ".hypothesis",
        ".benchmarks"}


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A copy of the working tree without build outputs (a build in the tree itself would reuse,
    and ship, whatever an older build left in build/)."""
    import shutil

    def ignore(folder: str, names: list[str]) -> set[str]:
        return {n for n in names if n in SKIP or n.endswith(".egg-info")}

    dst = tmp_path_factory.mktemp("src") / "dnnsplit"
    shutil.copytree(ROOT, dst, ignore=ignore)
    return dst


@pytest.fixture(scope="module")
def wheel(source, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    if _setuptools_ok():
        run = _pip("wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(out), str(source), cwd=out)
    else:
        run = _pip("wheel", "--no-deps", "-w", str(out), str(source), cwd=out)
        if run.returncode and any(w in run.stdout + run.stderr for w in NETWORK_WORDS):
            pytest.skip("building the wheel needs setuptools>=77 from the network (pip install -e '.[test]' "
                        "installs it)")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert WARNING not in run.stdout + run.stderr, "setuptools warns about package data"
    wheels = list(out.glob("dnnsplit-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_the_editable_install_is_quiet(source, tmp_path):
    """What ``pip install -e .`` runs (the build backend's build_editable), without installing
    anything: no warning about package data outside the packages."""
    if not _setuptools_ok():
        pytest.skip("needs setuptools>=77 in the environment (pip install -e '.[test]' installs it)")
    code = "import setuptools.build_meta as b, sys; print(b.build_editable(sys.argv[1]))"
    run = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=source, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert WARNING not in run.stdout + run.stderr, run.stderr[-3000:]
    assert (tmp_path / run.stdout.strip().splitlines()[-1]).is_file()


def test_the_wheel_holds_the_shipped_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "instances/data/dnn_profiles.json" in names
    shipped = {f"instances/data/{p.name}" for p in (ROOT / "instances" / "data").iterdir() if p.suffix in (".json", ".md")}
    assert "instances/data/README.md" in shipped and shipped <= names, shipped - names
    assert not [n for n in names if n.startswith("instances/default/")], "generated default instances shipped"
    assert not [n for n in names if "__pycache__" in n or n.startswith("tests/")]
    assert {"dnnsplit/cli.py", "dnnsplit/export.py", "formulations/f3/arc.py", "instances/profiles.py"} <= names


def test_the_installed_wheel_loads_a_profile(wheel, tmp_path):
    target = tmp_path / "site"
    run = _pip("install", "--no-deps", "--no-index", "--target", str(target), str(wheel), cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    probe = (
        "import json, instances, instances.profiles as p\n"
        "from importlib import resources\n"
        "m = p.profile_model('resnet18')\n"
        "print(json.dumps({'package': instances.__file__, 'data': str(resources.files('instances').joinpath("
        "'data/dnn_profiles.json')), 'layers': len(m['layers']), 'models': len(p.load_profiles()['models'])}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PYTHONPATH"] = str(target)
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    got = __import__("json").loads(out.stdout.strip().splitlines()[-1])
    assert Path(got["package"]).resolve().is_relative_to(target.resolve()), got  # not the working tree
    assert Path(got["data"]).resolve().is_relative_to(target.resolve()), got
    assert got["layers"] > 0 and got["models"] == 12
