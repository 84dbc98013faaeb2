"""A stand-in for yt_dlp.YoutubeDL that other processes can build (a module-level class, picklable with its arguments):
it serves tests/fixtures/info_dicts by URL from a script file and logs every call with the proxy it was given, so a
crawl run by a process pool or by Ray workers can be checked. No network."""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures" / "info_dicts"


class FixtureYoutubeDL:
    """script: {url: {"fixture": NAME} or {"error": yt-dlp's message}}; each call is appended to calls_dir."""

    def __init__(self, script_path: str, calls_dir: str, opts: dict):
        self.script = json.loads(Path(script_path).read_text(encoding="utf-8"))
        self.calls = Path(calls_dir) / f"calls-{os.getpid()}.jsonl"
        self.proxy = opts.get("proxy")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def extract_info(self, url, download=False):
        with open(self.calls, "a", encoding="utf-8") as f:
            f.write(json.dumps({"url": url, "proxy": self.proxy}) + "\n")
        entry = self.script[url]
        if "error" in entry:
            raise ytdlp_failure(entry["error"])
        return json.loads((FIXTURES / f"{entry['fixture']}.json").read_text(encoding="utf-8"))


def ytdlp_failure(message: str):
    """What YoutubeDL.extract_info raises: a DownloadError carrying the ExtractorError in exc_info."""
    from yt_dlp.utils import DownloadError, ExtractorError

    try:
        raise ExtractorError(message, expected=True, video_id="x", ie="youtube")
    except ExtractorError as exc:
        return DownloadError(f"ERROR: {exc}", sys.exc_info())


def fixture_factory(script: dict, folder: Path):
    """A picklable ydl_factory serving `script`, logging calls under folder/calls/; read them with `calls(folder)`."""
    (folder / "calls").mkdir(parents=True, exist_ok=True)
    (folder / "script.json").write_text(json.dumps(script), encoding="utf-8")
    return functools.partial(FixtureYoutubeDL, str(folder / "script.json"), str(folder / "calls"))


def calls(folder: Path) -> list[dict]:
    return [json.loads(line) for path in sorted((folder / "calls").glob("*.jsonl"))
            for line in path.read_text(encoding="utf-8").splitlines()]
