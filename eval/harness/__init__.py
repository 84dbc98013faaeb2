"""The evaluation harness: bench rows in, one decode per video, adapter answers appended per sample, results out.

runner (MCQ runs, resume, conditions) and generate (comment generation) drive it; bench_io reads the bench folder,
decode prefetches frames, samples_log is the per-sample ledger, sharding splits videos over ranks, manifest and
fingerprint make every run reproducible.
"""
