"""Classify a yt-dlp failure (metadata extraction or download) into a ledger status and a transient flag.

yt-dlp reports most reasons as the platform's own prose inside an `ExtractorError`, wrapped in a `DownloadError`
whose `exc_info` holds the original. So classification walks the exception chain (DownloadError.exc_info,
ExtractorError.cause/exc_info, `__cause__`), trusts the classes that carry meaning (GeoRestrictedError, HTTPError,
ContentTooShortError, IncompleteRead, TransportError) and otherwise matches regexes taken from the real messages
of yt-dlp 2026.10 (YouTube playability reasons, TikTok status errors, HTTP/network/fragment errors).

Statuses: ok, unavailable, private, removed, geo, age, bot_check, rate_limited, http_error, network, corrupt, other.
`transient` says whether retrying later (or from another IP/session) can succeed; permanent failures are skipped on
resume. Members-only videos count as `private` (access needs an account); upcoming lives/premieres as a transient
`unavailable`; unsupported or malformed URLs as a permanent `other`.
"""

from __future__ import annotations

import logging
import re
from typing import NamedTuple

STATUSES = ("ok", "unavailable", "private", "removed", "geo", "age", "bot_check", "rate_limited", "http_error",
            "network", "corrupt", "other")

# Permanent HTTP codes: the resource is gone or the request is wrong; everything else (403 on expired signed
# URLs, 408, 5xx) may work on a later try.
_PERMANENT_HTTP = frozenset({400, 401, 404, 410, 451})

_I = re.IGNORECASE
# Stated reasons, tried first and in order (first match wins); they outrank a bare HTTP code or transport class.
# Private/age come before bot_check because all three say "sign in"; geo comes before removed because geo-blocks
# mention "copyright grounds".
_REASON_RULES: tuple[tuple[str, bool, re.Pattern[str]], ...] = (
    ("other", False, re.compile(r"unsupported url|incomplete youtube id|is not a valid url", _I)),
    ("other", True, re.compile(r"requested format is not available", _I)),  # client/JS-runtime issue, not the video
    ("private", False, re.compile(
        r"private video|video is private|is a private|permission to view this post|members[- ]only|"
        r"available to this channel's members|join this channel to get access", _I)),
    ("age", False, re.compile(
        r"confirm your age|age[- ]restricted|inappropriate for some users|not be comfortable for some audiences", _I)),
    ("bot_check", True, re.compile(
        r"not a bot|captcha|ip address is blocked|unusual traffic|sign in to confirm|requiring login for access", _I)),
    ("rate_limited", True, re.compile(r"try again later|rate[- ]limit|too many requests|http error 429", _I)),
    ("geo", False, re.compile(
        r"not (?:made this video )?available (?:in|from) your (?:country|location)|geo[- ]?restrict|"
        r"blocked it in your country|not available in your region", _I)),
    ("removed", False, re.compile(
        r"has been removed|been terminated|account .{0,40}(?:closed|terminated)|copyright claim|"
        r"violating youtube's|no longer available", _I)),
)
# Tried after the HTTP code: generic wording that an HTTP status explains better when there is one.
_FALLBACK_RULES: tuple[tuple[str, bool, re.Pattern[str]], ...] = (
    ("unavailable", True, re.compile(
        r"live event will begin|premieres? in|this live event|is not currently live|"
        r"stream (?:has not|hasn't) started|scheduled to start", _I)),
    ("unavailable", False, re.compile(
        r"video unavailable|video is unavailable|not available|does not exist|content isn't available|"
        r"has no video|status code \d+", _I)),
    ("corrupt", True, re.compile(
        r"\bincomplete\b|bytes read, \d+ more expected|downloaded \d+ bytes, expected|content too short|"
        r"did not get any data blocks|downloaded file is empty|fragment \d+ not found|moov atom not found|"
        r"invalid data found when processing input|conversion failed|\btruncated\b|corrupt", _I)),
    ("network", True, re.compile(
        r"timed? ?out|connection (?:reset|refused|aborted)|remote end closed|name resolution|"
        r"name or service not known|network is unreachable|no route to host|urlopen error|\bssl\b|"
        r"temporary failure|eof occurred|broken pipe|proxy", _I)),
)
_REASONS_OVER_CLASS = frozenset({"private", "age", "bot_check", "rate_limited", "removed"})

_HTTP_STATUS = re.compile(r"HTTP Error (\d{3})", _I)


class ErrorClass(NamedTuple):
    status: str
    transient: bool


def _wrapped(exc: BaseException) -> list[BaseException]:
    """The exceptions `exc` carries: DownloadError/ExtractorError.exc_info, ExtractorError.cause, __cause__, __context__."""
    exc_info = getattr(exc, "exc_info", None)
    candidates = [exc_info[1] if isinstance(exc_info, tuple) and len(exc_info) > 1 else None,
                  getattr(exc, "cause", None), exc.__cause__, exc.__context__]
    return [c for c in candidates if isinstance(c, BaseException)]


def exception_chain(exc: BaseException, max_depth: int = 8) -> list[BaseException]:
    """The exception and, breadth-first, everything it wraps (each exception once)."""
    chain: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo and len(chain) < max_depth:
        current = todo.pop(0)
        if not any(current is seen for seen in chain):
            chain.append(current)
            todo.extend(_wrapped(current))
    return chain


def _http_error_class(status: int) -> ErrorClass:
    if status == 429:
        return ErrorClass("rate_limited", True)
    return ErrorClass("http_error", status not in _PERMANENT_HTTP)


def _classify_by_class(chain: list[BaseException]) -> ErrorClass | None:
    from yt_dlp.networking.exceptions import HTTPError, IncompleteRead, TransportError
    from yt_dlp.utils import ContentTooShortError, GeoRestrictedError, UnsupportedError

    for exc in chain:
        if isinstance(exc, GeoRestrictedError):
            return ErrorClass("geo", False)
        if isinstance(exc, UnsupportedError):
            return ErrorClass("other", False)
        if isinstance(exc, ContentTooShortError | IncompleteRead):
            return ErrorClass("corrupt", True)
    for exc in chain:
        if isinstance(exc, HTTPError):
            return _http_error_class(exc.status)
    for exc in chain:
        if isinstance(exc, TransportError | TimeoutError | ConnectionError):
            return ErrorClass("network", True)
    return None


def classify_message(message: str) -> ErrorClass:
    """Classify by the message text alone (for messages read back from logs or ledgers)."""
    for status, transient, pattern in _REASON_RULES:
        if pattern.search(message):
            return ErrorClass(status, transient)
    http = _HTTP_STATUS.search(message)
    if http:
        return _http_error_class(int(http.group(1)))
    for status, transient, pattern in _FALLBACK_RULES:
        if pattern.search(message):
            return ErrorClass(status, transient)
    return ErrorClass("other", True)


def classify_ytdlp_error(exc_or_message: BaseException | str | None) -> ErrorClass:
    """(status, transient) for a yt-dlp exception or message; None means success, ("ok", False)."""
    if exc_or_message is None:
        return ErrorClass("ok", False)
    if isinstance(exc_or_message, str):
        return classify_message(exc_or_message)
    chain = exception_chain(exc_or_message)
    text = " | ".join(str(getattr(exc, "orig_msg", None) or exc) for exc in chain)
    by_text = classify_message(text)
    if by_text.status in _REASONS_OVER_CLASS:
        return by_text  # the platform's stated reason is more specific than the transport class carrying it
    return _classify_by_class(chain) or by_text


def root_cause(exc: BaseException) -> BaseException:
    """The original failure (what the ledger names as the error class): the first exception that wraps nothing."""
    chain = exception_chain(exc)
    return next((e for e in chain if not _wrapped(e)), chain[-1])


BLOCK_STATUSES = frozenset({"bot_check", "rate_limited"})  # a run of these trips the crawler's and hydrator's breaker
_log = logging.getLogger("mimic_data.ytdlp")


def ended_blocked(rows: list[dict], key: str, limit: int) -> bool:
    """True when one job's run (its ledger rows, in order) ended with `limit` items in a row whose last row is a block:
    the circuit breaker's stop rule, read back from the ledger (so it holds for jobs run anywhere)."""
    if not limit:
        return False
    finals: dict[str, str] = {}
    for row in rows:
        finals[row[key]] = row["status"]
    tail = list(finals.values())[-limit:]
    return len(tail) == limit and all(status in BLOCK_STATUSES for status in tail)


def is_settled(row: dict | None) -> bool:
    """True when a URL needs no further attempt: it succeeded or failed permanently."""
    return row is not None and (row.get("status") == "ok" or not row.get("transient", True))


class YtDlpLogger:
    """Routes yt-dlp's console output to logging, so failures reach the ledger instead of stderr noise."""

    def debug(self, msg: str) -> None:
        _log.debug(msg)

    def info(self, msg: str) -> None:
        _log.debug(msg)

    def warning(self, msg: str) -> None:
        _log.info(msg)

    def error(self, msg: str) -> None:
        _log.info(msg)
