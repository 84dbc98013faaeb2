"""Pre-flight check of video files: find what would break sampling before an evaluation starts; a report, never a crash.

Every file under ROOT/videos is checked, whatever its name: FFmpeg recognises the container from the content (mp4,
webm, mkv, MPEG-TS, ...), and the checks are the sampler's own (`frames_mimic_chat.probe`: index, first and last frame
decoded). Hidden files (a download in progress, `.ID.dl.*`) are skipped.

Problems (one file may have several): missing, zero_byte, undecodable (no readable video container or stream, or a
decode error), audio_only, truncated (fewer frames on disk than the header declares, or the last frame does not
decode) — these block sampling — and, as facts worth knowing: variable_frame_rate (sampled by time), too_short
(fewer frames or seconds than asked: sampled frames will repeat). Rotation and mirroring from the display matrix are
reported (`rotation`, `mirrored`) but are no problem: the sampler applies them; width/height are the displayed size.
`probe_video` is also the hydrator's check that a download decodes (a file that does not is `corrupt`, never `ok`).

    mimic hydrate preflight ROOT          # every file under ROOT/videos (and, with a manifest, the missing ones)
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

from modeling_mimic_chat.frames_mimic_chat import VideoDecodeError, probe

BLOCKING = frozenset({"missing", "zero_byte", "undecodable", "audio_only", "truncated"})
_PROBLEM_OF_KIND = {"missing": "missing", "empty": "zero_byte", "unreadable": "undecodable", "no_video": "undecodable",
                    "audio_only": "audio_only", "truncated": "truncated", "undecodable": "undecodable"}


def probe_video(path: str | os.PathLike, *, min_duration_s: float = 1.0, min_frames: int = 8) -> dict[str, Any]:
    """Facts and problems of one file: duration_s, width, height (displayed), fps, vcodec, container, num_frames,
    rotation, mirrored, start_offset_s, problems, message."""
    path = Path(path)
    row: dict[str, Any] = {"path": str(path), "problems": [], "message": "", "duration_s": None, "width": None,
                           "height": None, "fps": None, "vcodec": None, "container": None, "num_frames": None,
                           "rotation": 0, "mirrored": False, "start_offset_s": None}
    try:
        info = probe(path, check_tail=True)
    except VideoDecodeError as err:
        row["problems"].append(_PROBLEM_OF_KIND.get(err.kind, "undecodable"))
        row["message"] = err.reason
        return row
    problems = row["problems"]
    row.update(duration_s=round(info.duration_s, 4), width=info.width, height=info.height,
               fps=round(info.fps, 4) if info.fps else None, vcodec=info.codec, container=info.container,
               num_frames=info.num_frames, rotation=info.rotation, mirrored=info.mirrored,
               start_offset_s=round(info.start_offset_s, 4))
    if info.variable_frame_rate:
        problems.append("variable_frame_rate")
    if info.duration_s < min_duration_s or info.num_frames < min_frames:
        problems.append("too_short")
        row["message"] = (
            f"{info.num_frames} frame{'s' * (info.num_frames != 1)} over {info.duration_s:.2f} s (asked: at least "
            f"{min_frames} frames and {min_duration_s:g} s): sampling more than {info.num_frames} frames, "
            "frames will repeat")
    return row


def preflight(root: str | os.PathLike, expected: list[str] | None = None, **probe_kwargs) -> dict[str, Any]:
    """Probe every file under root/videos (hidden ones aside) plus the `expected` relative paths (missing ones are
    reported)."""
    root = Path(root)
    found = {str(p.relative_to(root)) for p in root.glob("videos/**/*")
             if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)}
    relpaths = found | set(expected or ())
    files = []
    for rel in sorted(relpaths):
        try:
            row = probe_video(root / rel, **probe_kwargs)
        except Exception as exc:  # a report, never a crash: an unexpected failure is this file's problem
            row = {"path": str(root / rel), "problems": ["undecodable"], "message": f"probe failed: {exc}"}
        row["relpath"] = rel
        files.append(row)
    counts = Counter(problem for row in files for problem in row["problems"])
    return {"root": str(root), "n_files": len(files), "n_ok": sum(not row["problems"] for row in files),
            "n_blocking": sum(bool(BLOCKING & set(row["problems"])) for row in files),
            "problems": dict(sorted(counts.items())), "files": files}


def format_report(report: dict[str, Any], limit: int = 20) -> str:
    lines = [f"{report['n_files']} files under {report['root']}: {report['n_ok']} clean, "
             f"{report['n_blocking']} unusable; problems: {report['problems'] or 'none'}"]
    for row in [r for r in report["files"] if r["problems"]][:limit]:
        lines.append(f"  {row['relpath']}: {', '.join(row['problems'])} {row.get('message', '')}".rstrip())
    return "\n".join(lines)
