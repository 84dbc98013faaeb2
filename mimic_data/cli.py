"""`mimic data …`: synthesise, crawl, select and release MIMIC-Data."""

from __future__ import annotations


def register(subparsers) -> None:
    parser = subparsers.add_parser("data", help="MIMIC-Data: synth, crawl, select, release")
    sub = parser.add_subparsers(dest="data_command", required=True)
    del sub
