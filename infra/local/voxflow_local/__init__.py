"""A local, account-free emulation of the stack in template.yaml, on moto server.

Development tooling, not used by the Lambda handlers: ``moto_server`` runs moto
as a separate process, ``deploy`` turns template.yaml into a stack in it,
``poller`` and ``runner`` stand in for Lambda's SQS event source mappings, and
``stack`` ties them together (``python -m voxflow_local up``). infra/local/README.md
has the details; nothing here runs at import time.
"""
