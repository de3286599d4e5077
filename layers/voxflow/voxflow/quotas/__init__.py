"""Tenant quotas: token buckets (characters and requests per second) in DynamoDB.

On when VOXFLOW_QUOTAS_TABLE is set; ``TokenBucket.take`` is the one entry point.
"""

from voxflow.quotas.bucket import Grant, TokenBucket, create_quotas_table
from voxflow.quotas.limits import QuotaMode, QuotaSettings, TenantLimits

__all__ = [
    "Grant",
    "QuotaMode",
    "QuotaSettings",
    "TenantLimits",
    "TokenBucket",
    "create_quotas_table",
]
