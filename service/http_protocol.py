"""uvicorn's httptools protocol, answering the requests it rejects itself with our JSON error.

uvicorn answers a request its parser cannot read (``Content-Length: -1``, a broken request
line, bad header bytes) before the app sees it, with a plain-text 400. Clients of this API
expect one error shape everywhere (:mod:`service.errors`), so this protocol writes that shape.

This module is imported by every worker before it can answer uvicorn's health check (the
class travels in uvicorn's config), so it imports nothing heavy at module level.
"""

from __future__ import annotations

import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["JsonErrorHttpToolsProtocol"]

MESSAGE = (
    "the HTTP request could not be parsed (malformed request line, header or Content-Length); "
    "send a well-formed HTTP/1.1 request"
)


def bad_request_body() -> bytes:
    from service.errors import error_body  # loaded by the app already; here only on a 400

    body = {"error": error_body("bad_request", MESSAGE), "request_id": None}
    return json.dumps(body).encode()


class JsonErrorHttpToolsProtocol(HttpToolsProtocol):
    def send_400_response(self, msg: str) -> None:
        body = bad_request_body()
        content = [b"HTTP/1.1 400 Bad Request\r\n"]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                b"content-type: application/json\r\n",
                b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
                b"connection: close\r\n",
                b"\r\n",
                body,
            ]
        )
        self.transport.write(b"".join(content))
        self.transport.close()
