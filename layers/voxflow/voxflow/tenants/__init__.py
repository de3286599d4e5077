"""Tenant bindings for direct SQS senders (voxflow.pipeline.tenancy decides with them)."""

from voxflow.tenants.table import (
    Binding,
    TenantDirectory,
    TenantTable,
    create_tenants_table,
    principal_of,
)

__all__ = ["Binding", "TenantDirectory", "TenantTable", "create_tenants_table", "principal_of"]
