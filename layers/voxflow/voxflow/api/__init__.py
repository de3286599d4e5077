"""The HTTP front door: Polly- and OpenAI-compatible routes over the event path's cache,
keys and controls (docs/api.md). The handler is functions/api/app.py."""
