"""Fault injection for load tests: throttling and 5xx answers to a share of AWS calls.

Off unless ``VOXFLOW_FAULTS`` is set (``"s3:0.05,dynamodb:0.05"``); then every
botocore client the process builds afterwards (boto3's and pynamodb's) answers
that fraction of its HTTP attempts with an injected error instead of sending them,
before botocore's retries, which see it as the real service's answer.
"""

from voxflow_local.faults.injector import (
    FAULTS_DIR_ENV,
    FAULTS_ENV,
    FAULTS_SEED_ENV,
    FaultInjector,
    install,
    install_from_env,
    installed,
    parse_rates,
    read_counts,
    read_fault_times,
    uninstall,
)

__all__ = [
    "FAULTS_DIR_ENV",
    "FAULTS_ENV",
    "FAULTS_SEED_ENV",
    "FaultInjector",
    "install",
    "install_from_env",
    "installed",
    "parse_rates",
    "read_counts",
    "read_fault_times",
    "uninstall",
]
