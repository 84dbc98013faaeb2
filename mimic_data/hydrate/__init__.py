"""Hydration: download a release folder's videos with yt-dlp, check them, report which subset is there (`mimic hydrate`).

download (ledger, resume, retries, shards), report (materialize `file_name`, coverage, available-ids sha256), preflight
(probe files before sampling), ytdlp_errors (classify yt-dlp failures; the crawler uses it too), server + loopback
(serve rendered synthetic videos on 127.0.0.1 and hydrate through them: the demo and the tests), cli. See README.md.
Kept import-free so `mimic_data.hydrate.ytdlp_errors` and the CLI load no heavy modules.
"""
