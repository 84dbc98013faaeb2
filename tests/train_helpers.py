"""Helpers for the training tests: the tiny random run of `mimic_train.smoke` (perf/train.py measures the same one)."""

from mimic_train.smoke import RandomFrames, smoke_rows, tiny_recipe

__all__ = ["RandomFrames", "smoke_rows", "tiny_recipe"]
