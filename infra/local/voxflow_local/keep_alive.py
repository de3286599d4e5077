"""HTTP keep-alive for the local moto server's werkzeug request handler.

werkzeug's development server ends every response with ``Connection: close``, because
``http.server`` cannot drain an unread request body before the next request line. So
every AWS call of every local function opened a TCP connection and moto started a
thread for it: in the failover drill, werkzeug's accept loop and its response writes
had a third of the secondary moto's samples (py-spy, benchmarks/NOTES.md). AWS's
endpoints keep connections open, and botocore pools them.

``keep_alive_handler`` reads a request's whole body (``Content-Length``) before the app
runs and hands the app that copy, so the socket always stands at the next request line
when the response is written and the connection can stay open. A request whose length
is not known up front (``Transfer-Encoding: chunked``) or whose client asks to close is
served as werkzeug serves it, on a connection that then closes. Header names, statuses
and bodies are werkzeug's, unchanged (a server that rewrites header names, as waitress
capitalizes them, changes S3's metadata keys).
"""

import io

from werkzeug.serving import WSGIRequestHandler

# Seconds an idle kept-alive connection holds its thread before the server closes it
# (werkzeug's handle() takes the timeout as a dropped connection): far above the gaps
# between one client's calls.
IDLE_TIMEOUT_S = 75.0


class KeepAliveRequestHandler(WSGIRequestHandler):
    """werkzeug's request handler, its connection kept open after requests of known length."""

    timeout = IDLE_TIMEOUT_S
    # The headers and the body go out in separate writes: with Nagle's algorithm on an
    # open connection the body waits for the client's delayed ACK (~40 ms).
    disable_nagle_algorithm = True
    _keep_open = False

    def run_wsgi(self) -> None:
        length = self.headers.get("Content-Length", "0").strip()
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        self._keep_open = not self.close_connection and not chunked and length.isdigit()
        if not self._keep_open:
            super().run_wsgi()
            return
        # http.server has answered an "Expect: 100-continue" already (parse_request);
        # werkzeug would answer it a second time, into the response.
        del self.headers["Expect"]
        socket_file = self.rfile
        # The app reads this copy; werkzeug's drain after the response finds it empty and
        # leaves the socket, and any next request on it, alone.
        self.rfile = io.BytesIO(socket_file.read(int(length)))
        try:
            super().run_wsgi()
        finally:
            self.rfile = socket_file
            if self.close_connection:  # werkzeug's error path closes it
                self._keep_open = False

    def send_header(self, keyword: str, value: str) -> None:
        if self._keep_open and keyword.lower() == "connection" and value.lower() == "close":
            return
        super().send_header(keyword, value)


def keep_alive_handler[H: WSGIRequestHandler](handler: type[H]) -> type[H]:
    """``handler`` (moto's, with its own environ) with HTTP/1.1 keep-alive."""
    return type(f"KeepAlive{handler.__name__}", (KeepAliveRequestHandler, handler), {})
