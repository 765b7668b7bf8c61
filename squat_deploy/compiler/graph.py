"""The fixed-point integer graph: what the simulator runs and the footprint counts.

Each op carries its arrays as int64 and the explicit bit width of every value
it produces or stores.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from squat_deploy.profiles import TargetProfile
from squat_deploy.quant.modes import Reset


@dataclasses.dataclass
class DenseOp:
    """``cur[i] = round_shift((sum_j weight[i, j] * x[j] + bias[i]) * multiplier[i], shift[i])``."""

    weight: np.ndarray  # (out, in)
    bias: np.ndarray | None  # (out,)
    multiplier: np.ndarray  # (out,)
    shift: np.ndarray  # (out,)
    weight_bits: int
    accumulator_bits: int
    max_accumulator: int  # worst-case |acc| at the most input events per step

    @property
    def synapses(self) -> int:
        return int(self.weight.size)


@dataclasses.dataclass
class NeuronOp:
    """One layer's neuron update; see ``squat_deploy.sim.kernels`` for the step."""

    name: str
    neuron_type: str
    size: int
    reset: Reset
    beta: np.ndarray  # (size,) decay constants
    alpha: np.ndarray | None  # (size,) decay constants of the synaptic current
    threshold: np.ndarray  # (size,) state LSBs
    levels: np.ndarray | None  # sorted level table, state LSBs
    level_bits: int | None
    dense: DenseOp
    recurrent: DenseOp | None
    input_delay: int
    decay_bits: int
    current_bits: int
    state_bits: int
    threshold_bits: int

    @property
    def zero_before_decay(self) -> bool:
        """Leaky's reset to zero clears the previous membrane, the others the new one."""
        return self.reset is Reset.ZERO and self.neuron_type == "Leaky"

    @property
    def synaptic(self) -> bool:
        return self.alpha is not None

    def describe(self) -> dict[str, Any]:
        """Return the op's widths and shapes, for ``squat compile`` output."""
        return {
            "layer": self.name,
            "neuron_type": self.neuron_type,
            "neurons": self.size,
            "fan_in": int(self.dense.weight.shape[1]),
            "recurrent": self.recurrent is not None,
            "reset": self.reset.value,
            "input_delay": self.input_delay,
            "widths": {
                "weight": self.dense.weight_bits,
                "accumulator": self.dense.accumulator_bits,
                "current": self.current_bits,
                "state": self.state_bits,
                "threshold": self.threshold_bits,
                "decay": self.decay_bits,
                "level_index": self.level_bits,
            },
            "max_accumulator": max(self.dense.max_accumulator, self.recurrent.max_accumulator if self.recurrent else 0),
            # Levels closer than one state LSB collapse, leaving index codes unused.
            "distinct_levels": None if self.levels is None else int(np.unique(self.levels).size),
        }


@dataclasses.dataclass
class IntegerGraph:
    """A chain of integer layers under one target profile."""

    input_size: int
    num_steps: int | None
    layers: list[NeuronOp]
    profile: TargetProfile
    manifest: dict[str, Any]
