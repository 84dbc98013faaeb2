"""yt-dlp failure classification: real message strings of yt-dlp 2026.10 and real exception objects."""

import io
import sys

import pytest
from yt_dlp.networking import Response
from yt_dlp.networking.exceptions import HTTPError, IncompleteRead, TransportError
from yt_dlp.utils import ContentTooShortError, DownloadError, ExtractorError, GeoRestrictedError, UnsupportedError

from mimic_data.hydrate.ytdlp_errors import STATUSES, classify_ytdlp_error, exception_chain, root_cause

COOKIE_HINT = ("Use --cookies-from-browser or --cookies for the authentication. See  https://github.com/yt-dlp/yt-dlp/"
               "wiki/FAQ#how-do-i-pass-cookies-to-yt-dlp  for how to manually pass cookies")

MESSAGES = [
    (f"ERROR: [youtube] abc: Private video. Sign in if you've been granted access to this video. {COOKIE_HINT}",
     "private", False),
    ("ERROR: [youtube] abc: Join this channel to get access to members-only content like this video, and other "
     "exclusive perks.", "private", False),
    ("ERROR: [TikTok] 7301: You do not have permission to view this post. Log into an account that has access",
     "private", False),
    ("ERROR: [youtube] abc: Video unavailable", "unavailable", False),
    ("ERROR: [TikTok] 7301: Video not available, status code 10231", "unavailable", False),
    ("ERROR: [youtube] abc: This live event will begin in 3 hours.", "unavailable", True),
    ("ERROR: [youtube] abc: Video unavailable. This video has been removed by the uploader", "removed", False),
    ("ERROR: [youtube] abc: Video unavailable. This video is no longer available because the YouTube account "
     "associated with this video has been terminated.", "removed", False),
    ("ERROR: [youtube] abc: Video unavailable. This video is no longer available due to a copyright claim by "
     "Some Label", "removed", False),
    ("ERROR: [youtube] abc: Video unavailable. This video contains content from SME, who has blocked it in your "
     "country on copyright grounds", "geo", False),
    ("ERROR: [youtube] abc: Video unavailable. The uploader has not made this video available in your country",
     "geo", False),
    (f"ERROR: [youtube] abc: Sign in to confirm your age. This video may be inappropriate for some users. "
     f"{COOKIE_HINT}", "age", False),
    (f"ERROR: [youtube] abc: Sign in to confirm you\u2019re not a bot. {COOKIE_HINT}", "bot_check", True),
    ("ERROR: [TikTok] 7301: Your IP address is blocked from accessing this post", "bot_check", True),
    ("ERROR: [youtube] abc: This content isn't available, try again later. The current session has been "
     "rate-limited by YouTube for up to an hour.", "rate_limited", True),
    ("ERROR: unable to download video data: HTTP Error 429: Too Many Requests", "rate_limited", True),
    ("ERROR: unable to download video data: HTTP Error 403: Forbidden", "http_error", True),
    ("ERROR: unable to download video data: HTTP Error 404: Not Found", "http_error", False),
    ("ERROR: [youtube] abc: Unable to download API page: HTTP Error 503: Service Unavailable", "http_error", True),
    ("ERROR: [youtube] abc: Unable to download API page: <urlopen error [Errno -3] Temporary failure in name "
     "resolution>", "network", True),
    ("ERROR: [download] Got error: Read timed out.", "network", True),
    ("ERROR: Did not get any data blocks", "corrupt", True),
    ("ERROR: fragment 3 not found, unable to continue", "corrupt", True),
    ("ERROR: Postprocessing: Conversion failed!", "corrupt", True),
    ("ERROR: The downloaded file is incomplete", "corrupt", True),
    ("ERROR: Unsupported URL: https://example.org/page", "other", False),
    ("ERROR: [youtube] abc: Requested format is not available. Use --list-formats for a list of available formats",
     "other", True),
    ("something nobody has seen before", "other", True),
]


@pytest.mark.parametrize(("message", "status", "transient"), MESSAGES)
def test_real_messages_are_classified(message, status, transient):
    assert classify_ytdlp_error(message) == (status, transient)


def _wrapped(inner: Exception) -> DownloadError:
    """What YoutubeDL.extract_info raises: a DownloadError whose exc_info holds the original exception."""
    try:
        raise inner
    except Exception as exc:
        return DownloadError(f"ERROR: {exc}", sys.exc_info())


def _http_error(status: int, reason: str) -> HTTPError:
    return HTTPError(Response(io.BytesIO(b""), "https://example.org/v", {}, status=status, reason=reason))


def _extractor_error_caused_by(cause: Exception) -> ExtractorError:
    try:
        raise cause
    except Exception as exc:
        return ExtractorError("Unable to download webpage", cause=exc, video_id="abc", ie="youtube")


EXCEPTIONS = [
    (lambda: _wrapped(ExtractorError("Private video. Sign in if you've been granted access", expected=True,
                                     video_id="abc", ie="youtube")), "private", False),
    # The class, not the wording, says geo here.
    (lambda: _wrapped(GeoRestrictedError("Nope", countries=["DE"], video_id="abc")), "geo", False),
    (lambda: _wrapped(_extractor_error_caused_by(_http_error(429, "Too Many Requests"))), "rate_limited", True),
    (lambda: _wrapped(_extractor_error_caused_by(_http_error(404, "Not Found"))), "http_error", False),
    (lambda: _wrapped(_extractor_error_caused_by(_http_error(403, "Forbidden"))), "http_error", True),
    (lambda: _wrapped(_extractor_error_caused_by(TransportError("boom"))), "network", True),
    (lambda: _wrapped(ContentTooShortError(100, 1000)), "corrupt", True),
    (lambda: IncompleteRead(100, 900), "corrupt", True),
    (lambda: _wrapped(UnsupportedError("https://example.org/x")), "other", False),
    (lambda: ConnectionResetError("peer went away"), "network", True),
]


@pytest.mark.parametrize(("make", "status", "transient"), EXCEPTIONS)
def test_exception_objects_are_classified_through_the_chain(make, status, transient):
    assert classify_ytdlp_error(make()) == (status, transient)


def test_stated_reason_beats_the_transport_class():
    # A bot check delivered inside an HTTP 403 is a bot check: cookies fix it, retrying the same way does not.
    exc = _wrapped(ExtractorError("Sign in to confirm you're not a bot", cause=_http_error(403, "Forbidden"),
                                  expected=True))
    assert classify_ytdlp_error(exc) == ("bot_check", True)


def test_success_and_status_vocabulary():
    assert classify_ytdlp_error(None) == ("ok", False)
    assert {status for _, status, _ in MESSAGES} | {"ok"} <= set(STATUSES)


def test_chain_and_root_cause_follow_download_error_exc_info():
    http = _http_error(429, "Too Many Requests")
    exc = _wrapped(_extractor_error_caused_by(http))
    chain = exception_chain(exc)
    assert chain[0] is exc and any(e is http for e in chain)
    assert isinstance(root_cause(exc), HTTPError)
