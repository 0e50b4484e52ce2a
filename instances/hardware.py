"""Per-tier hardware and link defaults used by the generator, with their public sources.

Node figures (``NODE_DEFAULTS``) are one representative machine per tier. ``speed`` is the
*effective* FLOP/s used for layers without a measured time: the vendor's peak FP32 figure times
``EFFICIENCY`` (batch-1 inference reaches a fraction of peak; 0.3 is a typical order for
convolutional networks at batch 1 and is a modelling choice, not a measurement). Layers of the
measured profiles use the measured time of the node's ``device_class`` instead ("cpu1": one
server core standing in for a weak device, "cpu16": a 16-core server, "gpu": one H100), so the
profile instances are not affected by ``EFFICIENCY``.

Sources (peak FP32, power, memory):

- device: Raspberry Pi 4 Model B (4x Cortex-A72 at 1.5 GHz, 4 GB LPDDR4; Raspberry Pi 4
  product brief, raspberrypi.com). Peak FP32 taken as the commonly quoted 24 GFLOP/s
  (4 cores x 1.5 GHz x 4 FLOP/cycle); HPL LINPACK runs reach about 13 GFLOP/s. About 6.4 W
  under full load (stress-test measurements of the board are 6-7 W).
- edge: Intel Xeon Gold 6248 server (20 cores, 2.5 GHz base, two AVX-512 FMA units per core:
  1.6 TFLOP/s FP64, 3.2 TFLOP/s FP32 at base clock), TDP 150 W (Intel ARK), 64 GB RAM as a
  typical edge box.
- cloud: NVIDIA H100 SXM5 80 GB (FP32 non-tensor peak 67 TFLOP/s, 80 GB HBM3, TDP up to
  700 W; NVIDIA H100 datasheet). The measured "gpu" profile class is an H100 80GB HBM3.
- router / core: forwarding only (speed 0, cannot compute; its power is not part of the model).

Link figures (``LINK_DEFAULTS``), per link kind; bandwidth in bit/s here, converted to bytes/s
by the generator; ``energy`` is the transmission energy in J/bit (order of magnitude):

- access (device to edge, device to device): WiFi 5 / 5G uplink, a few tens of Mbit/s, a few
  ms one way; about 0.1 uJ/bit for the device radio (Huang et al., "A close examination of
  performance and power characteristics of 4G LTE networks", MobiSys 2012, report uplink
  energy per bit of this order for LTE and WiFi).
- metro (edge to edge, edge to router, router to router): 1 Gbit/s Ethernet, about 1 ms;
  about 10 nJ/bit per hop of wired network equipment (Baliga et al., "Green cloud computing",
  Proc. IEEE 99(1), 2011, give nJ/bit-order figures per router/switch hop).
- wan (edge/router to cloud): 10 Gbit/s, about 20 ms one way (continental distances).
- backbone (cloud to cloud, Topology Zoo core links): 100 Gbit/s, delay from distance.
"""

from __future__ import annotations

from dataclasses import dataclass

# fraction of peak FP32 reached by batch-1 inference (a modelling choice, see module docstring)
EFFICIENCY = 0.3


@dataclass(frozen=True)
class NodeHardware:
    tier: str
    device_class: str | None  # profile class whose measured layer times apply
    peak_flops: float  # FP32 FLOP/s, vendor figure
    power: float  # W while computing
    memory: float  # bytes
    source: str

    @property
    def speed(self) -> float:
        """Effective FLOP/s: peak x EFFICIENCY (0 for routers)."""
        return self.peak_flops * EFFICIENCY


@dataclass(frozen=True)
class LinkHardware:
    kind: str
    bandwidth_bps: float  # bit/s
    delay: float  # s, one way
    energy_per_bit: float  # J/bit
    source: str

    @property
    def bandwidth(self) -> float:
        """bytes/s"""
        return self.bandwidth_bps / 8.0

    @property
    def energy_per_byte(self) -> float:
        return self.energy_per_bit * 8.0


NODE_DEFAULTS: dict[str, NodeHardware] = {
    # Raspberry Pi 4 Model B: 4x Cortex-A72 1.5 GHz (~24 GFLOP/s FP32 peak), 4 GB, ~6.4 W
    "device": NodeHardware("device", "cpu1", 24e9, 6.4, 4e9, "Raspberry Pi 4 Model B product brief"),
    # Intel Xeon Gold 6248: 20 cores x 2.5 GHz x 64 FP32 FLOP/cycle (2 AVX-512 FMA) = 3.2 TFLOP/s, 150 W TDP
    "edge": NodeHardware("edge", "cpu16", 3.2e12, 150.0, 64e9, "Intel ARK, Xeon Gold 6248"),
    # NVIDIA H100 SXM5: 67 TFLOP/s FP32 (non-tensor), 80 GB HBM3, 700 W TDP
    "cloud": NodeHardware("cloud", "gpu", 67e12, 700.0, 80e9, "NVIDIA H100 Tensor Core GPU datasheet"),
    # forwarding-only nodes
    "router": NodeHardware("router", None, 0.0, 0.0, 0.0, "forwarding only"),
    "core": NodeHardware("core", None, 0.0, 0.0, 0.0, "forwarding only"),
}

LINK_DEFAULTS: dict[str, LinkHardware] = {
    # WiFi 5 / 5G uplink: tens of Mbit/s, a few ms; ~0.1 uJ/bit radio energy (Huang et al., MobiSys 2012)
    "access": LinkHardware("access", 50e6, 0.005, 1e-7, "WiFi 5 / 5G uplink; Huang et al. MobiSys 2012"),
    # Gigabit Ethernet metro/LAN hop; ~10 nJ/bit per hop (Baliga et al., Proc. IEEE 2011)
    "metro": LinkHardware("metro", 1e9, 0.001, 1e-8, "1 GbE; Baliga et al. Proc. IEEE 2011"),
    # 10 Gbit/s WAN to a datacenter, tens of ms one way
    "wan": LinkHardware("wan", 10e9, 0.020, 1e-8, "10 GbE WAN; Baliga et al. Proc. IEEE 2011"),
    # 100 Gbit/s datacenter interconnect / operator backbone
    "backbone": LinkHardware("backbone", 100e9, 0.010, 1e-8, "100 GbE backbone"),
}

# speed of light in fibre: about 2/3 c, i.e. 2e8 m/s -> 5 us per km
FIBRE_SPEED_M_PER_S = 2.0e8


def link_kind(tier_a: str, tier_b: str) -> str:
    """Link kind for a link between two tiers (documented rule, symmetric).

    any end a device -> access; both cloud -> backbone; one end cloud -> wan; otherwise metro.
    """
    tiers = {tier_a, tier_b}
    if "device" in tiers:
        return "access"
    if tiers == {"cloud"}:
        return "backbone"
    if "cloud" in tiers:
        return "wan"
    return "metro"


def node_attributes(tier: str) -> dict[str, object]:
    """The instance-format node fields (without name) for a node of ``tier``."""
    hw = NODE_DEFAULTS[tier]
    return {
        "tier": tier,
        "device_class": hw.device_class,
        "speed": float(hw.speed),
        "power": float(hw.power),
        "memory": float(hw.memory),
    }
