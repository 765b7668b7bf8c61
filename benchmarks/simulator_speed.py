"""Time the Numba simulator against the torch model's integer emulation.

Both run the same compiled model on the same digits test set, after one
warm-up run each (Numba compiles or loads its cache on first use). The
result is a ratio measured in one run, so it holds for this machine only.

Usage: python benchmarks/simulator_speed.py [--epochs N] [--repeats N]
"""

from __future__ import annotations

import argparse
import time

import torch

from squat_deploy.compiler import compile_artifact
from squat_deploy.data import load_digits_split
from squat_deploy.export import export_checkpoint
from squat_deploy.nn.context import Mode
from squat_deploy.sim import simulate
from squat_deploy.train import TrainConfig, time_major, train


def best_time(function, repeats: int) -> float:
    """Return the fastest of ``repeats`` timed calls, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2, help="training epochs; speed does not depend on accuracy")
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()

    config = TrainConfig(epochs=arguments.epochs)
    checkpoint, _ = train(config, progress=False)
    graph = compile_artifact(export_checkpoint(checkpoint))
    network = checkpoint.build_network()
    _, test_set = load_digits_split(config.num_steps, seed=config.seed)
    inputs = time_major(test_set.spikes, torch.float64)

    def run_torch():
        with torch.no_grad(), network.mode(Mode.TARGET):
            network(inputs, record=True)

    def run_numba():
        simulate(graph, test_set.spikes)

    run_torch()
    run_numba()
    torch_seconds = best_time(run_torch, arguments.repeats)
    numba_seconds = best_time(run_numba, arguments.repeats)
    samples = len(test_set)
    print(f"samples: {samples}, steps: {config.num_steps}, torch threads: {torch.get_num_threads()}")
    print(f"torch target mode: {torch_seconds:.3f} s ({samples / torch_seconds:.0f} samples/s)")
    print(f"numba simulator:   {numba_seconds:.3f} s ({samples / numba_seconds:.0f} samples/s)")
    print(f"simulator speed-up: {torch_seconds / numba_seconds:.1f}x")


if __name__ == "__main__":
    main()
