"""The console as a static site of its own origin (docs/console.md, "As a static site"):
the same files as the API serves at /console, laid out for a bucket behind CloudFront,
with ``console/config.json`` naming the API they call across origins.

The layout keeps the page's relative paths: ``index.html`` at the root loads
``console/console.js``, as /console does on the API. The API answers the page's calls
with CORS for the site's origin only (template.yaml's SpeechApi CorsConfiguration, and
voxflow_local's HTTP API server locally); the site's content security policy lets the
page call that API and nothing else.
"""

import json
from dataclasses import dataclass
from typing import Any

from voxflow.console.assets import CONTENT_SECURITY_POLICY, INDEX, asset

CONFIG = "config.json"
# What the page sends and reads across origins: the bearer key and JSON; the cache
# result and the service's timings. API Gateway's CorsConfiguration in template.yaml
# names the same (tests/test_template.py compares them).
CORS_ALLOW_HEADERS = ("authorization", "content-type")
CORS_ALLOW_METHODS = ("GET", "POST")
CORS_EXPOSE_HEADERS = ("x-voxflow-cache", "server-timing")
CORS_MAX_AGE_S = 600
_FILES = (INDEX, "console.js", "console.css")


@dataclass(frozen=True)
class SiteFile:
    key: str  # the object key, the path under the site's root
    body: bytes
    content_type: str


def site_policy(api_origin: str) -> str:
    """The page's content security policy on a site of its own: as on the API, but
    its calls go to ``api_origin`` (the browser still allows no other)."""
    return CONTENT_SECURITY_POLICY.replace(
        "connect-src 'self'", f"connect-src 'self' {api_origin}", 1
    )


def config_document(api_url: str) -> dict[str, Any]:
    """What the page reads first: the API's base URL ("" on the API itself)."""
    return {"api": api_url.rstrip("/")}


def site_files(api_url: str) -> list[SiteFile]:
    """Every file of the site: the package's own (voxflow/console/static), and the
    config that names ``api_url``."""
    files = []
    for name in _FILES:
        found = asset(name)
        assert found is not None, name  # _FILES are the package's own names
        key = name if name == INDEX else f"console/{name}"
        files.append(SiteFile(key, found.body.encode("utf-8"), found.content_type))
    config = json.dumps(config_document(api_url)).encode("utf-8")
    files.append(SiteFile(f"console/{CONFIG}", config, "application/json"))
    return files


def publish(s3: Any, bucket: str, api_url: str) -> list[str]:
    """Put the site in ``bucket``; the keys written. ``no-cache``: a browser revalidates,
    so a new publish is seen at once (the distribution itself does not cache)."""
    for file in site_files(api_url):
        s3.put_object(
            Bucket=bucket,
            Key=file.key,
            Body=file.body,
            ContentType=file.content_type,
            CacheControl="no-cache",
        )
    return [file.key for file in site_files(api_url)]
