"""Pre-flight check of video files: find what would break sampling before an evaluation starts; a report, never a crash.

Problems (one file may have several): missing, zero_byte, undecodable (no readable container or stream, decode
error), audio_only, truncated (fewer frames on disk than the header declares, or the tail does not decode), rotated
(display-matrix rotation: the sampler returns stored pixels, unrotated), variable_frame_rate, too_short.
`probe_video` is also the hydrator's check that a download decodes (a file that does not is `corrupt`, never `ok`).

    mimic hydrate preflight ROOT          # every videos/**/*.mp4 (and, with a manifest, the missing ones)
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

BLOCKING = frozenset({"missing", "zero_byte", "undecodable", "audio_only", "truncated"})
_VFR_TOLERANCE = 0.05  # frame-duration spread (relative) above which a stream counts as variable frame rate


def probe_video(path: str | os.PathLike, *, min_duration_s: float = 1.0, min_frames: int = 8) -> dict[str, Any]:
    """Facts and problems of one file: duration_s, width, height, fps, vcodec, num_frames, rotation, problems."""
    import av

    path = Path(path)
    row: dict[str, Any] = {"path": str(path), "problems": [], "message": "", "duration_s": None, "width": None,
                           "height": None, "fps": None, "vcodec": None, "num_frames": None, "rotation": 0}
    problems = row["problems"]
    if not path.exists():
        problems.append("missing")
        return row
    if path.stat().st_size == 0:
        problems.append("zero_byte")
        return row
    try:
        container = av.open(str(path))
    except Exception as exc:  # any FFmpeg open error means the container is unreadable
        problems.append("undecodable")
        row["message"] = f"open: {exc}"
        return row
    with container:
        if not container.streams.video:
            problems.append("audio_only" if container.streams.audio else "undecodable")
            row["message"] = "no video stream"
            return row
        stream = container.streams.video[0]
        row.update(width=stream.codec_context.width, height=stream.codec_context.height, vcodec=stream.codec_context.name)
        try:
            _check_frames(container, stream, row, min_duration_s, min_frames)
        except Exception as exc:  # damaged data surfaces as FFmpeg errors while demuxing or decoding
            problem = "truncated" if "truncated" in problems or _looks_truncated(exc) else "undecodable"
            row["problems"] = [p for p in problems if p != problem] + [problem]
            row["message"] = f"decode: {exc}"
    return row


def _looks_truncated(exc: Exception) -> bool:
    text = str(exc).lower()
    return any(word in text for word in ("end of file", "eof", "truncat", "invalid data"))


def _check_frames(container, stream, row: dict[str, Any], min_duration_s: float, min_frames: int) -> None:
    problems = row["problems"]
    pts, keyframes = [], []
    for packet in container.demux(stream):
        if packet.pts is None or packet.size == 0:
            continue
        pts.append(packet.pts)
        if packet.is_keyframe:
            keyframes.append(packet.pts)
    if not pts:
        problems.append("undecodable")
        row["message"] = "no video packets"
        return
    pts.sort()
    time_base = float(stream.time_base)
    steps = [b - a for a, b in zip(pts, pts[1:], strict=False)]
    mean_step = sum(steps) / len(steps) if steps else 0
    duration = (pts[-1] - pts[0] + mean_step) * time_base
    row.update(num_frames=len(pts), duration_s=round(duration, 4),
               fps=round(1 / (mean_step * time_base), 4) if mean_step else None)
    declared = stream.frames or 0
    if declared and len(pts) < declared:
        problems.append("truncated")
        row["message"] = f"{len(pts)} of {declared} declared frames on disk"
    if steps and (max(steps) - min(steps)) > _VFR_TOLERANCE * mean_step:
        problems.append("variable_frame_rate")
    if duration < min_duration_s or len(pts) < min_frames:
        problems.append("too_short")
    # Decode the first frame and the last GOP: a damaged head or tail shows up here without a full decode.
    decoded = 0
    container.seek(0, stream=stream, backward=True)
    for frame in container.decode(stream):
        row["rotation"] = int(getattr(frame, "rotation", 0) or 0)
        decoded += 1
        break
    container.seek(keyframes[-1] if keyframes else pts[0], stream=stream, backward=True)
    tail = [frame.pts for frame in container.decode(stream)]
    if not decoded or not tail or max(tail) < pts[-1]:
        if "truncated" not in problems:
            problems.append("truncated")
        row["message"] = row["message"] or "the last frames do not decode"
    if row["rotation"] % 360:
        problems.append("rotated")


def preflight(root: str | os.PathLike, expected: list[str] | None = None, **probe_kwargs) -> dict[str, Any]:
    """Probe every `videos/**/*.mp4` under root plus the `expected` relative paths (missing ones are reported)."""
    root = Path(root)
    relpaths = {str(p.relative_to(root)) for p in root.glob("videos/**/*.mp4")} | set(expected or ())
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
