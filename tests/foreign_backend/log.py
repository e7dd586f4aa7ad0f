"""A plain-text log, one human line per request or event (deliberately not JSON)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

LOGGER = logging.getLogger("foreign_backend")


def setup(log_file: Path | None) -> logging.Logger:
    """Log `2026-12-01 10:00:00,123 INFO POST /api/orders 201 12.3ms` lines to the file (or stderr)."""
    handler: logging.Handler = (
        logging.FileHandler(log_file, encoding="utf-8") if log_file else logging.StreamHandler(sys.stderr)
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    LOGGER.handlers[:] = [handler]
    LOGGER.setLevel(logging.INFO)
    LOGGER.propagate = False
    return LOGGER
