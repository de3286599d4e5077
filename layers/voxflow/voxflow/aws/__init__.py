"""AWS access: every boto3 client voxflow uses is built in voxflow.aws.clients."""

from voxflow.aws.clients import AwsClients
from voxflow.aws.settings import AwsSettings

__all__ = ["AwsClients", "AwsSettings"]
