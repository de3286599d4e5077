"""The console as a static site of its own origin, locally: what CloudFront serves from
the ConsoleBucket on AWS (template.yaml, ConsoleSite cloudfront), on a port of its own.

The files and their layout are voxflow.console.site's, exactly what ``voxflow console
publish`` puts in the bucket; the content security policy is the one the distribution's
response headers policy sets, with the local API's origin in place of API Gateway's.
Its origin differs from the API's by its port, so the page's calls are cross-origin as
on AWS: the local HTTP API server answers CORS for this origin only (http_api.Cors).
"""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import urlsplit

from voxflow.console.assets import INDEX
from voxflow.console.site import site_files, site_policy


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class ConsoleSite:
    """Serves the site on 127.0.0.1:``port`` (0: any), calling ``api_url``."""

    def __init__(self, api_url: str, port: int = 0) -> None:
        files = {f"/{file.key}": file for file in site_files(api_url)}
        files["/"] = files[f"/{INDEX}"]  # CloudFront's DefaultRootObject
        policy = site_policy(origin_of(api_url))

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                found = files.get(self.path.split("?", 1)[0])
                if found is None:  # S3 through origin access control: a missing key
                    self.send_error(403)
                    return
                self.send_response(200)
                self.send_header("Content-Type", found.content_type)
                self.send_header("Content-Length", str(len(found.body)))
                self.send_header("Content-Security-Policy", policy)
                self.send_header("X-Content-Type-Options", "nosniff")
                self.send_header("Referrer-Policy", "no-referrer")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                self.wfile.write(found.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def origin(self) -> str:
        return self.url

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
