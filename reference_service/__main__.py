"""`python -m reference_service`: read the environment, serve with uvicorn."""

from __future__ import annotations

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
    app = create_app(settings)
    config = uvicorn.Config(
        app,
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
