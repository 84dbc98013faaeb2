"""The comment-mimicking study: blind-test sheets, the annotation app, aggregation, agreement and automatic proxies.

Anything produced by `simulate` is simulated (seeded latent human-likeness, annotator bias and noise) and is labelled so.
"""

PROTOCOL_VERSION = "mimic-study/1"  # bump when the instructions, scale or display change
APP_VERSION = "0.1.0"
HUMAN_SOURCE = "human"
ATTENTION_SOURCE = "attention_check"
