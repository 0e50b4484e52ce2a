"""Every import points down the layers of the house (README, "Layout").

Parsed from the source (every ``import`` and ``from ... import``, those inside functions too),
so a lazy import that runs back up fails here as well as a top-level one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# (group, layer): a module may import its own group and any group of a lower layer
LAYERS: tuple[tuple[str, int], ...] = (
    ("instances", 0),
    ("dnnsplit.core", 1),  # dnnsplit/__init__, options, results, registry, machine
    ("dnnsplit.graph", 2),
    ("dnnsplit.solvers", 2),
    ("formulations", 3),
    ("heuristics", 4),
    ("dnnsplit.catalogue", 5),
    ("dnnsplit.campaign", 6),
    ("dnnsplit.tables", 6),
    ("dnnsplit.cli", 7),
    ("dnnsplit.reproduce", 7),
    ("dnnsplit.export", 7),
    ("dnnsplit.plot", 7),
    ("benchmarks", 8),
)
LAYER = dict(LAYERS)
CORE = ("dnnsplit", "dnnsplit.options", "dnnsplit.results", "dnnsplit.registry", "dnnsplit.machine")


def group_of(module: str) -> str | None:
    """The group of a project module name (None: not the project's)."""
    if module in CORE:
        return "dnnsplit.core"
    for group, _ in sorted(LAYERS, key=lambda g: -len(g[0])):
        if module == group or module.startswith(group + "."):
            return group
    return None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            out.append((node.lineno, name))
            out += [(node.lineno, f"{name}.{alias.name}") for alias in node.names if group_of(f"{name}.{alias.name}")]
    return out


SOURCES = sorted(p for g in ("instances", "dnnsplit", "formulations", "heuristics", "benchmarks")
                 for p in (ROOT / g).rglob("*.py"))


def test_every_source_file_has_a_layer():
    assert SOURCES, "no source files found"
    missing = [str(p.relative_to(ROOT)) for p in SOURCES if group_of(module_name(p)) is None]
    assert not missing, f"files outside every layer: {missing}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_down(path: Path):
    me = group_of(module_name(path))
    bad = []
    for line, name in imports_of(path):
        other = group_of(name)
        if other is None or other == me:
            continue
        if LAYER[other] >= LAYER[me]:
            bad.append(f"line {line}: {name} ({other}, layer {LAYER[other]}) from {me} (layer {LAYER[me]})")
    assert not bad, "\n".join(bad)


def test_the_registry_imports_no_formulation():
    """The catalogue, not the registry, knows which modules register."""
    names = {name for _, name in imports_of(ROOT / "dnnsplit" / "registry.py")}
    assert not any(group_of(n) in ("formulations", "heuristics", "dnnsplit.catalogue") for n in names), names
