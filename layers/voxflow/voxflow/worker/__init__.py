"""The container worker: ``python -m voxflow.worker`` (see __main__)."""
