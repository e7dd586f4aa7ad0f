"""`python -m reference_service`: read the environment, serve with uvicorn.

uvloop and httptools when installed (project dependencies): measured under the capacity mix they
cut the service's CPU per request by about a fifth against asyncio + h11 (BENCHMARKS.md). Without
them (a platform with no wheel) the service still runs, on the pure-Python pair.
"""

from __future__ import annotations

import importlib.util
import sys

import uvicorn

from reference_service.app import create_app
from reference_service.config import ConfigError, load


def main() -> int:
    try:
        settings = load()
    except ConfigError as exc:
        print(f"reference_service: configuration error: {exc}", file=sys.stderr)
        return 2
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    app = create_app(settings, server={"loop": loop, "http": http})
    config = uvicorn.Config(
        app,
        loop=loop,
        http=http,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    uvicorn.Server(config).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
