"""Stable content fingerprints: sha256 of canonical JSON (never Python's salted `hash`)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any


def fingerprint(value: Any, length: int = 16) -> str:
    canonical = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:length]


def file_fingerprint(path: str | os.PathLike | None) -> dict[str, Any]:
    """Identity of a file for cache keys without reading it: name, size, mtime (None when absent)."""
    if path is None or not Path(path).is_file():
        return {"present": False}
    stat = Path(path).stat()
    return {"present": True, "name": Path(path).name, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def folder_weights_fingerprint(folder: str | os.PathLike) -> str:
    """Hash of a model folder's weight and config files by name, size and first/last MiB (cheap for big weights)."""
    folder = Path(folder)
    parts = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.name.startswith("."):
            continue
        with open(path, "rb") as f:
            head = f.read(1 << 20)
            size = path.stat().st_size
            f.seek(max(0, size - (1 << 20)))
            tail = f.read()
        parts.append([str(path.relative_to(folder)), size, hashlib.sha256(head + tail).hexdigest()])
    return fingerprint(parts)
