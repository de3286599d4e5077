"""voxflow_local's clients: voxflow.aws.clients with the local emulator's settings.

``AwsSettings.local`` carries fixed dummy keys and no profile, so nothing the local
stack does can reach a real AWS account.
"""

from typing import Any

from voxflow.aws import AwsClients, AwsSettings


def _client(service: str, endpoint: str, region: str) -> Any:
    return AwsClients(AwsSettings.local(endpoint, region)).client(service)
