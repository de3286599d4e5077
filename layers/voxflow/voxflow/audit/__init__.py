"""Audit records: one per request (tenant, text hash, voice, characters, timings, outcome,
region) in DynamoDB, queryable by tenant and time. On when VOXFLOW_AUDIT_TABLE is set.
"""

from voxflow.audit.log import COMPLETED, DEGRADED, FAILED, AuditLog, AuditSettings, text_sha256
from voxflow.audit.models import TENANT_INDEX, AuditRecord, create_audit_table

__all__ = [
    "COMPLETED",
    "DEGRADED",
    "FAILED",
    "TENANT_INDEX",
    "AuditLog",
    "AuditRecord",
    "AuditSettings",
    "create_audit_table",
    "text_sha256",
]
