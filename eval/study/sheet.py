"""Build a blind-test sheet: per video its held-out real comments + one comment per model, shuffled, opaque ids.

The real comments come from the private study pool that `mimic bench build` held out of the public bench
(`study_pool.parquet`), never from the public `references`; the build refuses when any of them is found verbatim in
the bench folder or another public folder it is given. Output folder:
  items_public.parquet   item_id, video_id, text            (what annotators may see)
  design.json            study id, seed, k, calibration videos, video files (no source labels)
  secret/study_secret.key  HMAC key for item ids and per-annotator display order (never shipped)
  secret/manifest_secret.parquet  item_id -> source, ranks, raw text, flags (read only by aggregation/validation)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
import re
import secrets
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from mimic_bench.build import strip_handles
from mimic_bench.writer import STUDY_POOL_FILE, check_not_public, find_in_public
from mimic_data.io import atomic_write_bytes, atomic_write_json, read_jsonl, write_parquet

from . import ATTENTION_SOURCE, HUMAN_SOURCE, PROTOCOL_VERSION

POSTPROC_VERSION = "display-norm/1"
# Instructional manipulation checks (Prolific-compliant): the text itself tells the annotator what to answer.
ATTENTION_TEXTS = (
    "Attention check: for this comment please choose AI and a realism score of 0.",
    "This line is a check that you are reading: select AI and realism 0.",
    "Please answer AI with realism 0 for this comment so we know you are paying attention.",
)
ATTENTION_PASS = {"judged_human": False, "realism": 0}
# Words that reveal a model's identity or nature (FastChat-style identity scan); flagged, never silently dropped.
IDENTITY_WORDS = ("as an ai", "language model", "i cannot watch", "i can't watch", "gpt", "openai", "qwen", "llava",
                  "gemini", "claude", "internvl", "mimic-chat", "assistant")
_PREAMBLE = re.compile(r"^\s*(here(?:'s| is) (?:a |my |the )?(?:possible )?comment\s*[:\-]|comment\s*:)\s*", re.I)
_WRAPPING_QUOTES = ("\"\"", "''", "“”", "‘’")

MANIFEST_SCHEMA = pa.schema([
    ("study_id", pa.string()), ("video_id", pa.string()), ("item_id", pa.string()), ("source", pa.string()),
    ("source_type", pa.string()), ("human_rank", pa.int32()), ("like_count", pa.int64()),
    ("text_raw", pa.string()), ("text", pa.string()), ("display_edits", pa.list_(pa.string())),
    ("identity_leak", pa.bool_()), ("duplicate_of_human", pa.bool_()), ("found_in_public", pa.bool_()),
    ("sampling", pa.string()),
    ("is_calibration", pa.bool_()), ("postproc_version", pa.string()),
])
PUBLIC_SCHEMA = pa.schema([("item_id", pa.string()), ("video_id", pa.string()), ("text", pa.string())])


class StudyInputError(ValueError):
    """Bad study input; the message names the file/line or video."""


class StudyLeakError(StudyInputError):
    """A human study item is published somewhere an annotator could look it up: the study must not start."""


def item_id_for(secret: bytes, video_id: str, source: str, index: int) -> str:
    digest = hmac.new(secret, f"{video_id}|{source}|{index}".encode(), hashlib.sha256).hexdigest()
    return "it_" + digest[:20]


def display_order(secret: bytes, annotator_id: str, video_id: str, item_ids: list[str]) -> list[str]:
    """Per-(annotator, video) order seeded by HMAC, so nobody can predict it from the public sheet."""
    seed = hmac.new(secret, f"order|{annotator_id}|{video_id}".encode(), hashlib.sha256).digest()
    order = sorted(item_ids)
    random.Random(seed).shuffle(order)
    return order


def normalise_display(text: str, is_human: bool) -> tuple[str, list[str]]:
    """Same normalisation for every source (whitespace, wrapping quotes, preambles); human handles are stripped."""
    edits = []
    out = " ".join(text.split())
    if out != text:
        edits.append("whitespace")
    stripped = _PREAMBLE.sub("", out)
    if stripped != out:
        edits.append("preamble")
        out = stripped
    if len(out) >= 2 and out[0] + out[-1] in _WRAPPING_QUOTES:
        out = out[1:-1].strip()
        edits.append("wrapping_quotes")
    if is_human:
        no_handles = strip_handles(out)
        if no_handles != out:
            edits.append("handle")
            out = no_handles
    return out, edits


def has_identity_leak(text: str) -> bool:
    low = text.lower()
    return any(re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", low) for word in IDENTITY_WORDS)


def load_generations(paths: Iterable[str | os.PathLike], bench_video_ids: set[str]) -> dict[tuple[str, str], dict]:
    """Read `mimic eval generate` JSONL files; a bad row raises naming file and line, duplicates are refused."""
    rows: dict[tuple[str, str], dict] = {}
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise StudyInputError(f"generation file {path} does not exist")
        for line_no, row in enumerate(read_jsonl(path), start=1):
            where = f"{path}:{line_no}"
            for key, kind in (("video_id", str), ("model", str), ("text", str)):
                if not isinstance(row.get(key), kind):
                    raise StudyInputError(f"{where}: field {key!r} missing or not a string")
            if row["model"] in (HUMAN_SOURCE, ATTENTION_SOURCE):
                raise StudyInputError(f"{where}: model name {row['model']!r} is reserved")
            if row["video_id"] not in bench_video_ids:
                raise StudyInputError(f"{where}: video {row['video_id']!r} is not in the bench")
            key = (row["video_id"], row["model"])
            if key in rows:
                raise StudyInputError(f"{where}: second generation for video {key[0]!r} by model {key[1]!r}")
            rows[key] = {"text": row["text"], "sampling": row.get("sampling") or {}}
    return rows


def load_or_create_secret(path: Path, secret: bytes | None) -> bytes:
    if secret is None and path.exists():
        return bytes.fromhex(path.read_text().strip())
    secret = secret or secrets.token_bytes(32)
    atomic_write_bytes(path, secret.hex().encode() + b"\n")
    os.chmod(path, 0o600)
    return secret


def load_study_pool(pool_dir: str | os.PathLike, bench_video_ids: set[str]) -> dict[str, dict]:
    """video id -> its held-out comments (`comments`, `like_counts`, `ranks`) from the private study pool."""
    path = Path(pool_dir) / STUDY_POOL_FILE
    if not path.exists():
        raise StudyInputError(f"{path} not found (expected the private study pool written by `mimic bench build`)")
    pool = {}
    for row in pq.read_table(path).to_pylist():
        if row["video_id"] not in bench_video_ids:
            raise StudyInputError(f"{path}: study video {row['video_id']!r} is not in the bench")
        if not row["comments"]:
            raise StudyInputError(f"{path}: study video {row['video_id']!r} has no held-out comments")
        pool[row["video_id"]] = row
    if not pool:
        raise StudyInputError(f"{path} holds no study videos")
    return pool


def check_items_not_public(study_dir: str | os.PathLike, extra_public_dirs: Iterable[str | os.PathLike] = ()) -> None:
    """Refuse (StudyLeakError) when any human item of the study is found verbatim in the bench folder or another
    public folder: an annotator could look it up and learn its source."""
    design = json.loads((Path(study_dir) / "design.json").read_text())
    human = [m["text"] for m in load_manifest(study_dir) if m["source"] == HUMAN_SOURCE]
    try:
        check_not_public(human, [*design["public_dirs"], *extra_public_dirs], "human study items")
    except ValueError as err:
        raise StudyLeakError(f"study {design['study_id']}: {err}") from None


def build_sheet(bench_dir: str | os.PathLike, generation_files: Iterable[str | os.PathLike], out_dir: str | os.PathLike,
                *, pool_dir: str | os.PathLike, seed: int = 0, n_videos: int | None = None, n_calibration: int = 2,
                n_attention: int = 3, k: int = 3, n_human: int = 5, secret: bytes | None = None,
                public_dirs: Iterable[str | os.PathLike] = ()) -> dict:
    """Write the sheet, design and secret manifest; returns the design dict. Same inputs + seed + secret -> same bytes.

    `bench_dir` is the (hydrated) public bench: it names the videos and their files; the real comments come from
    `pool_dir`. Refuses when a human item is found verbatim in `bench_dir` or any of `public_dirs`.
    """
    bench_dir, out_dir = Path(bench_dir), Path(out_dir)
    bench_path = bench_dir / "comment_generation.parquet"
    if not bench_path.exists():
        raise StudyInputError(f"{bench_path} not found (expected the MIMIC-Bench comment_generation table)")
    bench = pq.read_table(bench_path).to_pylist()
    for needed in ("video_id", "file_name", "platform"):
        if bench and needed not in bench[0]:
            raise StudyInputError(f"{bench_path}: column {needed!r} missing")
    by_video = {row["video_id"]: row for row in bench}
    pool = load_study_pool(pool_dir, set(by_video))
    generations = load_generations(generation_files, set(by_video))
    models = sorted({model for video_id, model in generations if video_id in pool})
    if not models:
        raise StudyInputError("no model generations for any study video")

    rng = random.Random(seed)
    video_ids = sorted(pool)
    if n_videos is not None and n_videos < len(video_ids):
        video_ids = sorted(rng.sample(video_ids, n_videos))
    calibration = sorted(rng.sample(video_ids, min(n_calibration, len(video_ids))))
    # Attention checks go into calibration videos first (everyone sees those), the rest into random other videos.
    others = [v for v in video_ids if v not in calibration]
    check_hosts = (calibration + rng.sample(others, len(others)))[:n_attention]
    check_hosts = (check_hosts * n_attention)[:n_attention] if check_hosts else []

    secret = load_or_create_secret(out_dir / "secret" / "study_secret.key", secret)
    study_id = "study_" + hmac.new(secret, f"study|{seed}".encode(), hashlib.sha256).hexdigest()[:12]
    public_dirs = [str(Path(d).resolve()) for d in (bench_dir, *public_dirs)]
    manifest = []
    for video_id in video_ids:
        held_out = pool[video_id]
        human_texts = set()
        entries = []
        for text, like, rank in list(zip(held_out["comments"], held_out["like_counts"], held_out["ranks"],
                                         strict=True))[:n_human]:
            shown, edits = normalise_display(text, is_human=True)
            human_texts.add(shown.casefold())
            entries.append((HUMAN_SOURCE, rank, text, shown, edits, rank, int(like), "{}"))
        for model in models:
            gen = generations.get((video_id, model))
            if gen is None:
                continue  # a model that failed on this video simply has no item there
            shown, edits = normalise_display(gen["text"], is_human=False)
            entries.append((model, 0, gen["text"], shown, edits, None, None, json.dumps(gen["sampling"], sort_keys=True)))
        for i, host in enumerate(check_hosts):
            if host == video_id:
                text = ATTENTION_TEXTS[i % len(ATTENTION_TEXTS)]
                entries.append((ATTENTION_SOURCE, i, text, text, [], None, None, "{}"))
        for source, index, raw, shown, edits, rank, like, sampling in entries:
            if not shown:
                raise StudyInputError(f"video {video_id!r}: {source!r} comment is empty after normalisation")
            is_model = source not in (HUMAN_SOURCE, ATTENTION_SOURCE)
            manifest.append({
                "study_id": study_id, "video_id": video_id, "item_id": item_id_for(secret, video_id, source, index),
                "source": source,
                "source_type": "model" if is_model else ("human" if source == HUMAN_SOURCE else "attention_check"),
                "human_rank": rank, "like_count": like, "text_raw": raw, "text": shown, "display_edits": edits,
                "identity_leak": is_model and has_identity_leak(shown),
                "duplicate_of_human": is_model and shown.casefold() in human_texts, "found_in_public": False,
                "sampling": sampling, "is_calibration": video_id in calibration, "postproc_version": POSTPROC_VERSION,
            })
    human = [m["text"] for m in manifest if m["source"] == HUMAN_SOURCE]
    try:
        check_not_public(human, public_dirs, "human study items")
    except ValueError as err:
        raise StudyLeakError(str(err)) from None
    # A model comment that copies a public comment leaks nothing about its source, but annotators may recognise it.
    copied = find_in_public([m["text"] for m in manifest if m["source_type"] == "model"], public_dirs)
    for m in manifest:
        m["found_in_public"] = m["source_type"] == "model" and m["text"] in copied
    # Sheet order: videos sorted, items within a video shuffled with the study seed; ids carry no order either.
    public = []
    for video_id in video_ids:
        items = [m for m in manifest if m["video_id"] == video_id]
        rng.shuffle(items)
        public.extend({"item_id": m["item_id"], "video_id": video_id, "text": m["text"]} for m in items)
    manifest.sort(key=lambda m: (m["video_id"], m["item_id"]))

    write_parquet(out_dir / "items_public.parquet", pa.Table.from_pylist(public, schema=PUBLIC_SCHEMA))
    write_parquet(out_dir / "secret" / "manifest_secret.parquet", pa.Table.from_pylist(manifest, schema=MANIFEST_SCHEMA))
    design = {
        "study_id": study_id, "protocol_version": PROTOCOL_VERSION, "postproc_version": POSTPROC_VERSION,
        "seed": seed, "k": k, "n_videos": len(video_ids), "n_items": len(public), "n_models": len(models),
        "calibration_videos": calibration, "bench_dir": str(bench_dir.resolve()), "public_dirs": public_dirs,
        "video_files": {v: by_video[v]["file_name"] for v in video_ids},
    }
    atomic_write_json(out_dir / "design.json", design)
    return design


def load_manifest(study_dir: str | os.PathLike) -> list[dict]:
    path = Path(study_dir) / "secret" / "manifest_secret.parquet"
    if not path.exists():
        raise StudyInputError(f"{path} not found: build the study first (mimic study build)")
    return pq.read_table(path).to_pylist()
