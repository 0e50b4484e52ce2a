"""The shipped Llama decoder-layer profiles (``instances/data/llm_layer_profiles.json``).

A byte-identical copy of ``../shared/profiles/llm_layer_profiles.json`` (provenance in
``instances/data/README.md``): Llama-2-7B/13B/70B and Llama-3-8B as chains ``embed_tokens``,
decoder layers, ``norm+lm_head``, computed from the models' public configuration (no weights,
no measurement). :func:`llm_model` turns one into the :class:`LLMModel` of an instance: the
decoder layers (all identical), the activation bytes per token of a cut (hidden x 2) and the
decode FLOPs at the chosen context, 2 P_mm + 4 d_attn (S + 1) (the file's formula; its
``decode_flops_per_token`` table where S is one of its contexts).
"""

from __future__ import annotations

from typing import Any

from instances.llm.model import LLMModel
from instances.profiles import shipped_json

LLM_PROFILE_NAMES = ("llama2_7b", "llama2_13b", "llama2_70b", "llama3_8b")


def load_llm_profiles() -> dict[str, Any]:
    """The shipped Llama layer profiles (``llm_layer_profiles.json``)."""
    return shipped_json("llm_layer_profiles.json")


def llm_profile(name: str) -> dict[str, Any]:
    for m in load_llm_profiles()["models"]:
        if m["model"] == name:
            return m
    raise KeyError(f"unknown LLM profile {name!r}: expected one of {', '.join(LLM_PROFILE_NAMES)}")


def llm_model(name: str, context_tokens: int = 1024) -> LLMModel:
    """The decoder chain of profile ``name`` with ``context_tokens`` of context per request."""
    prof = llm_profile(name)
    decoders = [layer for layer in prof["layers"] if layer["kind"] == "decoder_layer"]
    first = decoders[0]
    for layer in decoders[1:]:
        if layer["param_bytes"] != first["param_bytes"] or layer["kv_cache_bytes_per_token"] != first["kv_cache_bytes_per_token"]:
            raise ValueError(f"{name}: decoder layers differ; F5 assumes identical layers")
    S = int(context_tokens)
    flops = first["flops_linear_per_token"] + first["attn_flops_per_token_per_position"] * (S + 1)
    return LLMModel(
        name=prof["name"],
        num_layers=len(decoders),
        layer_param_bytes=float(first["param_bytes"]),
        activation_bytes=float(first["output_bytes_per_token"]),
        kv_cache_bytes=float(first["kv_cache_bytes_per_token"]),
        decode_flops=float(flops),
        context_tokens=S,
        source=f"instances/data/llm_layer_profiles.json ({prof['model']}; {prof['source']})",
    )
