"""Linear probes on the demo model's frozen vision tower: which latent facts of a synthetic video can its tokens carry?

Needs a finished `make demo`. Features are the tower's outputs before the projectors, pooled as the model pools them
(spatial: 2x2 grid of patch means over the 8 spatial frames; temporal: patch mean per temporal frame); a softmax
regression is fitted on the 600 training videos and scored on the bench videos, against the world's latent labels.

  .venv/bin/python scripts/tower_probe.py [--demo runs/demo] [--out runs/probe/tower_probe.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pyarrow.parquet as pq
import torch
import torch.nn.functional as F

from mimic_data.io import atomic_write_json
from mimic_train.collator import VideoFrameLoader
from mimic_train.sft import BASE_DIR, load_mimic_chat

ATTRIBUTES = ("scene", "colour", "shape", "motion1", "motion2", "highlight")
STEPS, LR, L2 = 300, 1e-2, 1e-3


@torch.no_grad()
def tower_features(model, processor, paths: list[Path]) -> dict[str, torch.Tensor]:
    """{"spatial": (N, grid^2 * width), "temporal": (N, T * width)}: the model's pooled tower tokens, flattened."""
    loader = VideoFrameLoader(model.config)
    out = {"spatial": [], "temporal": []}
    for start in range(0, len(paths), 32):
        pixels = processor.video_processor([loader({"video_path": str(p)}) for p in paths[start:start + 32]],
                                           return_tensors="pt")
        spatial, temporal = model.model.get_tower_features(pixels["pixel_values_videos"], pixels["pixel_values_spatial"])
        out["spatial"].append(spatial.flatten(1))
        out["temporal"].append(temporal.flatten(1))
    return {name: torch.cat(parts) for name, parts in out.items()}


def probe_accuracy(train_x, train_y, test_x, test_y, classes: int) -> float:
    mean, std = train_x.mean(0), train_x.std(0) + 1e-6
    train_x, test_x = (train_x - mean) / std, (test_x - mean) / std
    weight = torch.zeros(train_x.shape[1], classes, requires_grad=True)
    bias = torch.zeros(classes, requires_grad=True)
    optimizer = torch.optim.Adam([weight, bias], lr=LR)
    for _ in range(STEPS):
        optimizer.zero_grad()
        loss = F.cross_entropy(train_x @ weight + bias, train_y) + L2 * weight.pow(2).sum()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        return float(((test_x @ weight + bias).argmax(1) == test_y).float().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demo", type=Path, default=Path("runs/demo"))
    parser.add_argument("--out", type=Path, default=Path("runs/probe/tower_probe.json"))
    args = parser.parse_args()
    torch.manual_seed(0)
    model, processor = load_mimic_chat(args.demo / "train" / "run" / BASE_DIR)
    model.eval()
    world = {row["video_id"]: row for row in pq.read_table(args.demo / "world" / "world.parquet").to_pylist()}
    train = sorted((args.demo / "train" / "videos").rglob("*.mp4"))
    test = sorted((args.demo / "rendered").rglob("*.mp4"))
    features = {"train": tower_features(model, processor, train), "test": tower_features(model, processor, test)}
    result = {"train_videos": len(train), "test_videos": len(test), "accuracy": {}}
    for attribute in ATTRIBUTES:
        classes = sorted({str(world[p.stem][attribute]) for p in train})
        labels = {split: torch.tensor([classes.index(str(world[p.stem][attribute])) for p in paths])
                  for split, paths in (("train", train), ("test", test))}
        result["accuracy"][attribute] = {"chance": round(1 / len(classes), 3), **{
            tokens: round(probe_accuracy(features["train"][tokens], labels["train"], features["test"][tokens],
                                         labels["test"], len(classes)), 3) for tokens in ("spatial", "temporal")}}
    atomic_write_json(args.out, result)
    print(json.dumps(result["accuracy"], indent=1))


if __name__ == "__main__":
    main()
