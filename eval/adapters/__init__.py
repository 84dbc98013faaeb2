"""Model adapters: MIMIC-Chat (remote code), transformers-native VLMs, OpenAI-compatible APIs, blind and random."""
