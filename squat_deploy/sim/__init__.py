"""Numba simulator of compiled integer graphs."""

from squat_deploy.sim.simulate import SimulationResult, simulate

__all__ = ["SimulationResult", "simulate"]
