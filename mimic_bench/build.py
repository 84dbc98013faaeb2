"""The question builder: the seven MCQ tasks and the comment-generation items for ANY set of videos, with distractors
drawn from a GIVEN pool of videos. The bench uses bench videos for both (`build_bench`); the SFT data builder calls
`build_task_tables(train_videos, pool=train_videos, …)` so that training questions never see a bench video.

Each task's TaskSpec.distractors names its rule; DISTRACTOR_RULES maps each rule to the function that applies it.
Distractors for the OTHER_VIDEOS tasks (everything but UIU-Pop, whose SAME_VIDEO_RANKS rule is mimic_bench.popularity):
- from irrelevant videos only: never the question's video, never one of its near-duplicate group, never a text equal
  (after normalisation) to the answer or to a text the task's `exclude` takes from the question's video (UIU-Match:
  its comments; CAM-Cat: its tags and hashtags, so the category the video shows is never offered as wrong);
- semantic contrast: the embedding cosine between any two of the four options stays below the task's ceiling
  (near-duplicates, e.g. two videos of the same content, would make two answers right); the check is pairwise over all
  four options, so "the odd one out" does not point at the answer;
- style matching: candidates come from the answer's bucket — same platform, language, length bin (pool quantiles) and
  formatting signature (mimic_bench.options.style_signature) — widening step by step only when a bucket runs dry
  (neighbouring length bins, then any length, then any platform); the level used is counted in the build stats.
  Drawing from the answer's own bucket, rather than picking the candidates closest to it, keeps the answer an ordinary
  member of its option set (closest-match picking would make it the median option);
- answer letters are balanced per task: questions are ordered by a seeded hash and answer i goes to letter i mod 4.
Rotations: rotation r shows options[(j + r) mod 4] as letter j, so across the four rotations the answer takes every
letter once; rotation 0 is the stored order. Every random choice uses a generator seeded by (seed, task, video_id),
so a question does not change when other videos are added or removed.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from .embed import Embedder
from .options import compact_key, generic_comments, normalise, style_signature
from .popularity import popularity_options
from .tasks import (
    COMMENT_GENERATION,
    COMMENT_INSTRUCTION,
    LETTERS,
    N_OPTIONS,
    N_REFERENCES,
    PROMPT_VERSION,
    TASK_NAMES,
    Distractors,
    TaskSpec,
    match_comment_option,
    question_id,
    task_spec,
)

N_LENGTH_BINS = 8
MAX_DRAWS_PER_LEVEL = 96  # random candidates tried per widening level before widening further
MATCH_LEVELS = ("platform+language+length+style", "platform+language+length", "platform+language+near_length",
                "platform+language", "any")

QUESTION_SCHEMA = pa.schema([
    ("question_id", pa.string()),
    ("video_id", pa.string()),
    ("platform", pa.string()),
    ("task", pa.string()),
    ("axis", pa.string()),
    ("prompt_version", pa.string()),
    ("question", pa.string()),
    ("options", pa.list_(pa.string())),
    ("answer", pa.string()),
    ("answer_idx", pa.int64()),
    ("rotations", pa.list_(pa.list_(pa.int64()))),
    ("distractor_video_ids", pa.list_(pa.string())),
    ("file_name", pa.string()),
    ("decidable_from", pa.string()),
])
"""`decidable_from` is null when built; `mimic bench audit` fills it (mimic_bench.oracle.DECIDABLE_FROM)."""
COMMENT_SCHEMA = pa.schema([
    ("question_id", pa.string()),
    ("video_id", pa.string()),
    ("platform", pa.string()),
    ("prompt", pa.string()),
    ("references", pa.list_(pa.string())),
    ("reference_likes", pa.list_(pa.int64())),
    ("file_name", pa.string()),
])
ROTATIONS = [[(j + r) % N_OPTIONS for j in range(N_OPTIONS)] for r in range(N_OPTIONS)]


def question_rng(seed: int, task: str, video_id: str) -> np.random.Generator:
    digest = hashlib.sha256(f"{seed}|{task}|{video_id}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def _balanced_answer_slots(seed: int, task: str, video_ids: Sequence[str]) -> dict[str, int]:
    """Answer index per video: exactly balanced over letters (counts differ by at most one)."""
    order = sorted(video_ids, key=lambda v: hashlib.sha256(f"{seed}|{task}|slot|{v}".encode()).hexdigest())
    return {v: i % N_OPTIONS for i, v in enumerate(order)}


class _Pool:
    """The candidate options of one task: one per pool video that has the field, indexed by style bucket."""

    def __init__(self, spec: TaskSpec, pool: Sequence[Mapping[str, Any]], generic: set[str] | None,
                 groups: Mapping[str, str]):
        self.video_ids, self.texts, self.keys = [], [], []
        self.platform_lang = []
        for record in pool:
            text = spec.option(record, generic)
            if text is None:
                continue
            self.video_ids.append(record["video_id"])
            self.texts.append(text)
            self.platform_lang.append((record["platform"], record["language"]))
        self.groups = [groups.get(v, v) for v in self.video_ids]
        self.norms = [normalise(t) for t in self.texts]
        self.compact = [compact_key(t) for t in self.texts]
        lengths = np.array([len(t) for t in self.texts], dtype=np.float64)
        # Off for closed sets (categories): their length carries no style, and length bins would pair fixed values.
        self.match_style = spec.match_style
        self.edges = (np.unique(np.quantile(lengths, np.linspace(0, 1, N_LENGTH_BINS + 1)[1:-1]))
                      if len(lengths) else np.zeros(0))
        self.buckets: list[dict[tuple, list[int]]] = [defaultdict(list) for _ in MATCH_LEVELS]
        for i, text in enumerate(self.texts):
            for level, key in enumerate(self.bucket_keys(text, *self.platform_lang[i])):
                if key is not None:
                    self.buckets[level][key].append(i)

    def length_bin(self, text: str) -> int:
        return int(np.searchsorted(self.edges, len(text), side="right"))

    def bucket_keys(self, text: str, platform: str, language: str) -> list[tuple | None]:
        """The bucket of a text at each widening level (None: the level is one the task skips)."""
        lb = self.length_bin(text)
        if not self.match_style:
            return [None, None, None, (platform, language), ()]
        return [(platform, language, lb, style_signature(text)), (platform, language, lb), None,
                (platform, language), ()]

    def candidates(self, level: int, keys: list[tuple | None], text: str) -> list[int]:
        if level == 2:  # neighbouring length bins, same platform and language
            if not self.match_style:
                return []
            platform, language, lb = keys[1]
            return [i for b in (lb - 1, lb + 1) for i in self.buckets[1].get((platform, language, b), [])]
        key = keys[level]
        return self.buckets[level].get(key, []) if key is not None else []


def _pick_distractors(spec: TaskSpec, pool: _Pool, vectors: np.ndarray, answer: str, answer_vec: np.ndarray,
                      record: Mapping[str, Any], group: str, forbidden: set[str],
                      rng: np.random.Generator) -> tuple[list[int], int] | None:
    """Three pool indices meeting the rules (module doc) and the widest match level used, or None."""
    chosen: list[int] = []
    chosen_norms = {normalise(answer)}
    keys = pool.bucket_keys(answer, record["platform"], record["language"])
    widest = 0
    for level in range(len(MATCH_LEVELS)):
        candidates = pool.candidates(level, keys, answer)
        if not candidates:
            continue
        tried: set[int] = set()
        for draw in rng.integers(0, len(candidates), size=min(MAX_DRAWS_PER_LEVEL, 4 * len(candidates))):
            i = candidates[int(draw)]
            if i in tried:
                continue
            tried.add(i)
            if pool.video_ids[i] == record["video_id"] or pool.groups[i] == group or pool.norms[i] in chosen_norms:
                continue
            if pool.compact[i] in forbidden:
                continue
            if pool.video_ids[i] in {pool.video_ids[j] for j in chosen}:
                continue
            others = np.stack([answer_vec] + [vectors[j] for j in chosen])
            if float((others @ vectors[i]).max()) >= spec.similarity_ceiling:
                continue
            chosen.append(i)
            chosen_norms.add(pool.norms[i])
            widest = level
            if len(chosen) == N_OPTIONS - 1:
                return chosen, widest
    return None


def _question_row(spec: TaskSpec, record: Mapping[str, Any], answer: str, distractors: list[tuple[str, str]],
                  answer_idx: int, rng: np.random.Generator) -> dict[str, Any]:
    """distractors: [(text, source video id)]; shuffled, then the answer is inserted at answer_idx."""
    distractors = [distractors[int(i)] for i in rng.permutation(len(distractors))]
    options = [text for text, _ in distractors]
    options.insert(answer_idx, answer)
    return {
        "question_id": question_id(spec.name, record["video_id"]),
        "video_id": record["video_id"],
        "platform": record["platform"],
        "task": spec.name,
        "axis": spec.axis,
        "prompt_version": PROMPT_VERSION,
        "question": spec.instruction,
        "options": options,
        "answer": LETTERS[answer_idx],
        "answer_idx": answer_idx,
        "rotations": ROTATIONS,
        "distractor_video_ids": [v for _, v in distractors],
        "file_name": None,
        "decidable_from": None,
    }


Built = dict[str, tuple[Mapping[str, Any], str, list[tuple[str, str]], np.random.Generator]]
"""video id -> (record, answer text, [(distractor text, its source video id)] * 3, the question's generator)."""


def _other_videos_questions(spec: TaskSpec, targets: Sequence[Mapping[str, Any]], pool: Sequence[Mapping[str, Any]],
                            generic: set[str], groups: Mapping[str, str], embedder: Embedder, seed: int,
                            task_stats: dict[str, Any]) -> Built:
    """Distractors.OTHER_VIDEOS: the task's option function applied to irrelevant pool videos (module doc)."""
    built: Built = {}
    candidate_pool = _Pool(spec, pool, generic, groups)
    answers = {r["video_id"]: spec.option(r, generic) for r in targets}
    vectors = embedder.vectors(candidate_pool.texts)
    answer_vecs = dict(zip([v for v, a in answers.items() if a is not None],
                           embedder.vectors([a for a in answers.values() if a is not None]), strict=True))
    for record in targets:
        vid = record["video_id"]
        if answers[vid] is None:
            task_stats["skipped"][f"no {spec.field}"] += 1
            continue
        rng = question_rng(seed, spec.name, vid)
        forbidden = {compact_key(t) for t in spec.exclude(record)} if spec.exclude else set()
        picked = _pick_distractors(spec, candidate_pool, vectors, answers[vid], answer_vecs[vid], record,
                                   groups.get(vid, vid), forbidden, rng)
        if picked is None:
            task_stats["skipped"]["too few contrasting distractors"] += 1
            continue
        indices, level = picked
        task_stats["match_level"][MATCH_LEVELS[level]] += 1
        built[vid] = (record, answers[vid],
                      [(candidate_pool.texts[i], candidate_pool.video_ids[i]) for i in indices], rng)
    return built


def _same_video_ranks_questions(spec: TaskSpec, targets: Sequence[Mapping[str, Any]],
                                pool: Sequence[Mapping[str, Any]], generic: set[str], groups: Mapping[str, str],
                                embedder: Embedder, seed: int, task_stats: dict[str, Any]) -> Built:
    """Distractors.SAME_VIDEO_RANKS: lower-liked comments of the question's own video (mimic_bench.popularity)."""
    built: Built = {}
    pop_ranks: list[list[int]] = []
    match_norms = {t["video_id"]: normalise(match_comment_option(t, generic) or "") for t in targets}
    centrality = _balanced_answer_slots(seed, spec.name + "/centrality", [r["video_id"] for r in targets])
    for record in targets:
        rng = question_rng(seed, spec.name, record["video_id"])
        picked = popularity_options(record, rng, exclude={match_norms[record["video_id"]]} - {""},
                                    centrality_target=centrality[record["video_id"]])
        if picked is None:
            task_stats["skipped"]["fewer than 4 usable comments"] += 1
            continue
        answer, ranked = picked
        built[record["video_id"]] = (record, answer, [(t, record["video_id"]) for t, _ in ranked], rng)
        pop_ranks.append([r for _, r in ranked])
    if pop_ranks:
        task_stats["distractor_rank_median"] = [float(x) for x in np.median(np.array(pop_ranks), axis=0)]
    return built


DISTRACTOR_RULES = {
    Distractors.OTHER_VIDEOS: _other_videos_questions,
    Distractors.SAME_VIDEO_RANKS: _same_video_ranks_questions,
}


def build_task_tables(targets: Sequence[Mapping[str, Any]], pool: Sequence[Mapping[str, Any]], *, embedder: Embedder,
                      seed: int = 0, tasks: Iterable[str] = TASK_NAMES,
                      duplicate_groups: Mapping[str, str] | None = None,
                      stats: dict[str, Any] | None = None) -> dict[str, pa.Table]:
    """Questions of every task for the target videos (record dicts, RECORD_SCHEMA), distractors from `pool`.

    `pool` may contain the targets (the bench draws from the other bench videos). `duplicate_groups` maps a video id to
    its near-duplicate group (splits.parquet); videos of the answer's group never supply distractors. Returns
    {task: table in QUESTION_SCHEMA, sorted by question_id}; `stats` (if given) receives per-task counts of questions,
    skipped videos by reason and match levels used.
    """
    groups = dict(duplicate_groups or {})
    generic = generic_comments(list(pool) + [t for t in targets if t["video_id"] not in {p["video_id"] for p in pool}])
    out: dict[str, pa.Table] = {}
    for name in tasks:
        spec = task_spec(name)
        task_stats = {"questions": 0, "skipped": Counter(), "match_level": Counter()}
        built = DISTRACTOR_RULES[spec.distractors](spec, targets, pool, generic, groups, embedder, seed, task_stats)
        slots = _balanced_answer_slots(seed, name, sorted(built))
        rows = [_question_row(spec, *built[v][:3], slots[v], built[v][3]) for v in sorted(built)]
        rows.sort(key=lambda r: r["question_id"])
        out[name] = pa.Table.from_pylist(rows, schema=QUESTION_SCHEMA)
        task_stats["questions"] = len(rows)
        task_stats["match_level"] = {k: v for k, v in task_stats["match_level"].items() if v}
        task_stats["skipped"] = dict(task_stats["skipped"])
        if stats is not None:
            stats[name] = task_stats
    return out


STUDY_POOL_VIDEOS = 40  # bench videos whose human comments are held out for the blind comment study
STUDY_POOL_COMMENTS = N_REFERENCES  # human comments held out per study video (the paper shows the top-5 liked)
STUDY_POOL_SCHEMA = pa.schema([
    ("question_id", pa.string()),
    ("video_id", pa.string()),
    ("platform", pa.string()),
    ("comments", pa.list_(pa.string())),
    ("like_counts", pa.list_(pa.int64())),
    ("ranks", pa.list_(pa.int64())),
])
_HANDLE = re.compile(r"(^|\s)@[\w.\-]+")


def strip_handles(text: str) -> str:
    """A comment without @handles (as the study shows human comments), whitespace collapsed."""
    return " ".join(_HANDLE.sub(r"\1", text).split())


def study_text_key(text: str) -> str:
    """The key a study comment is compared with public text by: handles stripped, then `normalise` (casefolded,
    punctuation and emoji dropped), so a comment counts as public even when only its emoji or case differ."""
    stripped = strip_handles(text)
    return normalise(stripped) or stripped.casefold()


def table_string_values(array: pa.Array | pa.ChunkedArray) -> list[str]:
    """Every string in a column, looking inside lists and structs (options, references, comment snapshots)."""
    if isinstance(array, pa.ChunkedArray):
        return [s for chunk in array.chunks for s in table_string_values(chunk)]
    kind = array.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return [s for s in array.to_pylist() if s is not None]
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return table_string_values(array.flatten())
    if pa.types.is_struct(kind):
        return [s for i in range(kind.num_fields) for s in table_string_values(array.field(i))]
    return []


def _public_references(record: Mapping[str, Any], held_out_keys: set[str]) -> list[Mapping[str, Any]]:
    return [c for c in record["comments"] if study_text_key(c["text"]) not in held_out_keys][:N_REFERENCES]


def choose_study_pool(targets: Sequence[Mapping[str, Any]], public_tables: Iterable[pa.Table], seed: int,
                      n_videos: int = STUDY_POOL_VIDEOS,
                      n_comments: int = STUDY_POOL_COMMENTS) -> dict[str, list[Mapping[str, Any]]]:
    """video id -> its held-out human comments (most-liked first), for up to `n_videos` bench videos.

    Videos are taken in a seeded hash order (a video's membership does not change when others are added). A video's
    pool is its `n_comments` most-liked comments whose text (study_text_key) appears nowhere public: not in any given
    table (the MCQ configs) and not among the references the public comment_generation table keeps for any video. A
    video that cannot fill its pool, or would keep no public reference, is skipped; skipping puts its top-5 back into
    the public references, so the pools are chosen again until nothing changes.
    """
    by_id = {r["video_id"]: r for r in targets}
    order = sorted(by_id, key=lambda v: hashlib.sha256(f"{seed}|study_pool|{v}".encode()).hexdigest())
    mcq_keys = {study_text_key(s) for table in public_tables for column in table.columns
                for s in table_string_values(column)}
    skipped: set[str] = set()
    while True:
        chosen = [v for v in order if v not in skipped and len(by_id[v]["comments"]) > n_comments][:n_videos]
        chosen_set = set(chosen)
        public = mcq_keys | {study_text_key(c["text"]) for v, r in by_id.items() if v not in chosen_set
                             for c in r["comments"][:N_REFERENCES]}
        pools: dict[str, list[Mapping[str, Any]]] = {}
        for video_id in chosen:
            picked, seen = [], set()
            for comment in by_id[video_id]["comments"]:
                key = study_text_key(comment["text"])
                if key in public or key in seen:
                    continue
                picked.append(comment)
                seen.add(key)
                if len(picked) == n_comments:
                    pools[video_id] = picked
                    break
        held_out = {study_text_key(c["text"]) for pool in pools.values() for c in pool}
        failed = [v for v in chosen if v not in pools or not _public_references(by_id[v], held_out)]
        if not failed:
            return pools
        skipped.update(failed)


def comment_generation_table(targets: Sequence[Mapping[str, Any]],
                             study_pool: Mapping[str, Sequence[Mapping[str, Any]]] | None = None) -> pa.Table:
    """One generation item per video with at least one comment: the prompt and its top-5 liked comments, leaving out
    every text held out for the study (`choose_study_pool`), so those videos keep their next most-liked comments."""
    held_out = {study_text_key(c["text"]) for pool in (study_pool or {}).values() for c in pool}
    rows = []
    for record in sorted(targets, key=lambda r: r["video_id"]):
        refs = _public_references(record, held_out)
        if not refs:
            continue
        rows.append({
            "question_id": question_id(COMMENT_GENERATION, record["video_id"]),
            "video_id": record["video_id"],
            "platform": record["platform"],
            "prompt": COMMENT_INSTRUCTION,
            "references": [c["text"] for c in refs],
            "reference_likes": [int(c["like_count"]) for c in refs],
            "file_name": None,
        })
    return pa.Table.from_pylist(rows, schema=COMMENT_SCHEMA)


def study_pool_table(targets: Sequence[Mapping[str, Any]],
                     study_pool: Mapping[str, Sequence[Mapping[str, Any]]]) -> pa.Table:
    """The private study pool: one row per study video with its held-out comments (never part of the release)."""
    platform = {r["video_id"]: r["platform"] for r in targets}
    rows = [{"question_id": question_id(COMMENT_GENERATION, v), "video_id": v, "platform": platform[v],
             "comments": [c["text"] for c in pool], "like_counts": [int(c["like_count"]) for c in pool],
             "ranks": [int(c["rank"]) for c in pool]} for v, pool in sorted(study_pool.items())]
    return pa.Table.from_pylist(rows, schema=STUDY_POOL_SCHEMA)


VIDEOS_SCHEMA = pa.schema([
    ("video_id", pa.string()),
    ("platform", pa.string()),
    ("url", pa.string()),
    ("duration_s", pa.float64()),
    ("width", pa.int32()),
    ("height", pa.int32()),
    ("tier", pa.string()),
    ("file_name", pa.string()),
])


def videos_table(targets: Sequence[Mapping[str, Any]], tiers: Mapping[str, str | None]) -> pa.Table:
    """The hydration manifest: what to fetch and what to expect of it."""
    rows = [{"video_id": r["video_id"], "platform": r["platform"], "url": r["url"], "duration_s": r["duration_s"],
             "width": r["width"], "height": r["height"], "tier": tiers.get(r["video_id"]), "file_name": None}
            for r in sorted(targets, key=lambda r: r["video_id"])]
    return pa.Table.from_pylist(rows, schema=VIDEOS_SCHEMA)


def load_records(data_dir: str | Path, video_ids: Iterable[str]) -> list[dict[str, Any]]:
    """The records of the given videos from <data_dir>/records.parquet, as dicts, sorted by video_id."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    wanted = sorted(set(video_ids))
    table = pq.read_table(Path(data_dir) / "records.parquet")
    table = table.filter(pc.is_in(table["video_id"], value_set=pa.array(wanted, pa.string())))
    rows = table.sort_by("video_id").to_pylist()
    missing = set(wanted) - {r["video_id"] for r in rows}
    if missing:
        raise KeyError(f"{len(missing)} video ids are not in {data_dir}/records.parquet, e.g. {sorted(missing)[:3]}")
    return rows
