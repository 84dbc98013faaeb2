"""The synthetic world: a seeded, small "platform" whose video content determines its metadata and comments.

Each video has a latent content spec — a scene (tied to its category), one object with a colour, two motions in order
(the first half of the video, then the second), and which of the two motions is the video's highlight (rendered with a
glow around the object) — and a latent appeal. Titles, descriptions, tags, hashtag topics and category come from that
content through templates with per-channel creator style; a few creators file a video under a category its scene does
not show, while their hashtags and tags still name the scene's category (what the video shows). Every comment
describes the video's object doing one of its two motions and says when it happened ("at the start" / "at the end"),
in a persona's words, so each comment is one of four kinds (motion x claimed time). The most-liked comment is the
viral one: it names the glowing motion at its true time. Every other comment is one of the three other kinds, with
likes unrelated to its words. Which motion glows, and when, is visible only in the video, so the most-liked comment is
decidable from the video plus the comments and not from their text alone (the four kinds look alike without the
video). Counts are heavy-tailed and driven by appeal. It is a fixture and a smoke benchmark, never a claim about real
platforms: the records it makes go through the same schema and code paths as crawled yt-dlp data.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from .schema import RECORD_SCHEMA

# (category, scene words, background RGB, background pattern)
CATEGORIES = (
    ("Sports", ("stadium", "court"), (40, 110, 50), "stripes_v"),
    ("Music", ("stage", "concert"), (70, 20, 90), "dots"),
    ("Gaming", ("arena", "level"), (20, 30, 80), "checker"),
    ("Pets & Animals", ("backyard", "park"), (110, 90, 40), "gradient"),
    ("Travel & Events", ("beach", "city"), (30, 100, 130), "stripes_h"),
    ("Comedy", ("living room", "couch"), (120, 50, 40), "diagonal"),
    ("Education", ("classroom", "lab"), (60, 60, 60), "grid"),
    ("Howto & Style", ("kitchen", "workshop"), (100, 70, 100), "plain"),
)
SHAPES = ("ball", "box", "kite", "ring", "cross", "bar")
COLOURS = {
    "red": (230, 30, 30),
    "green": (40, 220, 60),
    "blue": (40, 80, 255),
    "yellow": (250, 230, 30),
    "purple": (150, 50, 255),  # no white object: white is the highlight glow
    "pink": (255, 90, 200),
    "orange": (255, 140, 0),
    "cyan": (30, 230, 230),
}
COLOUR_NAMES = tuple(COLOURS)
# motion name -> (3rd person phrase, -ing phrase, hashtag)
MOTIONS = {
    "right": ("slides right", "sliding right", "slideright"),
    "left": ("slides left", "sliding left", "slideleft"),
    "up": ("rises", "rising", "risingup"),
    "down": ("falls", "falling", "falldown"),
    "grow": ("grows", "growing", "growingbig"),
    "shrink": ("shrinks", "shrinking", "shrinkit"),
}
MOTION_NAMES = tuple(MOTIONS)
PLATFORM_SIZES = {"youtube": (128, 72), "tiktok": (72, 128)}  # rendered (width, height), small by default
FPS = 8
CATEGORY_NOISE = 0.1  # share of creators who file a video under a random category (their hashtags still name the scene's)
REPOST_RATE = 0.01  # share of videos re-uploaded by the same channel (near-duplicates the selection must catch)
COMMENT_SNAPSHOT = 100  # top comments kept per video, as a crawl with max_comments=100 would

_TITLE_TEMPLATES = (
    "{C} {o} {m1} in the {s}",
    "POV: the {c} {o} {m1}",
    "this {c} {o} {m1} and then {m2}",
    "{s} vibes: {c} {o} {m1ing}",
    "when the {c} {o} {m2} at the end",
    "{c} {o} {m1ing}, then {m2ing}",
)
_DESC_TEMPLATES = (
    "In this clip a {c} {o} {m1} and then {m2} in the {s}.",
    "First the {c} {o} {m1}, then it {m2}. Filmed at the {s}.",
    "{S} moment: our {c} {o} {m1} before it {m2}.",
)
_CTA = ("Like and subscribe!", "Follow for part 2", "Which one was your favourite?", "", "New clips every day.")
_EMOJI = ("🔥", "😂", "✨", "😍", "🙌", "💯", "👀")
# persona -> templates; {x} names the object, one of its motions and when it happened, {e} is an emoji. Every template
# serves every kind of comment alike, so wording says nothing about likes.
_PERSONA_TEMPLATES = {
    "fan": ("love the {x} {e}", "the {x} is everything", "that {x} made my day {e}"),
    "joker": ("the {x} has more talent than me {e}", "nobody: ... the {x}: {e}", "me watching the {x} at 3am {e}"),
    "narrator": ("that moment: the {x}", "the part with the {x} though", "wait for the {x} {e}"),
    "skeptic": ("is the {x} real?", "why the {x} tho", "not the {x} again"),
}
_PERSONAS = tuple(_PERSONA_TEMPLATES)
TIMINGS = ("at the start", "at the end")  # a comment's claim of when its motion happened: motion 1, then motion 2


@dataclass(frozen=True)
class WorldConfig:
    n: int = 1000
    seed: int = 0
    channels_per_video: float = 1 / 25
    youtube_share: float = 0.55
    snapshot_date: dt.date = dt.date(2026, 11, 1)


def _slug(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def sample_content(cfg: WorldConfig) -> dict[str, np.ndarray]:
    """Vectorised latent content and counts for every video (the slow part, text, is done per video afterwards)."""
    rng = np.random.default_rng([cfg.seed, 1])
    n = cfg.n
    n_channels = max(1, int(n * cfg.channels_per_video))
    content = {
        "platform_is_tiktok": rng.random(n) >= cfg.youtube_share,
        "scene": rng.integers(0, len(CATEGORIES), n),
        "shape": rng.integers(0, len(SHAPES), n),
        "colour": rng.integers(0, len(COLOURS), n),
        "motion1": rng.integers(0, len(MOTIONS), n),
        "motion2_offset": rng.integers(1, len(MOTIONS), n),  # motion2 != motion1
        "channel": rng.integers(0, n_channels, n),
        "appeal": rng.normal(0.0, 1.0, n),
        "duration_s": np.round(rng.uniform(3.0, 6.0, n) * FPS) / FPS,
        "upload_days_ago": rng.integers(1, 900, n),
        "upload_second": rng.integers(0, 86400, n),
        "title_template": rng.integers(0, len(_TITLE_TEMPLATES), n),
        "desc_template": rng.integers(0, len(_DESC_TEMPLATES), n),
        "cta": rng.integers(0, len(_CTA), n),
        "highlight": rng.integers(1, 3, n),  # 1 or 2: which motion glows
    }
    content["motion2"] = (content["motion1"] + content["motion2_offset"]) % len(MOTIONS)
    mislabel = rng.random(n) < CATEGORY_NOISE
    content["category"] = np.where(mislabel, rng.integers(0, len(CATEGORIES), n), content["scene"])
    # Reposts: the same channel uploads the same content again (a near-duplicate of an earlier video).
    repost = rng.random(n) < REPOST_RATE
    repost[0] = False
    source = np.where(repost, (rng.random(n) * np.arange(n)).astype(np.int64), np.arange(n))
    for key in ("platform_is_tiktok", "scene", "shape", "colour", "motion1", "motion2", "channel", "category",
                "title_template", "desc_template", "duration_s", "highlight"):
        content[key] = content[key][source]
    content["repost_of"] = np.where(repost, source, -1)
    # Heavy-tailed interaction driven by appeal: views log-normal, rates rise with appeal.
    tiktok = content["platform_is_tiktok"]
    appeal = content["appeal"]
    views = np.exp(rng.normal(np.where(tiktok, 10.0, 9.0), 1.5)).astype(np.int64) + 1
    like_rate = 1 / (1 + np.exp(-(-3.3 + 0.7 * appeal + rng.normal(0, 0.3, n))))
    likes = rng.binomial(views, like_rate)
    comment_rate = np.clip(0.02 * np.exp(0.5 * appeal + rng.normal(0, 0.4, n)), 0, 1)
    comments = rng.binomial(likes, comment_rate)
    share_rate = np.clip(0.04 * np.exp(0.4 * appeal + rng.normal(0, 0.4, n)), 0, 1)
    content.update(view_count=views, like_count=likes, comment_count=comments,
                   share_count=rng.binomial(likes, share_rate))
    return content


def _style(text: str, channel: int, rng: np.random.Generator) -> str:
    """Creator style noise: per-channel habits (caps, emoji, exclamation) plus a little per-video randomness."""
    habit = channel % 5
    if habit == 1:
        text = text.upper()
    elif habit == 2 or rng.random() < 0.15:
        text = f"{text} {_EMOJI[(channel + int(rng.integers(0, 3))) % len(_EMOJI)]}"
    elif habit == 3:
        text = f"{text}!!"
    return text[0].upper() + text[1:] if text else text


def _comments_for(i: int, content: dict[str, np.ndarray], rng: np.random.Generator) -> list[dict]:
    """Comment 0 is the viral one: the glowing motion at its true time; it tops the snapshot. Every other comment is
    one of the three other (motion, claimed time) kinds, drawn uniformly, with likes independent of what it says."""
    n = int(min(content["comment_count"][i], COMMENT_SNAPSHOT))
    if n == 0:
        return []
    thing = f"{COLOUR_NAMES[content['colour'][i]]} {SHAPES[content['shape'][i]]}"
    motions = (MOTION_NAMES[content["motion1"][i]], MOTION_NAMES[content["motion2"][i]])
    highlight = int(content["highlight"][i])
    # kind k in 0..3 is (motion k // 2 + 1, claimed time k % 2 + 1); the viral kind names the highlight at its time
    viral_kind = 3 * (highlight - 1)
    kind = rng.integers(0, 3, n)
    kind += kind >= viral_kind  # the three kinds other than the viral one
    kind[0] = viral_kind
    persona = rng.integers(0, len(_PERSONAS), n)
    template_pick = rng.integers(0, 3, n)
    emoji_pick = rng.integers(0, len(_EMOJI), n)
    texts = [
        _PERSONA_TEMPLATES[_PERSONAS[persona[j]]][template_pick[j]].format(
            x=f"{thing} {MOTIONS[motions[kind[j] // 2]][1]} {TIMINGS[kind[j] % 2]}", e=_EMOJI[emoji_pick[j]]).strip()
        for j in range(n)
    ]
    scale = np.log1p(content["like_count"][i]) * 0.5
    likes = np.floor(np.exp(scale + rng.gumbel(0.0, 0.9, n))).astype(np.int64)
    likes[0] = int(likes[1:].max(initial=0) * rng.uniform(1.5, 3.0)) + 1
    order = np.lexsort((np.arange(n), -likes))  # most liked first; ties keep generation order
    pinned = int(order[0]) if rng.random() < 0.05 else -1
    return [
        {"text": texts[j], "like_count": int(likes[j]), "rank": r + 1, "is_pinned": j == pinned}
        for r, j in enumerate(order)
    ]


def video_id_for(seed: int, index: int, platform: str) -> str:
    """Stable, platform-looking ids (11 chars for YouTube, 19 digits for TikTok)."""
    h = np.random.default_rng([seed, 2, index]).integers(0, 2**63 - 1)
    if platform == "tiktok":
        return f"7{int(h) % 10**18:018d}"
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    out, v = [], int(h)
    for _ in range(11):
        out.append(alphabet[v % 64])
        v //= 64
    return "".join(out)


def generate_world(cfg: WorldConfig) -> tuple[pa.Table, pa.Table]:
    """Return (records table in RECORD_SCHEMA, content table the renderer reads), both sorted by video_id."""
    content = sample_content(cfg)
    rng = np.random.default_rng([cfg.seed, 3])
    snapshot = dt.datetime.combine(cfg.snapshot_date, dt.time(), dt.UTC)
    records, world_rows = [], []
    ids = [video_id_for(cfg.seed, i, "tiktok" if content["platform_is_tiktok"][i] else "youtube") for i in range(cfg.n)]
    for i in range(cfg.n):
        platform = "tiktok" if content["platform_is_tiktok"][i] else "youtube"
        category, scene_words, _, _ = CATEGORIES[content["scene"][i]]
        scene = scene_words[int(rng.integers(0, 2))]
        colour, shape = COLOUR_NAMES[content["colour"][i]], SHAPES[content["shape"][i]]
        m1, m2 = MOTIONS[MOTION_NAMES[content["motion1"][i]]], MOTIONS[MOTION_NAMES[content["motion2"][i]]]
        channel = int(content["channel"][i])
        words = {"c": colour, "C": colour.capitalize(), "o": shape, "s": scene, "S": scene.capitalize(),
                 "m1": m1[0], "m2": m2[0], "m1ing": m1[1], "m2ing": m2[1]}
        title = _style(_TITLE_TEMPLATES[content["title_template"][i]].format(**words), channel, rng)
        filed_category = CATEGORIES[content["category"][i]][0]
        # topics are hashtag names without "#", as the yt-dlp normaliser stores them
        # hashtags name what the video shows, the scene's category, even when the creator filed it elsewhere
        topics = [f"{colour}{shape}", _slug(category), m1[2]] + (["fyp"] if platform == "tiktok" else [])
        description = _DESC_TEMPLATES[content["desc_template"][i]].format(**words)
        hashtags = " ".join(f"#{t}" for t in topics)
        description = " ".join(x for x in (description, _CTA[content["cta"][i]], hashtags) if x)
        # yt-dlp gives TikTok no tags; the synthetic world mirrors that so every consumer handles the gap.
        tags = [] if platform == "tiktok" else [shape, colour, f"{colour} {shape}", scene, category.lower(),
                                                m1[1], m2[1]]
        width, height = PLATFORM_SIZES[platform]
        uploaded = snapshot - dt.timedelta(days=int(content["upload_days_ago"][i]),
                                           seconds=int(content["upload_second"][i]))
        records.append({
            "video_id": ids[i], "platform": platform,
            "url": f"https://synthetic.invalid/{platform}/{ids[i]}.mp4",
            "channel_id": f"UC{channel:08d}" if platform == "youtube" else f"creator{channel:06d}",
            "title": title, "description": description, "tags": tags, "topics": topics,
            "category": filed_category, "language": "en", "upload_time": uploaded,
            "duration_s": float(content["duration_s"][i]), "width": width, "height": height,
            "view_count": int(content["view_count"][i]), "like_count": int(content["like_count"][i]),
            "comment_count": int(content["comment_count"][i]), "share_count": int(content["share_count"][i]),
            "snapshot_date": cfg.snapshot_date, "comments": _comments_for(i, content, rng),
        })
        world_rows.append({
            "video_id": ids[i], "platform": platform, "scene": category, "shape": shape, "colour": colour,
            "motion1": MOTION_NAMES[content["motion1"][i]], "motion2": MOTION_NAMES[content["motion2"][i]],
            "highlight": int(content["highlight"][i]),
            "appeal": float(content["appeal"][i]), "width": width, "height": height, "fps": FPS,
            "duration_s": float(content["duration_s"][i]),
            "repost_of": ids[content["repost_of"][i]] if content["repost_of"][i] >= 0 else None,
        })
    order = np.argsort(np.array(ids))
    records_table = pa.Table.from_pylist([records[k] for k in order], schema=RECORD_SCHEMA)
    world_table = pa.Table.from_pylist([world_rows[k] for k in order], schema=WORLD_SCHEMA)
    return records_table, world_table


WORLD_SCHEMA = pa.schema([
    ("video_id", pa.string()), ("platform", pa.string()), ("scene", pa.string()), ("shape", pa.string()),
    ("colour", pa.string()), ("motion1", pa.string()), ("motion2", pa.string()), ("highlight", pa.int8()),
    ("appeal", pa.float64()),
    ("width", pa.int32()), ("height", pa.int32()), ("fps", pa.int32()), ("duration_s", pa.float64()),
    ("repost_of", pa.string()),
])


def caption(content: dict) -> str:
    """What a video shows, in the world's own words: a row of world.parquet (the latent content) as one line.

    It names the scene's category and places, the object, both motions in order and which one glows, in the surface
    forms the metadata uses (hashtags, tags, title and comment phrasing), so a language model reading it in a video's
    place can match it against options. The demo's stand-in language model is pretrained with it (`mimic_train.standins`);
    the stand-in vision tower learns the same facts from pixels.
    """
    category = content["scene"]
    places = next(words for name, words, _, _ in CATEGORIES if name == category)
    colour, shape = content["colour"], content["shape"]
    first, second = MOTIONS[content["motion1"]], MOTIONS[content["motion2"]]
    glowing = first if content["highlight"] == 1 else second
    return (f"{category} | #{colour}{shape} #{_slug(category)} #{first[2]} | {shape}, {colour}, {colour} {shape}, "
            f"{', '.join(places)}, {category.lower()}, {first[1]}, {second[1]} | the {colour} {shape} {first[0]} and "
            f"then {second[0]} | {colour} {shape} {glowing[1]} {TIMINGS[content['highlight'] - 1]}")
