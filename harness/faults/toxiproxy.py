"""A client of Toxiproxy's HTTP API (default port 8474): the subset the harness drives.

`GET /version`, `GET/POST /proxies`, `GET/DELETE /proxies/{name}`, `GET/POST
/proxies/{name}/toxics`, `DELETE /proxies/{name}/toxics/{toxic}`, `POST /reset`. It speaks to a
real Toxiproxy server or to loadgate's own implementation of the same API
(`harness.faults.toxiproxy_server`): one code path for either. Every address it is given must be
on loopback: load and fault traffic never leave the machine.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from harness.errors import InvalidInput, RunFailed
from harness.faults.toxics import ProxyDoc, ToxicDoc, ToxicSpec

DEFAULT_URL = "http://127.0.0.1:8474"
TIMEOUT_S = 10.0


class ToxiproxyError(RunFailed):
    """Toxiproxy answered with an error (`status` and its `{"error": ...}` message)."""

    def __init__(self, status: int, message: str, what: str) -> None:
        super().__init__(f"{what}: Toxiproxy said {status} {message}")
        self.status = status
        self.message = message


class ToxiproxyUnavailable(RunFailed):
    """No Toxiproxy answers at the URL."""


def is_loopback(host: str) -> bool:
    """Whether `host` (a name or an address, IPv6 with or without brackets) is this machine's loopback."""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str) -> str:
    """`url` if it is an http URL on loopback (trailing slash dropped); InvalidInput otherwise."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise InvalidInput(f"--toxiproxy {url!r}: not a URL ({exc})") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidInput(f"--toxiproxy {url!r}: must look like {DEFAULT_URL}")
    if not is_loopback(parsed.host):
        raise InvalidInput(
            f"--toxiproxy {url}: Toxiproxy must be on loopback (127.0.0.1, localhost or [::1]); "
            "load and fault traffic stay on this machine"
        )
    return url.rstrip("/")


def check_listen(listen: str) -> str:
    """`listen` if it is `host:port` on loopback; InvalidInput otherwise."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not is_loopback(host):
        raise InvalidInput(
            f"listen address {listen!r}: must be a loopback host:port such as 127.0.0.1:0 "
            "(load and fault traffic stay on this machine)"
        )
    return listen


@dataclass(frozen=True)
class ProxyInfo:
    """A proxy as Toxiproxy describes it; `listen` has the real port when 0 was asked for."""

    name: str
    listen: str
    upstream: str
    enabled: bool
    toxics: list[ToxicDoc] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: ProxyDoc) -> ProxyInfo:
        return cls(
            name=str(data["name"]),
            listen=str(data["listen"]),
            upstream=str(data["upstream"]),
            enabled=bool(data.get("enabled", True)),
            toxics=list(data.get("toxics") or []),
        )

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")


class ToxiproxyClient:
    """Toxiproxy's HTTP API at `url` (loopback only); use as a context manager or `close()` it."""

    def __init__(self, url: str = DEFAULT_URL, *, timeout_s: float = TIMEOUT_S) -> None:
        self.url = check_url(url)
        # A User-Agent of our own: Toxiproxy refuses browsers' ("Mozilla/...") with a 403.
        self._http = httpx.Client(
            base_url=self.url, timeout=timeout_s, headers={"User-Agent": "loadgate-toxiproxy-client"}
        )

    def __enter__(self) -> ToxiproxyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def _request(
        self, method: str, path: str, what: str, body: Mapping[str, object] | None = None
    ) -> httpx.Response:
        try:
            response = self._http.request(method, path, json=body)
        except httpx.TransportError as exc:
            raise ToxiproxyUnavailable(
                f"{what}: no Toxiproxy answers at {self.url} ({type(exc).__name__}: {exc})"
            ) from None
        if response.status_code >= 400:
            raise ToxiproxyError(response.status_code, _message(response), what)
        return response

    def version(self) -> str:
        """The server's version (`{"version": "2.9.0"}`; servers before 2.2 answered plain text)."""
        response = self._request("GET", "/version", "version")
        try:
            data = response.json()
        except json.JSONDecodeError:
            return response.text.strip()
        return str(data.get("version", "")) if isinstance(data, dict) else str(data)

    def proxies(self) -> dict[str, ProxyInfo]:
        """Every proxy by name, with its toxics."""
        data = self._request("GET", "/proxies", "listing proxies").json()
        return {name: ProxyInfo.from_json(value) for name, value in data.items()}

    def create_proxy(
        self, name: str, upstream: str, listen: str = "127.0.0.1:0", *, enabled: bool = True
    ) -> ProxyInfo:
        """Create a proxy listening on `listen` (loopback; port 0: any free one) in front of `upstream`."""
        check_listen(listen)
        body = {"name": name, "listen": listen, "upstream": upstream, "enabled": enabled}
        response = self._request("POST", "/proxies", f"creating proxy {name}", body)
        return ProxyInfo.from_json(response.json())

    def get_proxy(self, name: str) -> ProxyInfo:
        """One proxy, with its toxics."""
        return ProxyInfo.from_json(self._request("GET", f"/proxies/{name}", f"proxy {name}").json())

    def delete_proxy(self, name: str) -> None:
        """Delete a proxy (its listener closes, its connections end)."""
        self._request("DELETE", f"/proxies/{name}", f"deleting proxy {name}")

    def toxics(self, proxy: str) -> list[ToxicDoc]:
        """The toxics active on `proxy`."""
        data = self._request("GET", f"/proxies/{proxy}/toxics", f"toxics of {proxy}").json()
        return list(data)

    def add_toxic(self, proxy: str, toxic: ToxicSpec) -> ToxicDoc:
        """Add a toxic; return it as the server describes it."""
        body = toxic.to_json()
        response = self._request(
            "POST", f"/proxies/{proxy}/toxics", f"adding toxic {toxic.name} to {proxy}", body
        )
        doc: ToxicDoc = response.json()  # the server's answer, in its API's shape
        return doc

    def remove_toxic(self, proxy: str, toxic: str) -> None:
        """Remove a toxic by name."""
        self._request("DELETE", f"/proxies/{proxy}/toxics/{toxic}", f"removing toxic {toxic} from {proxy}")

    def reset(self) -> None:
        """Enable every proxy and remove every toxic (on every proxy of the server)."""
        self._request("POST", "/reset", "reset")


def _message(response: httpx.Response) -> str:
    # Toxiproxy sends `{"error": ..., "status": ...}` (as text/plain: Go's http.Error); anything
    # else (a proxy in between, a 404 from a wrong URL) is shown as it came.
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.text.strip()[:200]
    if isinstance(data, dict) and "error" in data:
        return str(data["error"])
    return response.text.strip()[:200]


def probe(url: str) -> str:
    """The version of the Toxiproxy at `url`; a clear error when it is not on loopback or not answering."""
    with ToxiproxyClient(url, timeout_s=5.0) as client:
        try:
            return client.version()
        except ToxiproxyUnavailable as exc:
            raise ToxiproxyUnavailable(
                f"--toxiproxy {client.url}: no Toxiproxy answers there ({exc}); start it, or leave "
                "--toxiproxy (and TOXIPROXY_URL) out to use loadgate's own proxy"
            ) from None
        except ToxiproxyError as exc:
            raise ToxiproxyUnavailable(
                f"--toxiproxy {client.url}: GET /version answered {exc.status}: is it Toxiproxy?"
            ) from None
