"""Turn one yt-dlp info dict (YouTube or TikTok) into a validated `VideoRecord`.

Field mapping, and what yt-dlp does not provide:
- topics: hashtags, without the leading '#', in order of first appearance, de-duplicated case-insensitively.
  yt-dlp has no hashtag field on either platform: YouTube hashtags are read from the title then the description,
  TikTok hashtags from the description (its title is the description truncated).
- tags: YouTube `tags`; TikTok has none in yt-dlp, so [].
- category: YouTube `categories[0]` (or ""); TikTok has no category, so "".
- language: yt-dlp's `language` when present (YouTube sets it only for some videos), else "".
- upload_time: `timestamp` (UTC) or else `upload_date` (YYYYMMDD, taken as midnight UTC).
- width/height: the top-level values of the selected format, else the largest video format listed.
- counts: missing counts are None (TikTok `repost_count` is the share count; YouTube has no share count).
- comments: top-level only (parent == "root"), sorted by like count descending (ties keep yt-dlp's order, which is
  the platform's "top" order), ranked 1..n, `is_pinned` from yt-dlp, and no author fields. A missing like count is 0
  (YouTube shows no count for zero likes). Comments without text are dropped.
  yt-dlp cannot extract TikTok comments at all, so TikTok records have no comments; nothing is invented.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from mimic_data.schema import RecordError, VideoRecord, validate_record

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


def _upload_time(info: Mapping[str, Any], video_id: str) -> dt.datetime:
    timestamp = info.get("timestamp")
    if isinstance(timestamp, int | float) and not isinstance(timestamp, bool):
        return dt.datetime.fromtimestamp(timestamp, dt.UTC)
    upload_date = info.get("upload_date")
    if isinstance(upload_date, str) and re.fullmatch(r"\d{8}", upload_date):
        try:
            return dt.datetime.strptime(upload_date, "%Y%m%d").replace(tzinfo=dt.UTC)
        except ValueError:
            pass
    raise RecordError(video_id, "upload_time",
                      f"no usable timestamp ({timestamp!r}) or upload_date ({upload_date!r})")


def _frame_size(info: Mapping[str, Any]) -> tuple[Any, Any]:
    if info.get("width") and info.get("height"):
        return info["width"], info["height"]
    sized = [f for f in info.get("formats") or []
             if isinstance(f, Mapping) and f.get("vcodec") != "none" and f.get("width") and f.get("height")]
    if not sized:
        return info.get("width"), info.get("height")
    best = max(sized, key=lambda f: f["width"] * f["height"])
    return best["width"], best["height"]


def _count(value: Any) -> Any:
    """Missing stays None; integral floats become ints; anything else is left for validation to reject."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _comments(raw: Any) -> list[dict[str, Any]]:
    top_level = [c for c in raw or [] if isinstance(c, Mapping) and c.get("parent") == "root"
                 and isinstance(c.get("text"), str) and c["text"].strip()]
    likes = [_count(c.get("like_count")) or 0 for c in top_level]
    # Non-integer likes keep their place; validation then rejects them, naming the comment.
    order = sorted(range(len(top_level)), key=lambda i: -likes[i] if isinstance(likes[i], int) else 0)
    return [{"text": top_level[i]["text"], "like_count": likes[i], "rank": rank,
             "is_pinned": bool(top_level[i].get("is_pinned"))}
            for rank, i in enumerate(order, start=1)]


def normalize_info(info: Mapping[str, Any], *, snapshot_date: dt.date, url: str | None = None) -> VideoRecord:
    """One yt-dlp info dict -> a validated record; a RecordError names the video (or the URL) and the field."""
    where = url or str(info.get("webpage_url") or info.get("id") or "<unknown>")
    if info.get("_type", "video") != "video":
        raise RecordError(where, "_type", f"expected a single video, got {info.get('_type')!r} (pass video URLs)")
    video_id = info.get("id")
    if not isinstance(video_id, str) or not video_id:
        raise RecordError(where, "video_id", f"info dict has no id ({video_id!r})")
    platform = platform_of(info, video_id)
    title = info.get("title") or ""
    description = info.get("description") or ""
    youtube = platform == "youtube"
    width, height = _frame_size(info)
    row = {
        "video_id": video_id,
        "platform": platform,
        "url": info.get("webpage_url") or url or "",
        "channel_id": info.get("channel_id") or info.get("uploader_id") or "",
        "title": title,
        "description": description,
        "tags": list(info.get("tags") or []) if youtube else [],
        "topics": extract_hashtags(title, description) if youtube else extract_hashtags(description),
        "category": (info.get("categories") or [""])[0] if youtube else "",
        "language": info.get("language") or "",
        "upload_time": _upload_time(info, video_id),
        "duration_s": info.get("duration"),
        "width": width,
        "height": height,
        "view_count": _count(info.get("view_count")),
        "like_count": _count(info.get("like_count")),
        "comment_count": _count(info.get("comment_count")),
        "share_count": _count(info.get("repost_count")),
        "snapshot_date": snapshot_date,
        "comments": _comments(info.get("comments")),
    }
    try:
        return validate_record(row)
    except RecordError as exc:
        if url is None:
            raise
        raise RecordError(exc.video_id, exc.field_name, f"{exc.message} (from {url})") from exc
