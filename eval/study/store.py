"""The study's server-side state in SQLite (WAL): annotators, video leases, served items and judgments.

The store never holds a source label: it knows items, videos and the calibration block only. One judgment is one
transaction; UNIQUE(annotator_id, item_id) makes a retried submission a no-op and a changed answer an error, so each
annotator judges each item exactly once. Opening a store checks that no human item is published (the study refuses to
start otherwise).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq

from . import APP_VERSION, PROTOCOL_VERSION
from .sheet import check_items_not_public, display_order, load_or_create_secret

LEASE_SECONDS = 30 * 60
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS videos (video_id TEXT PRIMARY KEY, is_calibration INTEGER NOT NULL, n_items INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS items (item_id TEXT PRIMARY KEY, video_id TEXT NOT NULL REFERENCES videos, text TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS annotators (annotator_id TEXT PRIMARY KEY, token_hash TEXT UNIQUE NOT NULL,
  created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS assignments (video_id TEXT NOT NULL, annotator_id TEXT NOT NULL, status TEXT NOT NULL,
  leased_at REAL NOT NULL, expires_at REAL NOT NULL, PRIMARY KEY (video_id, annotator_id));
CREATE TABLE IF NOT EXISTS served (annotator_id TEXT NOT NULL, item_id TEXT NOT NULL, position INTEGER NOT NULL,
  shown_at REAL NOT NULL, PRIMARY KEY (annotator_id, item_id));
CREATE TABLE IF NOT EXISTS judgments (judgment_id TEXT PRIMARY KEY, study_id TEXT NOT NULL,
  protocol_version TEXT NOT NULL, app_version TEXT NOT NULL, annotator_id TEXT NOT NULL, session_id TEXT,
  video_id TEXT NOT NULL, item_id TEXT NOT NULL, judged_human INTEGER NOT NULL, realism INTEGER NOT NULL,
  position INTEGER NOT NULL, shown_at REAL, answered_at REAL NOT NULL, latency_ms INTEGER,
  UNIQUE (annotator_id, item_id));
"""


class StudyError(ValueError):
    """A request the study refuses (unknown token or item, bad answer); the message names the item."""


class StudyStore:
    """Thread-safe: one SQLite connection per thread; assignment and judgment writes are BEGIN IMMEDIATE transactions."""

    def __init__(self, db_path: str | os.PathLike, study_dir: str | os.PathLike, k: int | None = None,
                 lease_seconds: float = LEASE_SECONDS, max_videos_per_annotator: int | None = None,
                 clock: Callable[[], float] = time.time, public_dirs: tuple[str | os.PathLike, ...] = ()):
        self.db_path, self.study_dir = Path(db_path), Path(study_dir)
        self.design = json.loads((self.study_dir / "design.json").read_text())
        check_items_not_public(self.study_dir, public_dirs)
        self.secret = load_or_create_secret(self.study_dir / "secret" / "study_secret.key", None)
        self.k = k or self.design["k"]
        self.lease_seconds, self.max_videos, self.clock = lease_seconds, max_videos_per_annotator, clock
        self._local = threading.local()
        self._init_db()
        self._order_cache: dict[tuple[str, str], list[str]] = {}

    # -- plumbing -------------------------------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.db_path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            conn.row_factory = sqlite3.Row
            self._local.conn = conn
        return conn

    def _transaction(self):
        conn = self._conn()

        class _Tx:
            def __enter__(self_inner):
                conn.execute("BEGIN IMMEDIATE")
                return conn

            def __exit__(self_inner, exc_type, exc, tb):
                conn.execute("ROLLBACK" if exc_type else "COMMIT")
                return False

        return _Tx()

    def _init_db(self) -> None:
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        items = pq.read_table(self.study_dir / "items_public.parquet").to_pylist()
        calibration = set(self.design["calibration_videos"])
        self._conn().executescript(_SCHEMA)
        with self._transaction() as conn:
            stored = conn.execute("SELECT value FROM meta WHERE key='study_id'").fetchone()
            if stored and stored[0] != self.design["study_id"]:
                raise StudyError(f"{self.db_path} belongs to study {stored[0]}, not {self.design['study_id']}")
            if stored:
                return  # resume: everything already loaded, judgments kept
            conn.execute("INSERT INTO meta VALUES ('study_id', ?)", (self.design["study_id"],))
            counts: dict[str, int] = {}
            for item in items:
                counts[item["video_id"]] = counts.get(item["video_id"], 0) + 1
            conn.executemany("INSERT INTO videos VALUES (?, ?, ?)",
                             [(v, int(v in calibration), n) for v, n in sorted(counts.items())])
            conn.executemany("INSERT INTO items VALUES (?, ?, ?)",
                             [(i["item_id"], i["video_id"], i["text"]) for i in items])

    def _token_hash(self, token: str) -> str:
        return hmac.new(self.secret, f"token|{token}".encode(), hashlib.sha256).hexdigest()

    def _order(self, annotator_id: str, video_id: str) -> list[str]:
        key = (annotator_id, video_id)
        if key not in self._order_cache:
            ids = [r[0] for r in self._conn().execute("SELECT item_id FROM items WHERE video_id=?", (video_id,))]
            self._order_cache[key] = display_order(self.secret, annotator_id, video_id, ids)
        return self._order_cache[key]

    # -- annotators -----------------------------------------------------------------------------------------------
    def issue_tokens(self, n: int) -> list[tuple[str, str]]:
        """New (annotator_id, token) pairs; only a keyed hash of each token is stored."""
        issued = []
        with self._transaction() as conn:
            for _ in range(n):
                token = secrets.token_urlsafe(12)
                annotator_id = "ann_" + self._token_hash(token)[:10]
                conn.execute("INSERT INTO annotators VALUES (?, ?, ?)", (annotator_id, self._token_hash(token),
                                                                        self.clock()))
                issued.append((annotator_id, token))
        return issued

    def sign_in(self, token: str) -> str:
        row = self._conn().execute("SELECT annotator_id FROM annotators WHERE token_hash=?",
                                   (self._token_hash(token.strip()),)).fetchone()
        if row is None:
            raise StudyError("unknown annotator token")
        return row[0]

    # -- assignment -----------------------------------------------------------------------------------------------
    def next_item(self, annotator_id: str) -> dict | None:
        """The next comment for this annotator, or None when nothing is left. Calibration videos come first."""
        now = self.clock()
        with self._transaction() as conn:
            video_id = self._current_or_new_lease(conn, annotator_id, now)
            if video_id is None:
                return None
            judged = {r[0] for r in conn.execute(
                "SELECT item_id FROM judgments WHERE annotator_id=? AND video_id=?", (annotator_id, video_id))}
            order = self._order(annotator_id, video_id)
            position = next(i for i, item_id in enumerate(order) if item_id not in judged)
            item_id = order[position]
            conn.execute("INSERT OR IGNORE INTO served VALUES (?, ?, ?, ?)", (annotator_id, item_id, position + 1, now))
            text = conn.execute("SELECT text FROM items WHERE item_id=?", (item_id,)).fetchone()[0]
        return {"item_id": item_id, "video_id": video_id, "text": text, "position": position + 1,
                "n_in_video": len(order)}

    def _current_or_new_lease(self, conn: sqlite3.Connection, annotator_id: str, now: float) -> str | None:
        row = conn.execute("SELECT video_id FROM assignments WHERE annotator_id=? AND status='leased' "
                           "AND expires_at>? ORDER BY leased_at LIMIT 1", (annotator_id, now)).fetchone()
        if row:
            return row[0]
        taken = {r[0] for r in conn.execute(
            "SELECT video_id FROM assignments WHERE annotator_id=? AND status='done'", (annotator_id,))}
        videos = conn.execute("SELECT video_id, is_calibration FROM videos ORDER BY video_id").fetchall()
        calibration = [v for v, is_cal in videos if is_cal and v not in taken]
        if calibration:
            choice = calibration[0]
        else:
            done_regular = sum(1 for v, is_cal in videos if not is_cal and v in taken)
            if self.max_videos is not None and done_regular >= self.max_videos:
                return None
            served = dict(conn.execute(
                "SELECT video_id, COUNT(*) FROM assignments WHERE status='done' OR expires_at>? GROUP BY video_id",
                (now,)).fetchall())
            # Least-served first; ties broken by a keyed hash so annotators spread over videos unpredictably.
            candidates = [(served.get(v, 0), self._tiebreak(annotator_id, v), v)
                          for v, is_cal in videos if not is_cal and v not in taken and served.get(v, 0) < self.k]
            if not candidates:
                return None
            choice = min(candidates)[2]
        conn.execute("INSERT OR REPLACE INTO assignments VALUES (?, ?, 'leased', ?, ?)",
                     (choice, annotator_id, now, now + self.lease_seconds))
        return choice

    def _tiebreak(self, annotator_id: str, video_id: str) -> str:
        return hmac.new(self.secret, f"tie|{annotator_id}|{video_id}".encode(), hashlib.sha256).hexdigest()

    # -- judgments ------------------------------------------------------------------------------------------------
    def submit(self, annotator_id: str, item_id: str, judged_human: bool, realism: int,
               session_id: str | None = None) -> str:
        """Store one judgment; returns 'stored', or 'duplicate' when the same answer was stored already (a client
        retry). Raises StudyError naming the item when refused, including a changed answer to a judged item."""
        if not isinstance(judged_human, bool):
            raise StudyError(f"item {item_id!r}: judged_human must be true or false")
        if isinstance(realism, bool) or not isinstance(realism, int) or not 0 <= realism <= 5:
            raise StudyError(f"item {item_id!r}: realism must be an integer 0-5, got {realism!r}")
        now = self.clock()
        with self._transaction() as conn:
            row = conn.execute("SELECT video_id FROM items WHERE item_id=?", (item_id,)).fetchone()
            if row is None:
                raise StudyError(f"item {item_id!r} is not in this study")
            video_id = row[0]
            previous = conn.execute("SELECT judged_human, realism FROM judgments WHERE annotator_id=? AND item_id=?",
                                    (annotator_id, item_id)).fetchone()
            if previous is not None:
                if (bool(previous[0]), previous[1]) != (judged_human, realism):
                    raise StudyError(f"item {item_id!r} is already judged by this annotator: one judgment per item")
                return "duplicate"
            lease = conn.execute("SELECT expires_at FROM assignments WHERE annotator_id=? AND video_id=? "
                                 "AND status='leased'", (annotator_id, video_id)).fetchone()
            if lease is None or lease[0] <= now:
                raise StudyError(f"item {item_id!r}: no active lease on its video for this annotator (expired?)")
            served = conn.execute("SELECT position, shown_at FROM served WHERE annotator_id=? AND item_id=?",
                                  (annotator_id, item_id)).fetchone()
            if served is None:
                raise StudyError(f"item {item_id!r} was not served to this annotator")
            conn.execute("INSERT INTO judgments VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", (
                uuid.uuid4().hex, self.design["study_id"], PROTOCOL_VERSION, APP_VERSION, annotator_id, session_id,
                video_id, item_id, int(judged_human), realism, served[0], served[1], now,
                int(round((now - served[1]) * 1000))))
            n_judged = conn.execute("SELECT COUNT(*) FROM judgments WHERE annotator_id=? AND video_id=?",
                                    (annotator_id, video_id)).fetchone()[0]
            n_items = conn.execute("SELECT n_items FROM videos WHERE video_id=?", (video_id,)).fetchone()[0]
            if n_judged >= n_items:
                conn.execute("UPDATE assignments SET status='done' WHERE annotator_id=? AND video_id=?",
                             (annotator_id, video_id))
        return "stored"

    # -- export ---------------------------------------------------------------------------------------------------
    def judgments(self) -> list[dict]:
        rows = self._conn().execute("SELECT * FROM judgments ORDER BY answered_at, judgment_id").fetchall()
        return [{**dict(r), "judged_human": bool(r["judged_human"])} for r in rows]

    def progress(self) -> dict:
        conn = self._conn()
        return {
            "annotators": conn.execute("SELECT COUNT(*) FROM annotators").fetchone()[0],
            "judgments": conn.execute("SELECT COUNT(*) FROM judgments").fetchone()[0],
            "videos_done": conn.execute("SELECT COUNT(*) FROM assignments WHERE status='done'").fetchone()[0],
        }
