"""QAT modules: quantized dense layers and spiking neurons."""

from squat_deploy.nn.context import Mode, QuantContext
from squat_deploy.nn.linear import QuantLinear
from squat_deploy.nn.network import LayerConfig, NetworkConfig, Recording, SpikingNetwork
from squat_deploy.nn.neurons import QLeaky, QRLeaky, QRSynaptic, QSynaptic, StateQuantSpec

__all__ = [
    "LayerConfig",
    "Mode",
    "NetworkConfig",
    "QLeaky",
    "QRLeaky",
    "QRSynaptic",
    "QSynaptic",
    "QuantContext",
    "QuantLinear",
    "Recording",
    "SpikingNetwork",
    "StateQuantSpec",
]
