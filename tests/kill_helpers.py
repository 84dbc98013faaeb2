"""Kill a resumable job with SIGKILL at seeded random points, then check its append-only ledger: the crawl and hydration
kill tests use it, and so does a 10-kill check run by hand (see mimic_data/README_crawl.md)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def complete_lines(path: Path) -> list[str]:
    """The lines of a JSONL file that end in a newline (a torn tail is not yet a row)."""
    if not path.exists():
        return []
    return [line + "\n" for line in path.read_text(encoding="utf-8", errors="replace").split("\n")[:-1]]


def run_with_kills(argv: list[str], ledger: Path, n_kills: int, rng: random.Random, max_delay_s: float,
                   on_kill: Callable[[], None] | None = None, timeout_s: float = 120.0) -> int:
    """Run argv up to n_kills times, each time killing it (SIGKILL, whole process group) once its ledger has grown by a
    row plus a random delay in [0, max_delay_s]; stops early when a run finishes by itself. Returns the kills landed.

    on_kill runs after every kill (e.g. to snapshot the ledger).
    """
    kills = 0
    for _ in range(n_kills):
        before = len(complete_lines(ledger))
        with tempfile.TemporaryFile() as stderr:
            child = subprocess.Popen(argv, start_new_session=True, stdout=subprocess.DEVNULL, stderr=stderr)
            deadline = time.monotonic() + timeout_s
            while child.poll() is None and len(complete_lines(ledger)) <= before and time.monotonic() < deadline:
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, max_delay_s))
            if child.poll() is not None:  # it ended by itself: finished (nothing left to interrupt) or crashed
                stderr.seek(0)
                assert child.returncode == 0, f"{argv[:2]} exited {child.returncode}: {stderr.read()[-2000:]!r}"
                break
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        kills += 1
        if on_kill is not None:
            on_kill()
    return kills


def ledger_damage(path: Path, snapshots: list[list[str]]) -> dict[str, int]:
    """Glued rows (a line that is not exactly one JSON object) and lost rows (a row complete at a kill that is no
    longer in the final file at its place) of an append-only ledger."""
    lines = complete_lines(path)
    glued = 0
    for line in lines:
        try:
            glued += not isinstance(json.loads(line), dict)
        except ValueError:
            glued += 1
    lost = 0
    for snapshot in snapshots:
        # a torn tail at the kill is cut on resume, so compare only the rows that were complete then
        whole = [line for line in snapshot if _is_row(line)]
        lost += sum(a != b for a, b in zip(whole, lines, strict=False)) + max(0, len(whole) - len(lines))
    return {"rows": len(lines), "glued": glued, "lost": lost}


def _is_row(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False
