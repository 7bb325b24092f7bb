"""The browser door's HTTP pages: the chat page from `web/`, and /metrics.

Every file of `examples/chat/web/` is read once, at start, so a request is a
dictionary lookup in the reader that received it: nothing here touches the
disk or blocks. The handler answers GET and HEAD; `/chat` never reaches it
(the WebSocket door upgrades it first).
"""

from __future__ import annotations

import hashlib
import mimetypes
from pathlib import Path
from typing import TYPE_CHECKING

from protocols.http import Request, Response

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["WEB_ROOT", "Pages"]

#: The page's files: HTML, CSS and plain JavaScript, no build step.
WEB_ROOT = Path(__file__).with_name("web")

#: Largest file served, in bytes: the page is a few tens of KiB; anything near
#: this in web/ is a mistake, not an asset.
MAX_FILE_SIZE = 1024 * 1024

# Same-origin everything: the page loads nothing from elsewhere and connects
# only to its own /chat.
_SECURITY_HEADERS = (
    ("content-security-policy", "default-src 'self'; connect-src 'self'; img-src 'self' data:"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
)

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
}


class Pages:
    """HTTP handler for the browser door (a `protocols.http.Handler`).

    Args:
        root: Folder whose files are served by name; `/` serves `index.html`.
        metrics: Renders /metrics (Prometheus text) and its content type, or None for no
            /metrics page.
    """

    def __init__(
        self,
        root: Path = WEB_ROOT,
        *,
        metrics: tuple[Callable[[], bytes], str] | None = None,
    ) -> None:
        self._files: dict[str, Response] = {}
        for path in sorted(root.iterdir()):
            if path.is_file() and not path.name.startswith("."):
                self._files["/" + path.name] = _file_response(path)
        if "/index.html" in self._files:
            self._files["/"] = self._files["/index.html"]
        self._metrics = metrics

    def __call__(self, request: Request) -> Response:
        """Answer one request."""
        if request.method not in ("GET", "HEAD"):
            return Response.text(405, "only GET and HEAD are served here\n", ("allow", "GET, HEAD"))
        path = request.path
        if path == "/metrics" and self._metrics is not None:
            render, content_type = self._metrics
            headers = (("content-type", content_type), ("cache-control", "no-store"))
            return Response(200, headers, render())
        response = self._files.get(path)
        if response is None:
            return Response.text(404, f"no page at {path}; the chat is at /\n")
        etag = dict(response.headers)["etag"]
        if request.header("if-none-match") == etag:
            return Response(304, (("etag", etag),))
        return response


def _file_response(path: Path) -> Response:
    body = path.read_bytes()
    if len(body) > MAX_FILE_SIZE:
        raise ValueError(
            f"{path} is {len(body)} bytes; the page's files stay under {MAX_FILE_SIZE}"
        )
    content_type = _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0]
    etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
    headers = (
        ("content-type", content_type or "application/octet-stream"),
        ("cache-control", "no-cache"),
        ("etag", etag),
        *_SECURITY_HEADERS,
    )
    return Response(200, headers, body)
