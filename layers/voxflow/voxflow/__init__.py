"""voxflow: event-driven text-to-speech with a neural ONNX voice."""

__version__ = "0.1.0"
