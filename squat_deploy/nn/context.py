"""The quantization context shared by the modules of one network."""

from __future__ import annotations

import dataclasses
import enum

from squat_deploy.profiles import TargetProfile


class Mode(enum.Enum):
    """Arithmetic the QAT modules run.

    - ``FLOAT``: plain float arithmetic, as snnTorch computes. The state
      quantizer applies only when ``QuantContext.float_state_quant`` is set.
    - ``FAKE_QUANT``: float arithmetic with every value rounded to the
      target's grids (weights, decays, thresholds, state grid, level tables)
      and straight-through gradients; used for training.
    - ``TARGET``: exact integer arithmetic on int64 tensors, step for step
      the target profile's neuron update; used to verify the simulator.
    """

    FLOAT = "float"
    FAKE_QUANT = "fake_quant"
    TARGET = "target"


@dataclasses.dataclass
class QuantContext:
    """Mutable settings that every module of a network reads at each step."""

    profile: TargetProfile
    mode: Mode = Mode.FAKE_QUANT
    float_state_quant: bool = False
    # False runs fake-quantized and target modes with full-width state, as
    # deployed on a target without level tables.
    use_levels: bool = True
    # False runs fake-quantized mode with float weights (stateful QAT
    # without weight QAT); target mode always uses the integer weights.
    weight_qat: bool = True

    @property
    def grid(self) -> float:
        """Value of one state LSB in float units."""
        return 2.0 ** -self.profile.state_frac_bits
