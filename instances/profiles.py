"""DNN models for the generator: the 12 measured profiles, synthetic chains and early exits.

Measured profiles (``instances/data/dnn_profiles.json``, provenance in ``instances/data/README.md``):
torchvision architectures cut at the points where one tensor is live, with FLOPs, output and
parameter bytes and measured per-layer times on the device classes "gpu", "cpu16", "cpu1".
:func:`profile_model` turns one into an instance-format model dict; the full-network accuracy
alpha_L is the torchvision ImageNet-1k top-1 of the pretrained weights (torchvision model
documentation, "Acc@1"), as a fraction.

``merge_elementwise=True`` merges every layer with zero FLOPs whose output size equals its
predecessor's output size (ReLU, BatchNorm, Dropout, flatten of an already flat tensor...) into
that predecessor: FLOPs, parameter bytes and measured times are summed, the output size is
unchanged. A zero-FLOP layer that changes the tensor size (max pooling, adaptive pooling) is
kept: it is a split point with a different tensor. The first layer is never merged (it has no
predecessor layer). Total FLOPs, total times and the final output size are preserved.

vit_b_16 has 13 pseudo-layers (shape asserts) with no output tensor (``output_bytes`` 0 in the
file); they pass their input through, so their output size is set to their predecessor's.

Synthetic chains (:func:`synthetic_model`): ``layers`` layers, input 3x224x224 float32
(602112 bytes), final output 4000 bytes (1000 float32 logits), total work ``gflops`` (default 5
GFLOP), parameter bytes ``0.02 x FLOPs`` per layer (VGG16/ResNet50 are 0.012-0.018 bytes/FLOP),
lognormal noise of sigma ``noise`` (default 0.25) on each layer's FLOPs and size. Shapes of the
intermediate sizes o_1..o_{L-1} (before noise), with t = l / L:
- "uniform": constant o_l = input size, constant FLOPs;
- "decreasing": CNN-like, o_l = 2 x input x (final/(2 x input))^t (geometric from twice the
  input down to the result size), FLOPs constant;
- "bottleneck": o_l = input x (1 - 0.98 sin(pi t)) (small tensor in the middle, large at both
  ends: an encoder-decoder), FLOPs constant;
- "random": o_l = input x 10^U(-2, 0.5), FLOPs lognormal with sigma 1.
No measured times: tau = w_l / c_n.

Early exits (:func:`add_exits`), a stylised BranchyNet-like curve (Teerapittayanon et al.,
"BranchyNet", ICPR 2016: later exits are more accurate; most samples leave early when exits
are confident). ``exits=k`` places k exits after layers round(L i / (k+1)), i = 1..k (duplicates
and positions outside 1..L-1 dropped). With d = after_layer / L the relative depth:
- conditional exit probability p_x = exit_confidence x d (default exit_confidence 0.8); the
  unconditional fraction is q_x = p_x x (1 - sum of earlier q) so sum q < 1 always;
- accuracy of the samples leaving at x: alpha_x = alpha_L x (1 - exit_accuracy_drop x (1 - d))
  (default drop 0.3: an exit at a quarter of the depth keeps 77.5 % of alpha_L);
- head FLOPs h_x = 1 % of the model's total FLOPs; result bytes = the model's final output size.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

PROFILE_NAMES = (
    "alexnet", "vgg16", "resnet18", "resnet50", "resnet152", "mobilenet_v2", "mobilenet_v3_large",
    "efficientnet_b0", "googlenet", "squeezenet1_0", "shufflenet_v2_x1_0", "vit_b_16",
)

# torchvision ImageNet-1k top-1 accuracy (Acc@1) of the default pretrained weights, as fractions.
# Source: torchvision model documentation (pytorch.org/vision/stable/models.html).
TOP1_ACCURACY = {
    "alexnet": 0.56522, "vgg16": 0.71592, "resnet18": 0.69758, "resnet50": 0.76130,
    "resnet152": 0.78312, "mobilenet_v2": 0.71878, "mobilenet_v3_large": 0.74042,
    "efficientnet_b0": 0.77692, "googlenet": 0.69778, "squeezenet1_0": 0.58092,
    "shufflenet_v2_x1_0": 0.69362, "vit_b_16": 0.81072,
}

SHAPES = ("uniform", "decreasing", "bottleneck", "random")
SYNTHETIC_INPUT_BYTES = 3 * 224 * 224 * 4
SYNTHETIC_RESULT_BYTES = 4000.0
SYNTHETIC_ACCURACY = 0.75  # alpha_L for synthetic chains (a round, ResNet-like figure)
PARAM_BYTES_PER_FLOP = 0.02


class ModelSpecError(ValueError):
    """An unknown model name or a bad model parameter."""


@lru_cache(maxsize=None)
def shipped_json(filename: str) -> dict[str, Any]:
    """A JSON file shipped in ``instances/data/`` (package data), parsed once per process."""
    return json.loads(resources.files("instances").joinpath(f"data/{filename}").read_text())


def load_profiles() -> dict[str, Any]:
    """The shipped DNN chain profiles (``dnn_profiles.json``)."""
    return shipped_json("dnn_profiles.json")


def profile_table(name: str) -> dict[str, Any]:
    """The raw profile record of one measured model."""
    for m in load_profiles()["models"]:
        if m["model"] == name:
            return m
    raise ModelSpecError(f"unknown model {name!r}: expected 'synthetic' or one of {', '.join(PROFILE_NAMES)}")


def merge_elementwise_layers(layers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Merge zero-FLOP layers that keep the tensor size into their predecessor (see module doc)."""
    out: list[dict[str, Any]] = []
    for layer in layers:
        if out and layer["flops"] == 0 and layer["output_bytes"] == out[-1]["output_bytes"]:
            prev = out[-1]
            prev["name"] = prev["name"] if prev["name"].endswith("+") else prev["name"] + "+"
            prev["param_bytes"] += layer["param_bytes"]
            if "time_s" in prev:
                prev["time_s"] = {c: prev["time_s"][c] + layer["time_s"][c] for c in prev["time_s"]}
            continue
        out.append({k: (dict(v) if isinstance(v, dict) else v) for k, v in layer.items()})
    for layer in out:
        if layer["name"].endswith("+"):
            layer["name"] = layer["name"][:-1] + "+merged"
    return out


def profile_model(name: str, *, merge_elementwise: bool = False) -> dict[str, Any]:
    """Instance-format model dict of a measured profile (no exits)."""
    rec = profile_table(name)
    layers = [
        {
            "name": l["name"],
            "flops": float(l["flops"]),
            "output_bytes": float(l["output_bytes"]),
            "param_bytes": float(l["param_bytes"]),
            "time_s": {c: float(t) for c, t in sorted(l["time_s"].items())},
        }
        for l in rec["layers"]
    ]
    # A pseudo-layer with no output tensor (vit_b_16's shape asserts: output_shape null,
    # output_bytes 0) passes its input through: the tensor live after it is its predecessor's.
    for i, layer in enumerate(layers):
        if layer["output_bytes"] <= 0:
            layer["output_bytes"] = layers[i - 1]["output_bytes"] if i > 0 else float(rec["input_bytes"])
    if merge_elementwise:
        layers = merge_elementwise_layers(layers)
    machine = load_profiles().get("machine", {})
    return {
        "name": name + ("-merged" if merge_elementwise else ""),
        "input_bytes": float(rec["input_bytes"]),
        "accuracy": TOP1_ACCURACY[name],
        "provenance": (
            f"measured profile {name} ({rec.get('architecture', '')}; torch {machine.get('torch', '?')}, "
            f"batch 1, float32); accuracy: torchvision ImageNet top-1"
            + ("; zero-FLOP same-size layers merged" if merge_elementwise else "")
        ),
        "layers": layers,
        "exits": [],
    }


def synthetic_model(
    rng: np.random.Generator,
    layers: int,
    *,
    shape: str = "decreasing",
    gflops: float = 5.0,
    noise: float = 0.25,
    name: str | None = None,
) -> dict[str, Any]:
    """Instance-format model dict of a synthetic chain (see module doc)."""
    if isinstance(layers, bool) or not isinstance(layers, (int, np.integer)) or layers < 1:
        raise ModelSpecError(f"layers must be an integer >= 1, got {layers!r}")
    if shape not in SHAPES:
        raise ModelSpecError(f"shape must be one of {', '.join(SHAPES)}, got {shape!r}")
    if not (gflops > 0 and math.isfinite(gflops)):
        raise ModelSpecError(f"gflops must be > 0, got {gflops!r}")
    if not (noise >= 0 and math.isfinite(noise)):
        raise ModelSpecError(f"noise must be >= 0, got {noise!r}")
    L = int(layers)
    inp = float(SYNTHETIC_INPUT_BYTES)
    t = np.arange(1, L + 1) / L
    if shape == "uniform":
        size = np.full(L, inp)
        work = np.ones(L)
    elif shape == "decreasing":
        size = 2 * inp * (SYNTHETIC_RESULT_BYTES / (2 * inp)) ** t
        work = np.ones(L)
    elif shape == "bottleneck":
        size = inp * (1 - 0.98 * np.sin(np.pi * t))
        work = np.ones(L)
    else:
        size = inp * 10 ** rng.uniform(-2, 0.5, size=L)
        work = rng.lognormal(0.0, 1.0, size=L)
    if noise > 0:
        size = size * rng.lognormal(0.0, noise, size=L)
        work = work * rng.lognormal(0.0, noise, size=L)
    size[-1] = SYNTHETIC_RESULT_BYTES
    size = np.maximum(np.round(size), 4.0)
    flops = np.round(work / work.sum() * gflops * 1e9)
    return {
        "name": name or f"synthetic-{shape}-L{L}",
        "input_bytes": inp,
        "accuracy": SYNTHETIC_ACCURACY,
        "provenance": f"synthetic chain: shape {shape}, {L} layers, {gflops:g} GFLOP, noise {noise:g}",
        "layers": [
            {
                "name": f"layer{l + 1}",
                "flops": float(flops[l]),
                "output_bytes": float(size[l]),
                "param_bytes": float(np.round(PARAM_BYTES_PER_FLOP * flops[l])),
            }
            for l in range(L)
        ],
        "exits": [],
    }


def exit_positions(num_layers: int, k: int) -> list[int]:
    """after_layer of k evenly spread exits: round(L i / (k+1)), deduplicated, within 1..L-1."""
    pos = sorted({int(round(num_layers * i / (k + 1))) for i in range(1, k + 1)})
    return [p for p in pos if 1 <= p <= num_layers - 1]


def add_exits(
    model: dict[str, Any],
    k: int,
    *,
    exit_confidence: float = 0.8,
    exit_accuracy_drop: float = 0.3,
) -> dict[str, Any]:
    """Add ``k`` early-exit heads to an instance-format model dict (in place; returned)."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise ModelSpecError(f"exits must be an integer >= 0, got {k!r}")
    if not 0 <= exit_confidence <= 1 or not 0 <= exit_accuracy_drop <= 1:
        raise ModelSpecError("exit_confidence and exit_accuracy_drop must be in [0, 1]")
    layers = model["layers"]
    L = len(layers)
    if k == 0:
        model["exits"] = []
        return model
    if L < 2:
        raise ModelSpecError(f"exits need a model with at least 2 layers ({model['name']} has {L})")
    alpha = model["accuracy"] if model["accuracy"] is not None else SYNTHETIC_ACCURACY
    total_flops = sum(l["flops"] for l in layers)
    result = layers[-1]["output_bytes"]
    exits = []
    left = 1.0
    for after in exit_positions(L, int(k)):
        d = after / L
        q = exit_confidence * d * left
        left -= q
        exits.append(
            {
                "after_layer": after,
                "probability": float(q),
                "head_flops": float(round(0.01 * total_flops)),
                "accuracy": float(alpha * (1 - exit_accuracy_drop * (1 - d))),
                "result_bytes": float(result),
            }
        )
    model["exits"] = exits
    return model
