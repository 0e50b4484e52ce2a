"""Small hand-written instances for tests (independent of the generator)."""

from __future__ import annotations

from typing import Any


def line_instance_dict(
    *,
    bandwidth: float = 1e6,
    delay: float = 0.001,
    flops: tuple[float, ...] = (2e9, 1e9, 4e8),
    out_bytes: tuple[float, ...] = (4e5, 1e5, 1e3),
) -> dict[str, Any]:
    """device -> edge -> cloud in both directions; one job from device to device."""
    nodes = [
        {"name": "dev", "tier": "device", "device_class": None, "speed": 1e9, "power": 5.0, "memory": 4e9},
        {"name": "edge", "tier": "edge", "device_class": None, "speed": 1e10, "power": 50.0, "memory": 16e9},
        {"name": "cloud", "tier": "cloud", "device_class": None, "speed": 1e11, "power": 300.0, "memory": 64e9},
    ]
    links = []
    for a, b, bw in (("dev", "edge", bandwidth), ("edge", "cloud", 10 * bandwidth)):
        for s, t in ((a, b), (b, a)):
            links.append({"source": s, "target": t, "bandwidth": bw, "delay": delay, "energy_per_byte": 1e-7})
    layers = [
        {"name": f"l{i}", "flops": f, "output_bytes": o, "param_bytes": 1e6}
        for i, (f, o) in enumerate(zip(flops, out_bytes))
    ]
    return {
        "format": "dnnsplit-instance",
        "version": 1,
        "name": "line",
        "utilisation_cap": 0.9,
        "generator": None,
        "nodes": nodes,
        "links": links,
        "models": [{"name": "m", "input_bytes": 6e5, "accuracy": None, "layers": layers, "exits": []}],
        "jobs": [
            {"name": "j0", "model": "m", "source": "dev", "sink": "dev", "rate": 1.0, "deadline": None, "accuracy_target": None}
        ],
    }
