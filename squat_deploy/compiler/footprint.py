"""Memory footprint of an integer graph and its mapping onto target cores.

Sizes are estimates of storage, not of a particular memory layout: each kind
of value is packed at its bit width and rounded up to whole bytes per layer.
A per-neuron constant (decay, threshold, scale) that is equal across a layer
counts once. The float32 column is the same model with every stored value in
32 bits and no level tables.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from squat_deploy.compiler.graph import DenseOp, IntegerGraph, NeuronOp
from squat_deploy.errors import WidthError

CATEGORIES = ("weights", "biases", "scales", "decays", "thresholds", "states", "level_tables")
SHIFT_BITS = 8


@dataclasses.dataclass
class LayerFootprint:
    layer: str
    bits: dict[str, int]
    float32_bits: dict[str, int]
    neurons: int
    synapses: int

    @property
    def bytes(self) -> dict[str, int]:
        return {name: math.ceil(bits / 8) for name, bits in self.bits.items()}

    @property
    def total_bytes(self) -> int:
        return sum(self.bytes.values())

    @property
    def float32_bytes(self) -> int:
        return sum(math.ceil(bits / 8) for bits in self.float32_bits.values())


@dataclasses.dataclass
class CoreMapping:
    """Cores the whole model needs when layers share cores, and the limit that decides it.

    Layers are packed together, so the count is the largest of
    ``ceil(total demand / per-core capacity)`` over neurons, synapses and
    memory. Packing ignores fragmentation, so the count is a lower bound.
    """

    cores_needed: int
    cores_available: int
    binding_limit: str
    demand: dict[str, int]
    capacity_per_core: dict[str, int]

    @property
    def utilisation(self) -> dict[str, float]:
        """Fraction of the used cores' capacity taken, per resource."""
        return {name: self.demand[name] / (self.capacity_per_core[name] * self.cores_needed) for name in self.demand}


@dataclasses.dataclass
class Footprint:
    target: str
    layers: list[LayerFootprint]
    mapping: CoreMapping

    @property
    def total_bytes(self) -> int:
        return sum(layer.total_bytes for layer in self.layers)

    @property
    def float32_bytes(self) -> int:
        return sum(layer.float32_bytes for layer in self.layers)

    def to_dict(self) -> dict:
        return {
            "target": self.target,
            "total_bytes": self.total_bytes,
            "float32_bytes": self.float32_bytes,
            "layers": [
                {
                    "layer": layer.layer,
                    "bytes": layer.bytes,
                    "total_bytes": layer.total_bytes,
                    "float32_bytes": layer.float32_bytes,
                    "neurons": layer.neurons,
                    "synapses": layer.synapses,
                }
                for layer in self.layers
            ],
            "cores": {**dataclasses.asdict(self.mapping), "utilisation": self.mapping.utilisation},
        }


def _entries(values: np.ndarray | None) -> int:
    """Stored entries of a per-neuron constant: one when equal across the layer."""
    if values is None:
        return 0
    return 1 if np.all(values == values[0]) else values.size


def _dense_bits(dense: DenseOp, multiplier_bits: int) -> dict[str, int]:
    scale_entries = max(_entries(dense.multiplier), _entries(dense.shift))
    return {
        "weights": dense.weight.size * dense.weight_bits,
        "biases": 0 if dense.bias is None else dense.bias.size * dense.accumulator_bits,
        "scales": scale_entries * (multiplier_bits + SHIFT_BITS),
    }


def layer_footprint(layer: NeuronOp, multiplier_bits: int) -> LayerFootprint:
    bits = dict.fromkeys(CATEGORIES, 0)
    float_bits = dict.fromkeys(CATEGORIES, 0)
    for dense in (layer.dense, layer.recurrent):
        if dense is None:
            continue
        for name, value in _dense_bits(dense, multiplier_bits).items():
            bits[name] += value
        float_bits["weights"] += dense.weight.size * 32
        float_bits["biases"] += 0 if dense.bias is None else dense.bias.size * 32

    decay_entries = _entries(layer.beta) + _entries(layer.alpha)
    bits["decays"] = decay_entries * layer.decay_bits
    float_bits["decays"] = decay_entries * 32
    bits["thresholds"] = _entries(layer.threshold) * layer.threshold_bits
    float_bits["thresholds"] = _entries(layer.threshold) * 32

    mem_bits = layer.level_bits if layer.levels is not None else layer.state_bits
    syn_bits = 0
    if layer.synaptic:
        syn_bits = layer.level_bits if layer.levels is not None else layer.current_bits
    spike_bits = 1 if layer.recurrent is not None else 0
    bits["states"] = layer.size * (mem_bits + syn_bits + spike_bits)
    float_bits["states"] = layer.size * (32 * (2 if layer.synaptic else 1) + 32 * spike_bits)
    if layer.levels is not None:
        bits["level_tables"] = layer.levels.size * layer.state_bits

    synapses = layer.dense.synapses + (layer.recurrent.synapses if layer.recurrent is not None else 0)
    return LayerFootprint(layer.name, bits, float_bits, layer.size, synapses)


def estimate_footprint(graph: IntegerGraph) -> Footprint:
    """Count the storage of every layer and map the layers onto cores."""
    profile = graph.profile
    multiplier_bits = profile.multiplier_bits if profile.weight_scale == "multiplier_shift" else 0
    layers = [layer_footprint(layer, multiplier_bits) for layer in graph.layers]
    resources = profile.resources
    demand = {
        "neurons": sum(layer.neurons for layer in layers),
        "synapses": sum(layer.synapses for layer in layers),
        "memory_bytes": sum(layer.total_bytes for layer in layers),
    }
    capacity = {
        "neurons": resources.neurons_per_core,
        "synapses": resources.synapses_per_core,
        "memory_bytes": resources.memory_per_core_bytes,
    }
    needed = {name: math.ceil(demand[name] / capacity[name]) for name in demand}
    binding = max(needed, key=lambda name: (needed[name], demand[name] / capacity[name]))
    mapping = CoreMapping(max(1, needed[binding]), resources.cores, binding, demand, capacity)
    return Footprint(profile.name, layers, mapping)


def check_resources(footprint: Footprint) -> None:
    """Reject a model that needs more cores than the target has."""
    mapping = footprint.mapping
    if mapping.cores_needed <= mapping.cores_available:
        return
    limit = mapping.binding_limit
    total_capacity = mapping.capacity_per_core[limit] * mapping.cores_available
    raise WidthError(
        f"target {footprint.target!r}: the model needs {mapping.demand[limit]} {limit.replace('_', ' ')} but the "
        f"{mapping.cores_available} core(s) hold {total_capacity}, {mapping.demand[limit] - total_capacity} too many "
        f"({mapping.cores_needed} cores needed); use fewer or smaller layers"
    )
