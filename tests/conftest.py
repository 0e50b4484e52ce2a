"""Shared fixtures (keep small)."""

from __future__ import annotations

from pathlib import Path

import pytest

import dnnsplit.catalogue  # noqa: F401  (registers every formulation and heuristic)
from instances.topologies import DEFAULT_ZOO_ARCHIVE


@pytest.fixture(scope="session")
def zoo_archive() -> Path:
    """The shared Topology Zoo archive; the test is skipped when it is absent."""
    path = Path(DEFAULT_ZOO_ARCHIVE)
    if not path.is_file():
        pytest.skip(f"Topology Zoo archive not found at {path}")
    return path
