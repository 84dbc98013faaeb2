"""Turn one yt-dlp info dict (YouTube or TikTok) into a validated `VideoRecord`.

Field mapping, and what yt-dlp does not provide:
- topics: hashtags, without the leading '#', in order of first appearance, de-duplicated case-insensitively.
  yt-dlp has no hashtag field on either platform: YouTube hashtags are read from the title then the description,
  TikTok hashtags from the description (its title is the description truncated).
- tags: YouTube `tags`; TikTok has none in yt-dlp, so []. A tags *string* is split on commas (stripped, empty parts
  dropped): the rule yt-dlp's own extractors apply to keyword strings (JSON-LD `keywords`), so dumps that kept the
  string are read the way yt-dlp would have read them. It is never split into characters.
- category: YouTube `categories[0]` (or ""); TikTok has no category, so "". A categories string is an error (no
  yt-dlp path writes one).
- language: yt-dlp's `language` when present (YouTube sets it only for some videos), else "".
- upload_time: `timestamp` (UTC) or else `upload_date` (YYYYMMDD, taken as midnight UTC).
- width/height: the top-level values of the selected format, else the largest video format listed.
- counts: missing counts are None (TikTok `repost_count` is the share count; YouTube has no share count).
- comments: top-level only (parent == "root"), sorted by like count descending (ties keep yt-dlp's order, which is
  the platform's "top" order), ranked 1..n, `is_pinned` from yt-dlp, and no author fields. A missing like count is 0
  (YouTube shows no count for zero likes). Comments without text are dropped.
  yt-dlp cannot extract TikTok comments at all, so TikTok records have no comments; nothing is invented.
  A `comments` value that is not a list, or a comment that is not an object, is an error.
- id: an integer id becomes its decimal string (as yt-dlp's `sanitize_string_field` does); the id must then match
  its platform's safe pattern (`mimic_data.schema.VIDEO_ID_PATTERNS`).
- text (title, description, channel, language, url, tags, comment text): repaired, never fatal. A lone surrogate
  (e.g. an emoji cut in half by TikTok's title truncation) becomes U+FFFD, bytes are decoded as UTF-8 with U+FFFD for
  invalid sequences. Any other type where text belongs is an error naming the field.
Every error is a `RecordError` naming the video (or the source) and the field.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from mimic_data.schema import RecordError, VideoRecord, check_video_id, validate_record

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")

# A hashtag starts a word: not inside a URL fragment ("page#top"), an HTML entity ("&#39;") or "##".
_HASHTAG = re.compile(r"(?<![\w/&#])#(\w+)")

_PLATFORM_BY_EXTRACTOR = {"youtube": "youtube", "tiktok": "tiktok"}


def extract_hashtags(*texts: str | None) -> list[str]:
    """Hashtags in the texts, without '#', first spelling kept, de-duplicated case-insensitively."""
    seen: set[str] = set()
    tags: list[str] = []
    for text in texts:
        for match in _HASHTAG.finditer(text or ""):
            tag = match.group(1)
            if tag.casefold() not in seen:
                seen.add(tag.casefold())
                tags.append(tag)
    return tags


def platform_of(info: Mapping[str, Any], where: str) -> str:
    extractor = str(info.get("extractor_key") or info.get("extractor") or "").lower()
    platform = _PLATFORM_BY_EXTRACTOR.get(extractor)
    if platform is None:
        raise RecordError(where, "platform", f"unsupported extractor {extractor!r} (expected YouTube or TikTok)")
    return platform


def _text(value: Any, video_id: str, field_name: str) -> str:
    """Missing -> ""; text made valid UTF-8 (see the module docstring); another type -> RecordError."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    raise RecordError(video_id, field_name, f"expected text, got {type(value).__name__} {_short(value)}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _tags(value: Any, video_id: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str | bytes):
        return [tag for tag in (t.strip() for t in _text(value, video_id, "tags").split(",")) if tag]
    if not isinstance(value, list | tuple):
        raise RecordError(video_id, "tags", f"expected a list of strings, got {type(value).__name__}")
    return [_text(tag, video_id, f"tags[{i}]") for i, tag in enumerate(value)]


def _category(value: Any, video_id: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, list | tuple):
        raise RecordError(video_id, "categories", f"expected a list of strings, got {type(value).__name__} "
                                                  f"{_short(value)}")
    return _text(value[0], video_id, "categories[0]") if value else ""


def _upload_time(info: Mapping[str, Any], video_id: str) -> dt.datetime:
    timestamp = info.get("timestamp")
    if isinstance(timestamp, int | float) and not isinstance(timestamp, bool):
        try:
            return dt.datetime.fromtimestamp(timestamp, dt.UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise RecordError(video_id, "upload_time", f"timestamp {timestamp!r} is out of range ({exc})") from exc
    upload_date = info.get("upload_date")
    if isinstance(upload_date, str) and re.fullmatch(r"\d{8}", upload_date):
        try:
            return dt.datetime.strptime(upload_date, "%Y%m%d").replace(tzinfo=dt.UTC)
        except ValueError:
            pass
    raise RecordError(video_id, "upload_time",
                      f"no usable timestamp ({timestamp!r}) or upload_date ({upload_date!r})")


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _frame_size(info: Mapping[str, Any]) -> tuple[Any, Any]:
    if info.get("width") and info.get("height"):
        return info["width"], info["height"]
    formats = info.get("formats")
    sized = [f for f in formats if isinstance(f, Mapping) and f.get("vcodec") != "none"
             and _positive_int(f.get("width")) and _positive_int(f.get("height"))] if isinstance(formats, list) else []
    if not sized:
        return info.get("width"), info.get("height")
    best = max(sized, key=lambda f: f["width"] * f["height"])
    return best["width"], best["height"]


def _count(value: Any) -> Any:
    """Missing stays None; integral floats become ints; anything else is left for validation to reject."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _comments(raw: Any, video_id: str) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise RecordError(video_id, "comments", f"expected a list of comments, got {type(raw).__name__} {_short(raw)}")
    top_level = []
    for i, comment in enumerate(raw):
        if not isinstance(comment, Mapping):
            raise RecordError(video_id, f"comments[{i}]", f"expected an object, got {type(comment).__name__}")
        text = _text(comment.get("text"), video_id, f"comments[{i}].text")
        if comment.get("parent") == "root" and text.strip():
            top_level.append((text, comment))
    likes = [_count(c.get("like_count")) or 0 for _, c in top_level]
    # Non-integer likes keep their place; validation then rejects them, naming the comment.
    order = sorted(range(len(top_level)), key=lambda i: -likes[i] if isinstance(likes[i], int) else 0)
    return [{"text": top_level[i][0], "like_count": likes[i], "rank": rank,
             "is_pinned": bool(top_level[i][1].get("is_pinned"))}
            for rank, i in enumerate(order, start=1)]


def normalize_info(info: Mapping[str, Any], *, snapshot_date: dt.date, url: str | None = None,
                   source: str | None = None) -> VideoRecord:
    """One yt-dlp info dict -> a validated record; a RecordError names the video (or the source) and the field.

    url: the URL it was fetched from (the record's url when the dict has no webpage_url); source: where it came from,
    for messages (default: url), e.g. an .info.json path.
    """
    source = source or url
    if not isinstance(info, Mapping):
        raise RecordError(source or "<unknown>", "info",
                          f"expected an info dict (JSON object), got {type(info).__name__}")
    try:
        return _normalize(info, snapshot_date, url, source)
    except RecordError as exc:
        if source is None:
            raise
        raise RecordError(exc.video_id, exc.field_name, f"{exc.message} (from {source})") from exc


def _normalize(info: Mapping[str, Any], snapshot_date: dt.date, url: str | None, source: str | None) -> VideoRecord:
    where = source or _short(info.get("webpage_url") or info.get("id") or "<unknown>")
    if info.get("_type", "video") != "video":
        raise RecordError(where, "_type", f"expected a single video, got {info.get('_type')!r} (pass video URLs)")
    video_id = info.get("id")
    if isinstance(video_id, int) and not isinstance(video_id, bool):
        video_id = str(video_id)
    if not isinstance(video_id, str) or not video_id:
        raise RecordError(where, "video_id", f"info dict has no id ({_short(video_id)})")
    platform = platform_of(info, video_id)
    check_video_id(video_id, platform)
    title = _text(info.get("title"), video_id, "title")
    description = _text(info.get("description"), video_id, "description")
    youtube = platform == "youtube"
    width, height = _frame_size(info)
    row = {
        "video_id": video_id,
        "platform": platform,
        "url": _text(info.get("webpage_url") or url, video_id, "webpage_url"),
        "channel_id": _text(info.get("channel_id") or info.get("uploader_id"), video_id, "channel_id"),
        "title": title,
        "description": description,
        "tags": _tags(info.get("tags"), video_id) if youtube else [],
        "topics": extract_hashtags(title, description) if youtube else extract_hashtags(description),
        "category": _category(info.get("categories"), video_id) if youtube else "",
        "language": _text(info.get("language"), video_id, "language"),
        "upload_time": _upload_time(info, video_id),
        "duration_s": info.get("duration"),
        "width": width,
        "height": height,
        "view_count": _count(info.get("view_count")),
        "like_count": _count(info.get("like_count")),
        "comment_count": _count(info.get("comment_count")),
        "share_count": _count(info.get("repost_count")),
        "snapshot_date": snapshot_date,
        "comments": _comments(info.get("comments"), video_id),
    }
    return validate_record(row)
