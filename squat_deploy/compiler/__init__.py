"""Lowering of artifacts to fixed-point integer graphs, checks and footprint."""

from squat_deploy.compiler.footprint import Footprint, estimate_footprint
from squat_deploy.compiler.graph import DenseOp, IntegerGraph, NeuronOp
from squat_deploy.compiler.lower import artifact_profile, compile_artifact

__all__ = [
    "DenseOp",
    "Footprint",
    "IntegerGraph",
    "NeuronOp",
    "artifact_profile",
    "compile_artifact",
    "estimate_footprint",
]
