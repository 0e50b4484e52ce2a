r"""Token throughput of a node holding k decoder layers: a documented roofline (decode only).

The shipped Llama profiles (``instances/data/llm_layer_profiles.json``) give per decoder layer
its fp16 parameter bytes m, decode FLOPs per token F(S) at S tokens of context and KV-cache
bytes per token kv. A node with memory M, memory bandwidth BW and fp16 peak P holding k
layers serves B concurrent requests, each with S tokens in its KV cache:

    B(k)  = min(max_batch, floor((u M - k m) / (k S kv)))        memory for the KV cache
    t(k)  = max( (k m + B k S kv) / (eta_mem BW),                 one decode step reads the
                 B k F(S) / (eta_fp16 P) )                          weights and every KV cache
    theta(k) = B(k) / t(k)   tokens/s                              (K = the largest k with B >= 1)

At small batch the step is bounded by memory bandwidth (reading k m bytes of weights per step,
whatever B), at large batch by compute: theta grows with B until the compute term dominates,
and the KV cache that memory leaves for the batch is what ties throughput to k. The latency
of one token through the k layers at light load is the same step at B = 1:
latency(k) = max((k m + k S kv) / (eta_mem BW), k F(S) / (eta_fp16 P)).

Defaults (modelling choices, recorded in every generated instance): u = 0.9 (CUDA context,
activations and fragmentation take the rest), eta_mem = 0.8 and eta_fp16 = 0.5 (fractions of
the spec-sheet bandwidth and peak that decode kernels reach), max_batch = 256 (vLLM's default
max_num_seqs), S = 1024 tokens. Prefill is not modelled: throughput is decode tokens/s.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from instances.llm.hardware import Accelerator
from instances.llm.model import LLMModel


@dataclass(frozen=True)
class Roofline:
    memory_usable: float = 0.9  # u
    memory_efficiency: float = 0.8  # eta_mem
    compute_efficiency: float = 0.5  # eta_fp16
    max_batch: int = 256

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def step_time(acc: Accelerator, model: LLMModel, k: int, batch: int, roof: Roofline) -> float:
    """Seconds of one decode step of ``batch`` requests through k layers."""
    kv = batch * k * model.context_tokens * model.kv_cache_bytes
    memory_time = (k * model.layer_param_bytes + kv) / (roof.memory_efficiency * acc.memory_bandwidth)
    compute_time = batch * k * model.decode_flops / (roof.compute_efficiency * acc.peak_fp16)
    return max(memory_time, compute_time)


def max_batch(acc: Accelerator, model: LLMModel, k: int, roof: Roofline) -> int:
    """B(k): requests whose KV cache fits beside k layers (0: the layers alone do not fit)."""
    room = roof.memory_usable * acc.memory - k * model.layer_param_bytes
    if room < 0:
        return 0
    per_request = k * model.context_tokens * model.kv_cache_bytes
    if per_request <= 0:
        return roof.max_batch
    return int(min(roof.max_batch, math.floor(room / per_request)))


def throughput_table(acc: Accelerator, model: LLMModel, roof: Roofline) -> tuple[list[float], list[float], list[int]]:
    """(theta(k), latency(k), B(k)) for k = 1..K."""
    theta, latency, batch = [], [], []
    for k in range(1, model.num_layers + 1):
        b = max_batch(acc, model, k, roof)
        if b < 1:
            break
        theta.append(b / step_time(acc, model, k, b, roof))
        latency.append(step_time(acc, model, k, 1, roof))
        batch.append(b)
    return theta, latency, batch


def light_load_latency(acc: Accelerator, model: LLMModel, roof: Roofline, layers: int) -> list[float]:
    """latency(k) for k = 1..layers (for measured tables that state no latency)."""
    return [step_time(acc, model, k, 1, roof) for k in range(1, layers + 1)]
