"""A feed-forward stack of spiking layers, each a dense connection and a neuron.

Layer ``l`` at step ``t`` receives the spikes of layer ``l-1`` (the input for
the first layer) through its ``QuantLinear``. In fake-quantized and target
modes, where the target's profile sets ``input_delay = 1`` (first layer) or
``dense_delay = 1`` (later layers), it receives those of step ``t-1`` instead.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any

import torch
from torch import nn

from squat_deploy.nn.context import Mode, QuantContext
from squat_deploy.nn.linear import QuantLinear
from squat_deploy.nn.neurons import NEURON_CLASSES, NEURON_TYPES, StateQuantSpec
from squat_deploy.quant.modes import Reset
from squat_deploy.profiles import TargetProfile


@dataclasses.dataclass
class LayerConfig:
    """One spiking layer: a dense connection from the previous layer and a neuron."""

    name: str
    neuron_type: str
    size: int
    bias: bool = False
    beta: float = 0.9
    alpha: float = 0.8
    threshold: float = 1.0
    reset: str = "subtract"
    learn_beta: bool = True
    learn_alpha: bool = True
    learn_threshold: bool = False
    state_quant: StateQuantSpec | None = None

    def __post_init__(self):
        if self.neuron_type not in NEURON_TYPES:
            raise ValueError(f"layer {self.name!r}: unknown neuron type {self.neuron_type!r}; choose one of {', '.join(NEURON_TYPES)}")
        Reset(self.reset)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["state_quant"] = None if self.state_quant is None else self.state_quant.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "LayerConfig":
        spec = data.get("state_quant")
        return cls(**{**data, "state_quant": None if spec is None else StateQuantSpec.from_dict(spec)})


@dataclasses.dataclass
class NetworkConfig:
    input_size: int
    layers: list[LayerConfig]

    def to_dict(self) -> dict[str, Any]:
        return {"input_size": self.input_size, "layers": [layer.to_dict() for layer in self.layers]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "NetworkConfig":
        return cls(data["input_size"], [LayerConfig.from_dict(layer) for layer in data["layers"]])


@dataclasses.dataclass
class Recording:
    """Per-layer traces of one run, each of shape (time, batch, neurons)."""

    spikes: list[torch.Tensor]
    mem: list[torch.Tensor]
    syn: list[torch.Tensor | None]

    @property
    def output_spikes(self) -> torch.Tensor:
        return self.spikes[-1]


class SpikingNetwork(nn.Module):
    """Dense spiking layers run over time, in the mode its context sets."""

    def __init__(self, config: NetworkConfig, profile: TargetProfile):
        super().__init__()
        self.config = config
        self.context = QuantContext(profile)
        self.linears = nn.ModuleList()
        self.neurons = nn.ModuleList()
        fan_in = config.input_size
        for layer in config.layers:
            self.linears.append(QuantLinear(fan_in, layer.size, self.context, bias=layer.bias))
            neuron_class = NEURON_CLASSES[layer.neuron_type]
            self.neurons.append(
                neuron_class(
                    layer.size,
                    self.context,
                    beta=layer.beta,
                    alpha=layer.alpha,
                    threshold=layer.threshold,
                    reset=layer.reset,
                    learn_beta=layer.learn_beta,
                    learn_alpha=layer.learn_alpha,
                    learn_threshold=layer.learn_threshold,
                    state_quant=layer.state_quant,
                    recurrent_bias=layer.bias,
                )
            )
            fan_in = layer.size
        self.neurons[-1].is_output = True

    @contextlib.contextmanager
    def mode(self, mode: Mode | str, float_state_quant: bool = False):
        """Run the block in ``mode``, restoring the previous mode after it."""
        previous = (self.context.mode, self.context.float_state_quant)
        self.context.mode = Mode(mode)
        self.context.float_state_quant = float_state_quant
        try:
            yield self
        finally:
            self.context.mode, self.context.float_state_quant = previous

    def _all_linears(self) -> list[QuantLinear]:
        found = list(self.linears)
        found += [neuron.recurrent_linear for neuron in self.neurons if neuron.recurrent_linear is not None]
        return found

    def forward(self, inputs: torch.Tensor, record: bool = False):
        """Run ``inputs`` of shape (time, batch, input_size).

        Returns the output layer's spikes, shape (time, batch, outputs), or a
        ``Recording`` of every layer when ``record`` is set. In target mode
        the inputs must hold integer event counts and every trace is int64.
        """
        mode = self.context.mode
        if mode is Mode.TARGET:
            inputs = inputs.long()
            for linear in self._all_linears():
                linear.frozen = linear.integer()
        try:
            return self._run(inputs, record)
        finally:
            for linear in self._all_linears():
                linear.frozen = None

    def _run(self, inputs: torch.Tensor, record: bool):
        steps, batch = inputs.shape[0], inputs.shape[1]
        profile = self.context.profile
        quantized = self.context.mode is not Mode.FLOAT
        delays = [profile.input_delay] + [profile.dense_delay] * (len(self.neurons) - 1)
        states = [neuron.initial_state(batch, inputs) for neuron in self.neurons]
        previous_spikes = [torch.zeros_like(inputs[0])] + [
            torch.zeros_like(state.mem) for state in states[:-1]
        ]
        traces = {"spikes": [[] for _ in self.neurons], "mem": [[] for _ in self.neurons], "syn": [[] for _ in self.neurons]}

        for t in range(steps):
            incoming = inputs[t]
            for index, (linear, neuron) in enumerate(zip(self.linears, self.neurons)):
                if quantized and delays[index] == 1:
                    incoming, previous_spikes[index] = previous_spikes[index], incoming
                spikes, states[index] = neuron(linear(incoming), states[index], events=(linear, incoming))
                traces["spikes"][index].append(spikes)
                if record:
                    traces["mem"][index].append(states[index].mem)
                    traces["syn"][index].append(states[index].syn)
                incoming = spikes

        spikes = [torch.stack(trace) for trace in traces["spikes"]]
        if not record:
            return spikes[-1]
        mem = [torch.stack(trace) for trace in traces["mem"]]
        syn = [torch.stack(trace) if trace[0] is not None else None for trace in traces["syn"]]
        return Recording(spikes, mem, syn)
