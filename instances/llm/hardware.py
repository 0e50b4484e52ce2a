"""GPU and edge-accelerator figures for the LLM instances, each from a public spec sheet.

Per accelerator: memory (bytes; GPU memory sizes are binary, 1 GB = 2^30 bytes), memory
bandwidth (bytes/s, decimal as the vendors quote it) and dense fp16 tensor peak (FLOP/s,
without structured sparsity, which halves the vendors' "with sparsity" figures). A multi-GPU
machine (Helix's T4x2, T4x4, L4x2) is one node with its GPUs' memory, bandwidth and peak
added: tensor parallelism inside the machine, its communication not modelled.

The Jetson modules' data sheets quote INT8 TOPS (with sparsity) rather than an fp16 figure;
their fp16 dense peak is derived here as tensor cores x 512 FLOP/clock x GPU clock (an
Ampere-generation tensor core does 256 dense fp16 FMA per clock), which reproduces the data
sheets' sparse-INT8 GPU figures (x 4): AGX Orin 64GB 64 x 512 x 1.3 GHz = 42.6 TFLOP/s
(170 sparse INT8 TOPS on the GPU), Orin Nano 8GB 32 x 512 x 625 MHz = 10.2 TFLOP/s (40 TOPS).
"""

from __future__ import annotations

from dataclasses import dataclass

GiB = 2.0**30


@dataclass(frozen=True)
class Accelerator:
    name: str
    memory: float  # bytes
    memory_bandwidth: float  # bytes/s
    peak_fp16: float  # dense fp16 tensor FLOP/s
    source: str
    gpus: int = 1

    def times(self, gpus: int) -> "Accelerator":
        """A machine of ``gpus`` of these as one node (memory, bandwidth and peak added)."""
        return Accelerator(f"{self.name}x{gpus}", self.memory * gpus, self.memory_bandwidth * gpus,
                           self.peak_fp16 * gpus, f"{gpus} x ({self.source})", self.gpus * gpus)


_T4 = Accelerator("T4", 16 * GiB, 320e9, 65e12,
                  # 16 GB GDDR6, 320+ GB/s, 65 TFLOPS mixed-precision FP16/FP32 tensor
                  "NVIDIA T4 Tensor Core GPU datasheet")
_L4 = Accelerator("L4", 24 * GiB, 300e9, 121e12,
                  # 24 GB GDDR6, 300 GB/s, FP16 tensor 242 TFLOPS with sparsity -> 121 dense
                  "NVIDIA L4 Tensor Core GPU datasheet")

ACCELERATORS: dict[str, Accelerator] = {
    # --- datacenter GPUs (the types of Helix's machine_profiles.ini) ---
    # 40 GB HBM2, 1,555 GB/s, FP16 tensor 312 TFLOPS (624 with sparsity)
    "A100": Accelerator("A100", 40 * GiB, 1555e9, 312e12, "NVIDIA A100 Tensor Core GPU datasheet (40GB)"),
    # 16 GB HBM2, 900 GB/s, 125 TFLOPS tensor (SXM2)
    "V100": Accelerator("V100", 16 * GiB, 900e9, 125e12, "NVIDIA Tesla V100 GPU datasheet (SXM2 16GB)"),
    "L4": _L4,
    "L4x2": _L4.times(2),
    "T4": _T4,
    "T4x2": _T4.times(2),
    "T4x4": _T4.times(4),
    # --- edge devices ---
    # 64 GB LPDDR5, 204.8 GB/s; 2048 CUDA cores, 64 tensor cores, 1.3 GHz -> 42.6 TFLOP/s fp16 (derived)
    "AGX-Orin-64GB": Accelerator("AGX-Orin-64GB", 64 * GiB, 204.8e9, 64 * 512 * 1.3e9,
                                 "NVIDIA Jetson AGX Orin Series data sheet (64GB module)"),
    # 32 GB LPDDR5, 204.8 GB/s; 1792 CUDA cores, 56 tensor cores, 930 MHz -> 26.7 TFLOP/s fp16 (derived)
    "AGX-Orin-32GB": Accelerator("AGX-Orin-32GB", 32 * GiB, 204.8e9, 56 * 512 * 0.93e9,
                                 "NVIDIA Jetson AGX Orin Series data sheet (32GB module)"),
    # 16 GB LPDDR5, 102.4 GB/s; 1024 CUDA cores, 32 tensor cores, 918 MHz -> 15.0 TFLOP/s fp16 (derived)
    "Orin-NX-16GB": Accelerator("Orin-NX-16GB", 16 * GiB, 102.4e9, 32 * 512 * 0.918e9,
                                "NVIDIA Jetson Orin NX Series data sheet (16GB module)"),
    # 8 GB LPDDR5, 68 GB/s; 1024 CUDA cores, 32 tensor cores, 625 MHz -> 10.2 TFLOP/s fp16 (derived)
    "Orin-Nano-8GB": Accelerator("Orin-Nano-8GB", 8 * GiB, 68e9, 32 * 512 * 0.625e9,
                                 "NVIDIA Jetson Orin Nano Series data sheet (8GB module)"),
    # 24 GB GDDR6X, 1,008 GB/s; FP16 tensor with FP32 accumulate 165.2 TFLOPS dense
    "RTX-4090": Accelerator("RTX-4090", 24 * GiB, 1008e9, 165.2e12,
                            "NVIDIA Ada Lovelace GPU architecture whitepaper (GeForce RTX 4090)"),
}

DATACENTER = ("A100", "V100", "L4", "L4x2", "T4", "T4x2", "T4x4")
EDGE = ("AGX-Orin-64GB", "AGX-Orin-32GB", "Orin-NX-16GB", "Orin-Nano-8GB", "RTX-4090")


@dataclass(frozen=True)
class LinkClass:
    """A kind of logical link: bandwidth (bit/s) and one-way delay (s), documented assumptions."""

    name: str
    bandwidth_bps: float
    delay: float
    note: str

    @property
    def bandwidth(self) -> float:
        """bytes/s"""
        return self.bandwidth_bps / 8.0


LINKS: dict[str, LinkClass] = {
    # one region: the 10 Gbit/s NICs of Helix's machine_profiles.ini, and cluster24.ini's 1 ms
    "intra-region": LinkClass("intra-region", 10e9, 1e-3, "one datacenter region; Helix's NIC speed and delay"),
    # between regions: a per-connection share of a cross-region path (an assumption of this suite)
    "inter-region": LinkClass("inter-region", 100e6, 20e-3, "cross-region connection; assumption"),
    # wired edge device: Gigabit Ethernet on one LAN switch
    "ethernet": LinkClass("ethernet", 1e9, 0.2e-3, "Gigabit Ethernet LAN; assumption"),
    # wireless edge device: a WiFi 6 connection's sustained TCP goodput, not its PHY rate
    "wifi": LinkClass("wifi", 200e6, 3e-3, "WiFi 6 goodput; assumption"),
}
