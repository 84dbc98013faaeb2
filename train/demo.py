"""The demo's model: render the training videos, build the isomorphic SFT data, train the tiny MIMIC-Chat, export."""

from __future__ import annotations

from pathlib import Path

from mimic_train.config import load_config
from mimic_train.export import export_model
from mimic_train.sft import run_sft
from mimic_train.sft_data import build_sft_data

DEMO_CONFIG = Path(__file__).with_name("configs") / "demo_tiny.yaml"
DEMO_VIDEOS = 600  # training videos rendered and used; each gets 7 MCQ formats x 4 rotations + a comment target
DEMO_ROTATIONS = 4
# Easy-first curriculum, read in order (`train_sampling_strategy: sequential`), 400 steps of 16 rows a block: CAM-Cat
# with its answer's words in the video slot (the LM learns to point at the matching option), CAM-Cat with half of the
# rows showing the video (the projectors learn to say the same), CAM-Cat with the two other tasks whose options carry
# the category word, all with video, then a shuffled pass over every row with video (sft_data.curriculum_order).
DEMO_WARMUP = ((("cam_cat",), 6400, 1.0), (("cam_cat",), 6400, 0.5), (("cam_cat", "cam_topic", "cam_tag"), 6400, 0.0))
DEMO_EPOCHS = 1  # one shuffled pass (923 steps) after the warm-up; see max_steps in configs/demo_tiny.yaml


def train_demo_model(world_dir: str | Path, bench_dir: str | Path, out_dir: str | Path, seed: int = 0,
                     config_path: str | Path = DEMO_CONFIG, max_videos: int = DEMO_VIDEOS) -> Path:
    """Returns the exported model folder `<out>/mimic-chat-tiny` (loads with AutoModel + trust_remote_code).

    Resumable: rendered videos, the SFT data and training checkpoints already in `out_dir` are reused.
    """
    out_dir = Path(out_dir)
    sft_dir = out_dir / "sft"
    build_sft_data(world_dir, out_dir / "videos", sft_dir, bench_dir=bench_dir, seed=seed, max_videos=max_videos,
                   rotations=DEMO_ROTATIONS, comment_targets=1, warmup=DEMO_WARMUP, epochs=DEMO_EPOCHS)
    config = load_config(config_path, sft_data=str(sft_dir), out_dir=str(out_dir / "run"), seed=seed)
    run_sft(config)
    return export_model(out_dir / "run", out_dir / "mimic-chat-tiny")
