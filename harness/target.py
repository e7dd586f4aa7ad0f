"""The backend a `--target` run sends load to: its URL checked, its TLS settings, and a live check.

A target is any http(s) base URL a user names (a staging server, a team's own service). Before
anything starts, the URL is validated (`parse_target`) and `GET /health/live` must answer 2xx
(`check_live`), so a typo or a down backend is a clear exit 2 rather than a run of connection
errors. TLS is verified by default; `Tls(verify=False)` (`--insecure`) skips it and
`Tls(ca_bundle=PATH)` (`--ca-bundle`) trusts a private CA, everywhere the harness speaks HTTP to
the target: the samplers (httpx) and the Locust users (`locustfiles.common.client`, from plan.json).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from harness.errors import InvalidInput
from loadgate_contract.plan import TlsDoc

LIVE_PATH = "/health/live"
LIVE_TIMEOUT_S = 5.0


def parse_target(url: str) -> str:
    """`url` as a base URL (`scheme://host[:port]`, no trailing slash); InvalidInput says what is wrong."""
    where = f"--target {url!r}"
    try:
        parts = urlsplit(url.strip())
        port = parts.port  # raises ValueError on a non-numeric or out-of-range port
    except ValueError as exc:
        raise InvalidInput(f"{where}: not a URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise InvalidInput(f"{where}: the scheme must be http or https (e.g. https://staging.example.com)")
    if not parts.hostname:
        raise InvalidInput(f"{where}: no host (e.g. http://127.0.0.1:8000)")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput(f"{where}: no credentials in the URL (users log in from the fixtures file)")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise InvalidInput(
            f"{where}: give the service's base URL only (scheme, host, port): no path, query or "
            "fragment; the flows add /api/... themselves"
        )
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


@dataclass(frozen=True)
class Tls:
    """How the harness checks the target's certificate (plain http ignores it)."""

    verify: bool = True
    ca_bundle: Path | None = None

    def __post_init__(self) -> None:
        if self.ca_bundle is not None and not self.verify:
            raise InvalidInput("--ca-bundle and --insecure contradict each other: give one")
        if self.ca_bundle is not None and not Path(self.ca_bundle).is_file():
            raise InvalidInput(f"--ca-bundle {self.ca_bundle}: no such file")

    def httpx_verify(self) -> bool | ssl.SSLContext:
        """The `verify=` argument for an httpx client."""
        if not self.verify:
            return False
        return ssl.create_default_context(cafile=str(self.ca_bundle)) if self.ca_bundle else True

    def describe(self) -> str:
        """How the certificate is checked, for the console."""
        if not self.verify:
            return "not verified (--insecure)"
        return f"verified against {self.ca_bundle}" if self.ca_bundle else "verified"

    def to_plan(self) -> TlsDoc:
        """The plan.json `tls` table the Locust processes read."""
        return {"verify": self.verify, "ca_bundle": str(self.ca_bundle) if self.ca_bundle else None}


def check_live(base_url: str, tls: Tls, *, timeout_s: float = LIVE_TIMEOUT_S) -> int:
    """`GET base_url/health/live` must answer 2xx within `timeout_s`; InvalidInput names URL and failure."""
    url = base_url + LIVE_PATH
    try:
        with httpx.Client(timeout=timeout_s, verify=tls.httpx_verify()) as client:
            status = client.get(url).status_code
    except httpx.HTTPError as exc:
        hint = ""
        if "CERTIFICATE_VERIFY_FAILED" in str(exc):
            hint = " (a self-signed or private CA: --ca-bundle PATH, or --insecure to skip verification)"
        raise InvalidInput(f"--target: {url} does not answer: {type(exc).__name__}: {exc}{hint}") from None
    if not 200 <= status < 300:
        raise InvalidInput(f"--target: {url} answered {status}, not 2xx: is the service up at that URL?")
    return status
