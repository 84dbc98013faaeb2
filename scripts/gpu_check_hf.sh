#!/usr/bin/env bash
# On a GPU machine: evaluate a TINY RANDOM Qwen2.5-VL (built locally, no hub) with `--device-map auto --dtype bfloat16`
# through `mimic eval run`, and keep its telemetry and where each layer sat. Random weights: the figures say that
# placement, bf16 and the harness work on CUDA, nothing about answers.
#
#   OUT=runs/gpu_check scripts/gpu_check_hf.sh        # writes $OUT/{run/,placement.json,nvidia-smi.txt}
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-runs/gpu_check}
mkdir -p "$OUT"
nvidia-smi > "$OUT/nvidia-smi.txt"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

PYTHONPATH=tests "$PY" - "$WORK" <<'PY'
import sys
from pathlib import Path

from eval_helpers import build_bench, save_tiny_qwen25_vl

work = Path(sys.argv[1])
build_bench(work / "bench", n_videos=8)
save_tiny_qwen25_vl(work / "qwen")
PY

"$PY" -m mimic_cli eval run --model "hf:$WORK/qwen" --bench "$WORK/bench" --out "$OUT/run" --device-map auto \
  --dtype bfloat16 --scoring likelihood --num-frames 4 --batch-size 4 --conditions video,blank,blind

"$PY" - "$WORK/qwen" "$OUT/placement.json" <<'PY'
import sys

import torch

from mimic_data.io import atomic_write_json
from mimic_eval.adapters.registry import build_adapter

adapter = build_adapter(f"hf:{sys.argv[1]}", num_frames=4, dtype="bfloat16", placement={"device_map": "auto"})
model = adapter.model
devices = {str(p.device) for p in model.parameters()}
assert all(device.startswith("cuda") for device in devices), f"device_map=auto left weights on {devices}"
atomic_write_json(sys.argv[2], {
    "gpu": torch.cuda.get_device_name(0), "torch": torch.__version__,
    "hf_device_map": {k: str(v) for k, v in (getattr(model, "hf_device_map", None) or {}).items()},
    "parameter_devices": sorted(devices),
    "parameter_dtypes": sorted({str(p.dtype) for p in model.parameters()}),
    "max_memory_allocated_mib": round(torch.cuda.max_memory_allocated() / 2**20, 1)})
print(open(sys.argv[2]).read())
PY
cat "$OUT/run/telemetry.rank0.json"
