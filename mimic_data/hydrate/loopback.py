"""The demo's hydration: serve the rendered synthetic videos on loopback and hydrate a bench folder through the real
yt-dlp path (generic extractor), then materialize `file_name` and write the report."""

from __future__ import annotations

import os
from typing import Any

from .download import HydrateOptions, hydrate, load_manifest
from .report import materialize, report
from .server import VideoServer

SYNTHETIC_PREFIX = "https://synthetic.invalid/"


def hydrate_demo_bench(bench_dir: str | os.PathLike, rendered_root: str | os.PathLike,
                       faults: dict[str, str] | None = None) -> dict[str, Any]:
    """Hydrate bench_dir's videos.parquet from rendered_root (served on 127.0.0.1); returns the hydration report."""
    with VideoServer(rendered_root, faults=faults) as server:
        options = HydrateOptions(sleep=0.0, url_map=((SYNTHETIC_PREFIX, server.base_url + "/"),), backoff=0.2,
                                 socket_timeout=10.0)
        summary = hydrate(bench_dir, bench_dir, options=options)
    materialize(bench_dir)
    result = report(bench_dir, manifest=load_manifest(bench_dir))
    result["run"] = summary
    return result
