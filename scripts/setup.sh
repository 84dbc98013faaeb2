#!/usr/bin/env bash
# Creates/refreshes .venv and installs everything the project needs: system FFmpeg (+ Chromium for the UI tests)
# through apt when missing and root, then torch/torchvision and the project with its dev extras.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v ffmpeg >/dev/null 2>&1 || need_apt+=(ffmpeg)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium chromium-driver)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing ${need_apt[*]} with apt-get"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "setup: missing system packages: ${need_apt[*]}." >&2
    echo "       Install them (Debian/Ubuntu: sudo apt-get install ${need_apt[*]}); FFmpeg is needed by torchcodec," >&2
    echo "       Chromium only by the browser tests. Continuing; PyAV decoding still works without FFmpeg." >&2
  fi
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=.venv/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  # torch first, pinned to the releases this project is tested with, so no other resolver step picks a different build.
  .venv/bin/python -m pip install -q "torch==2.14.1" "torchvision==0.29.1"
  # the distribution was called mimic-bench before it was renamed (a PyPI project of that name is unrelated)
  .venv/bin/python -m pip uninstall -q -y mimic-bench 2>/dev/null || true
  .venv/bin/python -m pip install -q -e '.[dev,ray]'
  rm -f .venv/.installed-* && touch "$stamp"
fi
