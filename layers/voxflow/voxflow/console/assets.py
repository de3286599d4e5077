"""The console's files, served as they are: no build step, nothing from another origin.

Every file is named here with its type; any other name is not found (no path from the
request reaches the file system). The content security policy lets the page load only
its own scripts and styles and talk only to its own API: nothing a request or a voice
name carries can run, even if a page bug put it into markup.
"""

from dataclasses import dataclass
from functools import cache
from importlib import resources

INDEX = "index.html"
_TYPES = {
    INDEX: "text/html; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
    # The API the page calls: "" is its own origin (a static site's names its API).
    "config.json": "application/json",
}
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self' blob:; "
    "media-src 'self' blob:; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)


@dataclass(frozen=True)
class Asset:
    body: str
    content_type: str

    @property
    def headers(self) -> dict[str, str]:
        return {
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-cache",
        }


@cache
def asset(name: str) -> Asset | None:
    """The file called ``name``, or None when the console has no such file."""
    content_type = _TYPES.get(name)
    if content_type is None:
        return None
    body = resources.files(__package__).joinpath("static", name).read_text(encoding="utf-8")
    return Asset(body, content_type)
