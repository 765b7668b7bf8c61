"""Train, export, compile, simulate and verify from Python on the bundled digits.

Run with ``python examples/quickstart.py``; it takes about a minute on two CPU
cores and writes ``model.pt`` and ``model.squat`` into the current folder.
"""

from __future__ import annotations

from squat_deploy.artifact import read_artifact, write_artifact
from squat_deploy.checkpoint import save_checkpoint
from squat_deploy.compiler import compile_artifact, estimate_footprint
from squat_deploy.data import load_digits_split
from squat_deploy.export import export_checkpoint
from squat_deploy.sim import simulate
from squat_deploy.train import TrainConfig, train
from squat_deploy.verify import verify


def main() -> None:
    config = TrainConfig(target="fpga-int8", state_bits=4, state_scheme="threshold-centered")
    checkpoint, report = train(config)
    save_checkpoint("model.pt", checkpoint)
    print(f"fake-quantized test accuracy: {report['test_accuracy_fake_quant']:.4f}")

    write_artifact("model.squat", export_checkpoint(checkpoint, "model.pt"))
    graph = compile_artifact(read_artifact("model.squat"))
    for layer in graph.layers:
        print(layer.describe())

    _, test_set = load_digits_split(config.num_steps, seed=config.seed)
    result = simulate(graph, test_set.spikes)
    predictions = result.output_spikes.sum(axis=1).argmax(axis=1)
    print(f"integer test accuracy: {(predictions == test_set.labels).mean():.4f}")

    verdict = verify(checkpoint.build_network(), graph, test_set)
    print(f"bit-exact: {verdict.bit_exact} (spikes {verdict.spike_match_rate:.2%}, states {verdict.state_match_rate:.2%})")

    footprint = estimate_footprint(graph)
    print(f"footprint: {footprint.total_bytes} bytes (float32: {footprint.float32_bytes} bytes)")


if __name__ == "__main__":
    main()
