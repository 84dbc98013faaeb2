"""Generate the UGC-like decode benchmark corpus with the ffmpeg CLI (cached under .cache/bench-corpus, never in git).

Clips: vertical 1080x1920 x 30 s ("tiktok") and landscape 1280x720 x 60 s ("yt"); libx264 yuv420p, 30 fps, keyframe
every 2 s (`-g 60`, scene cuts off so the interval holds), x264's default B-frames, `testsrc2` plus temporal noise so
it does not compress trivially (the corpus of anchors/decode_anchors.md). Existing clips are kept.

    .venv/bin/python perf/corpus.py --out .cache/bench-corpus --per-kind 2
"""

from __future__ import annotations

import argparse
import os
import subprocess
from pathlib import Path

KINDS = {"tiktok": (1080, 1920, 30), "yt": (1280, 720, 60)}  # name -> (width, height, seconds)
FPS, GOP = 30, 60


def clip_path(out: Path, kind: str, i: int) -> Path:
    return out / f"{kind}_{i}.mp4"


def make_clip(path: Path, width: int, height: int, seconds: int, seed: int) -> Path:
    """Encode one clip to a temp name, then rename, so a killed run never leaves a half clip under the real name."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.mp4")
    source = f"testsrc2=size={width}x{height}:rate={FPS}:duration={seconds}"
    subprocess.run(
        ["ffmpeg", "-y", "-v", "error", "-f", "lavfi", "-i", source, "-vf", f"noise=alls=8:allf=t+u:all_seed={seed}",
         "-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", str(GOP), "-keyint_min", str(GOP), "-sc_threshold", "0",
         "-crf", "23", "-movflags", "+faststart", str(tmp)],
        check=True)
    os.replace(tmp, path)
    return path


def build_corpus(out: str | os.PathLike, per_kind: int = 2) -> dict[str, list[Path]]:
    out = Path(out)
    return {kind: [make_clip(clip_path(out, kind, i), w, h, s, seed=i + 1) for i in range(per_kind)]
            for kind, (w, h, s) in KINDS.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=".cache/bench-corpus")
    parser.add_argument("--per-kind", type=int, default=2)
    args = parser.parse_args()
    for kind, paths in build_corpus(args.out, args.per_kind).items():
        print(kind, *(f"{p} ({p.stat().st_size / 1e6:.1f} MB)" for p in paths))


if __name__ == "__main__":
    main()
