"""Generated JSON Schemas of the public events, one file per detail type.

A package, so the files ship inside the voxflow layer and wheel. Regenerate them
with ``python -m voxflow.events.schemas`` after changing a model.
"""
