"""A request-body size limit enforced before anything reads, parses or authenticates the body.

A declared `Content-Length` above the limit is refused at once (the body is never read); a chunked
body is read up to the limit and refused as soon as it passes it. Either way: 413
`PAYLOAD_TOO_LARGE` with the one error body (errors.error_body), so a 10 MB document costs the
service no JSON parsing and no token check.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reference_service.errors import ApiError, error_body
from reference_service.responses import json_response


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self, scope: Scope) -> ApiError:
        return ApiError(
            413,
            "PAYLOAD_TOO_LARGE",
            f"Request body is larger than {self.max_bytes} bytes",
            details={"maxBytes": self.max_bytes},
            headers={"Connection": "close"},
        )

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        exc = self._too_large(scope)
        response = json_response(error_body(exc, scope.get("path", "")), exc.status, headers=exc.headers)
        await response(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                too_large = int(declared) > self.max_bytes
            except ValueError:
                too_large = False  # the server itself refuses a malformed Content-Length
            if too_large:
                await self._refuse(scope, receive, send)
                return
            await self.app(scope, receive, send)  # the server frames the body by its declared length
            return
        if b"chunked" not in headers.get(b"transfer-encoding", b"").lower():
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)
