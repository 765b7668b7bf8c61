"""The ``squat`` command line: parse, call the library, print."""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
import time
from pathlib import Path

import click
import numpy as np

from squat_deploy.errors import UserError
from squat_deploy.train import TrainConfig

TRAIN_DEFAULTS = TrainConfig()


class _Group(click.Group):
    """Turns ``UserError`` and usage errors into a one-line message and exit status 2."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except UserError as error:
            click.echo(f"error: {error}", err=True)
            ctx.exit(2)

    def main(self, *args, **kwargs):
        if not kwargs.get("standalone_mode", True):
            return super().main(*args, **kwargs)
        try:
            status = super().main(*args, **{**kwargs, "standalone_mode": False})
        except click.UsageError as error:
            hint = f" (see `{error.ctx.command_path} --help`)" if error.ctx is not None else ""
            click.echo(f"error: {error.format_message()}{hint}", err=True)
            sys.exit(2)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        # Without standalone mode click returns the status of ctx.exit().
        sys.exit(status if isinstance(status, int) else 0)


@click.group(cls=_Group)
@click.option("-v", "--verbose", is_flag=True, help="Log progress messages to standard error.")
@click.version_option(package_name="squat-deploy")
def main(verbose: bool) -> None:
    """Compile quantization-aware-trained spiking networks to integer hardware and verify them bit for bit."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


def _state_bits(ctx, param, value):
    if value is None or str(value).lower() == "none":
        return None
    if str(value).lower() == "auto":
        return "auto"
    try:
        return int(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a whole number, 'auto' or 'none'") from None


def _auto_or_int(ctx, param, value):
    if value is None or str(value).lower() == "auto":
        return "auto"
    try:
        number = int(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a whole number or 'auto'") from None
    if number < 1:
        raise click.BadParameter(f"{number} is below 1")
    return number


def _dataset_options() -> list:
    """Options that choose the dataset and its encoder (``train``, ``run`` and ``sweep``)."""
    return [
        click.option("--dataset", type=click.Choice(["digits", "fsdd", "shd", "nmnist"]), default=TRAIN_DEFAULTS.dataset, show_default=True, help="digits: bundled 8x8 digits; fsdd: spoken-digit WAV files; shd, nmnist: event files (need --data)."),
        click.option("--data", type=click.Path(file_okay=False), default=None, help="Folder of the dataset's files (fsdd: {digit}_{speaker}_{index}.wav; shd: shd_train.h5 and shd_test.h5; nmnist: Train/ and Test/)."),
        click.option("--split", type=click.Choice(["index", "speaker"]), default=TRAIN_DEFAULTS.split, show_default=True, help="fsdd test split: recordings 0-4 of every speaker, or every recording of --test-speaker."),
        click.option("--test-speaker", "test_speakers", multiple=True, default=TRAIN_DEFAULTS.test_speakers, show_default=True, help="fsdd speaker held out with --split speaker (repeat for several)."),
        click.option("--filterbank", type=click.Choice(["mel", "gammatone"]), default=TRAIN_DEFAULTS.filterbank, show_default=True, help="fsdd front-end filterbank."),
        click.option("--channels", callback=_auto_or_int, default=str(TRAIN_DEFAULTS.channels), show_default=True, help="fsdd filterbank bands, or 'auto': 16, fewer where the target takes fewer inputs."),
        click.option("--encoder", type=click.Choice(["delta", "threshold"]), default=TRAIN_DEFAULTS.encoder, show_default=True, help="fsdd spike encoder: send-on-delta (up and down channels per band) or threshold crossing."),
        click.option("--input-pooling", callback=_auto_or_int, default=str(TRAIN_DEFAULTS.input_pooling), show_default=True, help="Inputs summed into one channel (digits: pixel blocks; shd: adjacent units; nmnist: pixel blocks), or 'auto' to fit the target."),
    ]


def _with_options(options: list):
    """Return a decorator that applies ``options`` in order."""

    def apply(function):
        for option in reversed(options):
            function = option(function)
        return function

    return apply


def _level_range_options() -> list:
    """Options that set the span of the level tables, in snnTorch's ``state_quant`` terms."""
    return [
        click.option("--lower-limit", type=click.FloatRange(min=0), default=TRAIN_DEFAULTS.lower_limit, show_default=True, help="Level tables reach down to -threshold * (1 + LOWER_LIMIT)."),
        click.option("--upper-limit", type=click.FloatRange(min=0), default=TRAIN_DEFAULTS.upper_limit, show_default=True, help="Level tables reach up to threshold * (1 + UPPER_LIMIT)."),
    ]


def train_options(function):
    """Options shared by ``train`` and ``run`` that make up a ``TrainConfig``."""
    options = [
        click.option("--target", default=TRAIN_DEFAULTS.target, show_default=True, help="Target profile name or TOML path; training fake-quantizes to its grids."),
        *_dataset_options(),
        click.option("--hidden-size", type=click.IntRange(min=1), default=TRAIN_DEFAULTS.hidden_size, show_default=True, help="Neurons in the hidden layer."),
        click.option("--hidden-type", type=click.Choice(["auto", "Leaky", "RLeaky", "Synaptic", "RSynaptic"]), default=TRAIN_DEFAULTS.hidden_type, show_default=True, help="Neuron type of the hidden layer; auto: RLeaky, or RSynaptic where the target has only synaptic neurons."),
        click.option("--output-type", type=click.Choice(["auto", "Leaky", "RLeaky", "Synaptic", "RSynaptic"]), default=TRAIN_DEFAULTS.output_type, show_default=True, help="Neuron type of the output layer; auto: Leaky, or Synaptic likewise."),
        click.option("--reset", type=click.Choice(["auto", "subtract", "zero", "none"]), default=TRAIN_DEFAULTS.reset, show_default=True, help="Reset mechanism of every layer; auto takes the target's first supported one."),
        click.option("--steps", "num_steps", callback=_auto_or_int, default=str(TRAIN_DEFAULTS.num_steps), show_default=True, help="Time steps per sample, or 'auto': digits 16, fsdd 40 (20 ms frames), shd and nmnist 32."),
        click.option("--state-bits", callback=_state_bits, default=str(TRAIN_DEFAULTS.state_bits), show_default=True, help="Bits of the state level index, 'none' for full-width state, or 'auto': 4 where the target has level tables, else none."),
        click.option("--state-scheme", type=click.Choice(["threshold-centered", "uniform", "zero-centered"]), default=TRAIN_DEFAULTS.state_scheme, show_default=True, help="Spacing of the state levels."),
        *_level_range_options(),
        click.option("--learn-levels", "learnable_levels", is_flag=True, help="Train the level tables themselves, starting from --state-scheme and kept sorted."),
        click.option("--weight-qat/--no-weight-qat", default=TRAIN_DEFAULTS.weight_qat, show_default=True, help="Fake-quantize the weights in training; without it they are quantized only at export."),
        click.option("--learn-beta/--fixed-beta", default=TRAIN_DEFAULTS.learn_beta, show_default=True, help="Train the decays beta and alpha."),
        click.option("--learn-threshold/--fixed-threshold", default=TRAIN_DEFAULTS.learn_threshold, show_default=True, help="Train the thresholds."),
        click.option("--epochs", type=click.IntRange(min=1), default=TRAIN_DEFAULTS.epochs, show_default=True, help="Quantization-aware passes over the training split."),
        click.option("--float-epochs", type=click.IntRange(min=0), default=TRAIN_DEFAULTS.float_epochs, show_default=True, help="Float passes before the quantization-aware ones (float pretraining, then QAT fine-tuning)."),
        click.option("--batch-size", type=click.IntRange(min=1), default=TRAIN_DEFAULTS.batch_size, show_default=True, help="Samples per optimizer step."),
        click.option("--lr", "learning_rate", type=click.FloatRange(min=0, min_open=True), default=TRAIN_DEFAULTS.learning_rate, show_default=True, help="Adam learning rate."),
        click.option("--qat-lr", "qat_learning_rate", type=click.FloatRange(min=0, min_open=True), default=None, help="Adam learning rate of the quantization-aware passes after --float-epochs [default: --lr]."),
        click.option("--seed", type=int, default=TRAIN_DEFAULTS.seed, show_default=True, help="Seed of the weights, the data split and the batch order."),
        click.option("--limit", type=click.IntRange(min=1), default=None, help="Use only this many samples per split (quick runs)."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _config(options: dict) -> TrainConfig:
    fields = {field.name for field in dataclasses.fields(TrainConfig)}
    return TrainConfig(**{key: value for key, value in options.items() if key in fields})


def _echo_json(data) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


@main.command("train")
@train_options
@click.option("-o", "--output", type=click.Path(dir_okay=False), default="model.pt", show_default=True, help="Checkpoint file to write.")
def train_command(output: str, **options) -> None:
    """Train a recurrent spiking classifier with stateful QAT (bundled digits by default)."""
    from squat_deploy.checkpoint import save_checkpoint
    from squat_deploy.train import train

    checkpoint, report = train(_config(options))
    save_checkpoint(output, checkpoint)
    click.echo(f"test accuracy: float {report['test_accuracy_float']:.4f}, fake-quantized {report['test_accuracy_fake_quant']:.4f}")
    click.echo(f"wrote {output}")


@main.command("export")
@click.argument("checkpoint", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Artifact to write [default: CHECKPOINT with suffix .squat].")
@click.option("--full-width-state", is_flag=True, help="Leave out the level tables, for targets without them; squat verify then reports what that changes.")
def export_command(checkpoint: str, output: str | None, full_width_state: bool) -> None:
    """Export a checkpoint to an integer artifact for its target."""
    from squat_deploy.artifact import write_artifact
    from squat_deploy.checkpoint import load_checkpoint
    from squat_deploy.compiler import compile_artifact
    from squat_deploy.export import export_checkpoint

    output = output or str(Path(checkpoint).with_suffix(".squat"))
    if Path(output).resolve() == Path(checkpoint).resolve():
        raise UserError(f"the artifact would overwrite the checkpoint {checkpoint}; pass another --output")
    artifact = export_checkpoint(load_checkpoint(checkpoint), checkpoint, full_width_state=full_width_state)
    compile_artifact(artifact)  # reject before writing anything the target cannot hold
    write_artifact(output, artifact)
    click.echo(f"wrote {output} (target {artifact.manifest['target']['name']}, {len(artifact.manifest['layers'])} layers)")


@main.command("inspect")
@click.argument("artifact", type=click.Path(dir_okay=False))
def inspect_command(artifact: str) -> None:
    """Print an artifact's JSON manifest."""
    from squat_deploy.artifact import read_artifact

    _echo_json(read_artifact(artifact).manifest)


def _compile(artifact_path: str, target: str | None):
    from squat_deploy.artifact import read_artifact
    from squat_deploy.compiler import compile_artifact
    from squat_deploy.profiles import load_target

    profile = load_target(target) if target else None
    return compile_artifact(read_artifact(artifact_path), profile)


@main.command("compile")
@click.argument("artifact", type=click.Path(dir_okay=False))
@click.option("--target", default=None, help="Profile to compile for [default: the artifact's own].")
@click.option("--json", "as_json", is_flag=True, help="Print the integer graph as JSON.")
def compile_command(artifact: str, target: str | None, as_json: bool) -> None:
    """Lower an artifact to the integer graph and check every width."""
    graph = _compile(artifact, target)
    ops = [layer.describe() for layer in graph.layers]
    if as_json:
        _echo_json({"target": graph.profile.name, "input_size": graph.input_size, "layers": ops})
        return
    click.echo(f"target {graph.profile.name}: {len(ops)} layers, all values fit their widths")
    for op in ops:
        widths = ", ".join(f"{name} {bits}" for name, bits in op["widths"].items() if bits is not None)
        click.echo(
            f"  {op['layer']}: {op['neuron_type']} x{op['neurons']}, fan-in {op['fan_in']}, reset {op['reset']}, "
            f"max |acc| {op['max_accumulator']}; bits: {widths}"
        )
        if op["distinct_levels"] is not None and op["distinct_levels"] < 1 << op["widths"]["level_index"]:
            click.echo(
                f"    note: {op['distinct_levels']} of {1 << op['widths']['level_index']} levels are distinct on the state grid; "
                f"the closest levels collapsed to the same integer"
            )


def _footprint_table(footprint: dict) -> str:
    """Format ``Footprint.to_dict()`` as a table of bytes per layer and a cores line."""
    from squat_deploy.compiler.footprint import CATEGORIES

    header = ["layer", *CATEGORIES, "total", "float32"]
    layers = footprint["layers"]
    rows = [
        [layer["layer"], *(str(layer["bytes"][name]) for name in CATEGORIES), str(layer["total_bytes"]), str(layer["float32_bytes"])]
        for layer in layers
    ]
    totals = [sum(layer["bytes"][name] for layer in layers) for name in CATEGORIES]
    rows.append(["total", *map(str, totals), str(footprint["total_bytes"]), str(footprint["float32_bytes"])])

    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = [cell.rjust(width) if i else cell.ljust(width) for i, (cell, width) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells))

    cores = footprint["cores"]
    utilisation = ", ".join(f"{name} {value:.1%}" for name, value in cores["utilisation"].items())
    ratio = footprint["float32_bytes"] / max(footprint["total_bytes"], 1)
    lines.append(f"sizes in bytes; the integer model is {ratio:.1f}x smaller than float32")
    lines.append(
        f"cores: {cores['cores_needed']} of {cores['cores_available']} needed (binding limit: {cores['binding_limit']}); "
        f"utilisation of the used cores: {utilisation}"
    )
    return "\n".join(lines)


@main.command("footprint")
@click.argument("artifact", type=click.Path(dir_okay=False))
@click.option("--target", default=None, help="Profile to count against [default: the artifact's own].")
@click.option("--json", "as_json", is_flag=True, help="Print the footprint as JSON.")
def footprint_command(artifact: str, target: str | None, as_json: bool) -> None:
    """Estimate the memory footprint per layer and the cores the model needs."""
    from squat_deploy.compiler import estimate_footprint

    footprint = estimate_footprint(_compile(artifact, target))
    if as_json:
        _echo_json(footprint.to_dict())
    else:
        click.echo(_footprint_table(footprint.to_dict()))


def _load_raster(path: str, input_size: int) -> np.ndarray:
    if not Path(path).is_file():
        raise UserError(f"raster {path} not found")
    try:
        raster = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        raise UserError(f"{path}: not a NumPy .npy file of integer event counts; save one with numpy.save") from None
    if not isinstance(raster, np.ndarray) or raster.dtype.kind not in "biuf":
        raise UserError(f"{path}: the raster must be a numeric array of event counts")
    if raster.ndim not in (2, 3) or raster.shape[-1] != input_size:
        raise UserError(f"{path}: invalid raster shape {raster.shape}; expected (time, {input_size}) or (time, batch, {input_size})")
    if raster.size == 0:
        raster_shape = tuple(raster.shape)
        raise UserError(f"{path}: the raster {raster_shape} is empty; give at least one step and one sample")
    if raster.ndim == 2:
        raster = raster[:, None, :]
    if not np.issubdtype(raster.dtype, np.integer) and not np.issubdtype(raster.dtype, np.bool_):
        if not np.all(np.mod(raster, 1) == 0):
            raise UserError(f"{path}: invalid raster: event counts must be whole numbers, found fractional values")
    if raster.min(initial=0) < 0:
        raise UserError(f"{path}: invalid raster: event counts must be 0 or more, found {raster.min()}")
    return np.ascontiguousarray(raster.transpose(1, 0, 2).astype(np.int64))


@main.command("simulate")
@click.argument("artifact", type=click.Path(dir_okay=False))
@click.option("--input", "raster_path", type=click.Path(dir_okay=False), default=None, help="Spike raster .npy, shape (time, inputs) or (time, batch, inputs) [default: the test split the model was trained with].")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Write per-step spikes and states of every layer to this .npz file.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Simulate only this many test samples (not with --input).")
@click.option("--data", type=click.Path(file_okay=False), default=None, help="Folder of the dataset's files, where it moved since training [default: the folder the model was trained on].")
def simulate_command(artifact: str, raster_path: str | None, output: str | None, limit: int | None, data: str | None) -> None:
    """Run an artifact in the integer simulator."""
    from squat_deploy.sim import simulate

    graph = _compile(artifact, None)
    if output and not Path(output).parent.is_dir():
        raise UserError(f"cannot write {output}: folder {Path(output).parent} does not exist")
    labels = None
    if raster_path and limit is not None:
        raise UserError("--limit selects test samples and cannot be combined with --input; cut the raster instead")
    if raster_path:
        inputs = _load_raster(raster_path, graph.input_size)
    else:
        inputs, labels = _test_set(_with_data(graph.manifest.get("input", {}), data), limit)
    result = simulate(graph, inputs)
    counts = result.output_spikes.sum(axis=1)
    click.echo(f"simulated {inputs.shape[0]} sample(s) x {inputs.shape[1]} steps on {graph.profile.name}")
    for name, spikes in zip(result.layer_names, result.spikes):
        click.echo(f"  {name}: {int(spikes.sum())} spikes, rate {spikes.mean():.4f} per neuron per step")
    if labels is not None:
        click.echo(f"accuracy: {float((counts.argmax(axis=1) == labels).mean()):.4f}")
    if output:
        arrays = {}
        for index, name in enumerate(result.layer_names):
            arrays[f"{name}.spikes"] = result.spikes[index]
            arrays[f"{name}.mem"] = result.mem[index]
            if result.syn[index] is not None:
                arrays[f"{name}.syn"] = result.syn[index]
            if result.mem_index[index] is not None:
                arrays[f"{name}.mem_index"] = result.mem_index[index]
        _save_npz(output, arrays)
        click.echo(f"wrote {output} (arrays of shape (batch, time, neurons))")


def _test_set(encoding: dict, limit: int | None):
    """Rebuild the test split an artifact's model was trained with."""
    from squat_deploy.data import load_split

    _, test_set = load_split(encoding, limit=limit)
    return test_set.spikes, test_set.labels


def _with_data(encoding: dict, data: str | None) -> dict:
    """Return ``encoding`` reading its files from ``data`` when given (a moved dataset folder)."""
    if data is None:
        return encoding
    if encoding.get("dataset", "digits") == "digits":
        raise UserError("--data applies to datasets read from files; this model was trained on the bundled digits")
    return {**encoding, "path": str(Path(data).expanduser().resolve())}


def _save_npz(path: str, arrays: dict) -> None:
    from squat_deploy.files import atomic_output

    with atomic_output(path) as temporary, open(temporary, "wb") as stream:
        np.savez_compressed(stream, **arrays)


def _print_summary(summary: dict) -> None:
    click.echo(f"target:                     {summary['target']}")
    click.echo(f"samples:                    {summary['test_samples']}")
    if "accuracy_float" in summary:
        click.echo(f"accuracy, float:            {summary['accuracy_float']:.4f}")
        click.echo(f"accuracy, fake-quantized:   {summary['accuracy_fake_quant']:.4f}")
    click.echo(f"accuracy, integer:          {summary['accuracy_integer']:.4f}")
    click.echo(f"spike match:                {summary['spike_match_rate']:.6%}")
    click.echo(f"state match:                {summary['state_match_rate']:.6%}")
    verdict = "yes" if summary["bit_exact"] else f"NO, first mismatch: {summary['first_mismatch']}"
    click.echo(f"bit-exact:                  {verdict}")
    fidelity = summary.get("fidelity")
    if fidelity:
        click.echo("full-width state instead of the trained level tables:")
        click.echo(f"  accuracy with level tables:   {fidelity['accuracy_with_level_tables']:.4f}")
        click.echo(f"  output spikes equal to them:  {fidelity['output_spike_match_rate']:.4%}")


@main.command("verify")
@click.argument("checkpoint", type=click.Path(dir_okay=False))
@click.argument("artifact", type=click.Path(dir_okay=False))
@click.option("--split", type=click.Choice(["test", "train"]), default="test", show_default=True, help="Split of the training dataset to compare on.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.option("--data", type=click.Path(file_okay=False), default=None, help="Folder of the dataset's files, where it moved since training [default: the folder the model was trained on].")
def verify_command(checkpoint: str, artifact: str, split: str, as_json: bool, data: str | None) -> None:
    """Check that the simulator matches the torch model bit for bit."""
    from squat_deploy.artifact import file_digest
    from squat_deploy.checkpoint import load_checkpoint
    from squat_deploy.pipeline import dataset_for, verification_summary

    model = load_checkpoint(checkpoint)
    graph = _compile(artifact, None)
    recorded = graph.manifest.get("source", {}).get("checkpoint_sha256")
    if recorded and recorded != file_digest(checkpoint):
        raise UserError(
            f"{artifact} was exported from another checkpoint than {checkpoint}, so the two cannot agree; "
            f"export it again with `squat export {checkpoint}` or pass the checkpoint it came from"
        )
    model.encoding = _with_data(model.encoding, data)
    summary = verification_summary(model.build_network(), graph, dataset_for(model, split))
    if as_json:
        _echo_json(summary)
    else:
        _print_summary(summary)
    if not summary["bit_exact"]:
        sys.exit(1)


@main.command("run")
@train_options
@click.option("--workdir", type=click.Path(file_okay=False), default=None, help="Folder for the checkpoint and artifact [default: a cache folder per configuration].")
@click.option("--retrain", is_flag=True, help="Train again even if the work folder contains a model.")
@click.option("--full-width-state", is_flag=True, help="Deploy without level tables, for targets without them, and report what that changes.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
def run_command(workdir: str | None, retrain: bool, full_width_state: bool, as_json: bool, **options) -> None:
    """Train (or reuse), export, compile, simulate and verify (bundled digits by default)."""
    from squat_deploy.pipeline import run_pipeline

    summary = run_pipeline(
        _config(options), Path(workdir) if workdir else None, retrain=retrain, progress=not as_json, full_width_state=full_width_state
    )
    if as_json:
        _echo_json(summary)
    else:
        click.echo(f"model: {summary['checkpoint']} ({'reused' if summary['model_reused'] else 'trained'})")
        click.echo(f"artifact: {summary['artifact']}")
        _print_summary(summary)
        click.echo("")
        click.echo(_footprint_table(summary["footprint"]))
    if not summary["bit_exact"]:
        sys.exit(1)


@main.command("sweep")
@click.option("--target", default=TRAIN_DEFAULTS.target, show_default=True, help="Target profile whose arithmetic every cell deploys to; the weight width varies per cell.")
@_with_options(_dataset_options())
@click.option("--hidden-size", type=click.IntRange(min=1), default=TRAIN_DEFAULTS.hidden_size, show_default=True, help="Neurons in the hidden layer.")
@click.option("--steps", "num_steps", callback=_auto_or_int, default=str(TRAIN_DEFAULTS.num_steps), show_default=True, help="Time steps per sample, or 'auto' (see squat train).")
@_with_options(_level_range_options())
@click.option("--weight-bits", default="float,8,4,2", show_default=True, help="Weight widths of the grid, comma-separated; 'float' deploys 16-bit weights.")
@click.option("--state-bits", default="float,8,4,2", show_default=True, help="State level-table widths of the grid, comma-separated; 'float' deploys full-width states.")
@click.option("--methods", default="all", show_default=True, help="Methods of the grid, comma-separated: ptq, wqat, sqat-uniform, sqat-threshold, wqat+sqat, wqat+sqat-learned, or all.")
@click.option("--epochs", type=click.IntRange(min=1), default=TRAIN_DEFAULTS.epochs, show_default=True, help="Epochs of the float model that every method starts from.")
@click.option("--finetune-epochs", type=click.IntRange(min=1), default=5, show_default=True, help="Epochs of quantization-aware fine-tuning per trained cell.")
@click.option("--finetune-lr", type=click.FloatRange(min=0, min_open=True), default=1e-3, show_default=True, help="Adam learning rate of the fine-tuning.")
@click.option("--batch-size", type=click.IntRange(min=1), default=TRAIN_DEFAULTS.batch_size, show_default=True, help="Samples per optimizer step.")
@click.option("--lr", "learning_rate", type=click.FloatRange(min=0, min_open=True), default=TRAIN_DEFAULTS.learning_rate, show_default=True, help="Adam learning rate of the float model.")
@click.option("--seed", type=int, default=TRAIN_DEFAULTS.seed, show_default=True, help="Seed of the weights, the data split and the batch order.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Use only this many samples per split (quick runs).")
@click.option("-o", "--output", type=click.Path(file_okay=False), default="sweep", show_default=True, help="Folder for models, cell results, tables and plots; a rerun resumes from it.")
@click.option("--restart", is_flag=True, help="Delete the output folder's models and results first.")
@click.option("--plots/--no-plots", default=True, show_default=True, help="Write the PNG plots.")
def sweep_command(output: str, restart: bool, plots: bool, weight_bits: str, state_bits: str, methods: str, finetune_epochs: int, finetune_lr: float, **options) -> None:
    """Run the grid weight bits x state bits x method through the integer simulator."""
    from squat_deploy.sweep import Sweep, SweepConfig, parse_bits, parse_methods

    config = SweepConfig(
        train=_config(options),
        weight_bits=parse_bits(weight_bits, "weight bits", minimum=2),  # a signed weight needs a sign bit and one more
        state_bits=parse_bits(state_bits, "state bits"),
        methods=parse_methods(methods),
        finetune_epochs=finetune_epochs,
        finetune_learning_rate=finetune_lr,
        plots=plots,
    )
    folder = Path(output)
    started = time.perf_counter()
    sweep = Sweep(config, folder)  # checks the grid before --restart deletes anything
    if restart:
        _clear_sweep(folder)
    try:
        rows = sweep.run()
    except KeyboardInterrupt:
        done = len(list((folder / "cells").glob("*.json"))) if (folder / "cells").is_dir() else 0
        click.echo(f"interrupted with {done} cell result(s) saved in {folder}; run the same command again to resume", err=True)
        sys.exit(130)
    click.echo((folder / "results.md").read_text().rstrip())
    click.echo(f"\n{len(rows)} cells in {time.perf_counter() - started:.0f} s; wrote {folder / 'results.csv'}, {folder / 'results.md'}" + (" and plots" if plots else ""))


def _clear_sweep(folder: Path) -> None:
    """Remove what a sweep writes into ``folder``, and nothing else."""
    import shutil

    for name in ("models", "cells"):
        if (folder / name).is_dir():
            shutil.rmtree(folder / name)
    for name in ("sweep.json", "results.csv", "results.md", "accuracy_vs_bits.png", "state_histogram.png", "raster.png"):
        (folder / name).unlink(missing_ok=True)


if __name__ == "__main__":
    main()
