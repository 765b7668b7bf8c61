"""Datasets and spike encoders."""

from squat_deploy.data.digits import SpikeDataset, encode_rate, load_digits_split

__all__ = ["SpikeDataset", "encode_rate", "load_digits_split"]
