"""Pure quantization functions: integer grids, rounding, overflow, level tables."""

from squat_deploy.quant.levels import LevelScheme, float_levels, integer_levels, snap, snap_index
from squat_deploy.quant.modes import Comparator, Overflow, Reset, Rounding

__all__ = [
    "Comparator",
    "LevelScheme",
    "Overflow",
    "Reset",
    "Rounding",
    "float_levels",
    "integer_levels",
    "snap",
    "snap_index",
]
