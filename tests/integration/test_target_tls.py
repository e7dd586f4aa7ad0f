"""An https target with a self-signed certificate: refused by default, accepted with --ca-bundle or
--insecure, by the live check, the samplers (httpx) and the Locust users (FastHttpSession) alike."""

from __future__ import annotations

import os
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from harness.errors import InvalidInput
from harness.health_sampler import HealthSampler
from harness.processes import wait_until
from harness.target import Tls, check_live

# As in test_client_retries: no gevent monkey-patching in this pytest process, switch taken back.
_SET_HERE = "LOCUST_SKIP_MONKEY_PATCH" not in os.environ
os.environ.setdefault("LOCUST_SKIP_MONKEY_PATCH", "1")

from locust.env import Environment  # noqa: E402

from locustfiles.common.client import Call, make_session, request  # noqa: E402

if _SET_HERE:
    del os.environ["LOCUST_SKIP_MONKEY_PATCH"]


class _Live(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"status":"ok"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def https_target(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An https server on 127.0.0.1 with a fresh self-signed certificate: (base URL, its PEM)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout", str(key),
         "-out", str(cert), "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Live)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{httpd.server_address[1]}", cert
    httpd.shutdown()
    httpd.server_close()


def test_the_live_check_verifies_the_certificate_unless_told(https_target: tuple[str, Path]) -> None:
    url, cert = https_target
    with pytest.raises(InvalidInput, match=r"does not answer: .*CERTIFICATE_VERIFY_FAILED.*--insecure"):
        check_live(url, Tls())
    assert check_live(url, Tls(verify=False)) == 200
    assert check_live(url, Tls(ca_bundle=cert)) == 200


def _polled_statuses(url: str, out: Path, verify: bool) -> set[str]:
    sampler = HealthSampler(url, out, interval_s=0.1, endpoints={"live": "/health/live"}, verify=verify)
    sampler.start()
    try:
        assert wait_until(lambda: sampler.samples >= 2, timeout_s=20)
    finally:
        sampler.stop()
    return {line.split(",")[2] for line in out.read_text().splitlines()[1:]}


def test_the_health_sampler_uses_the_same_tls_setting(https_target: tuple[str, Path], tmp_path: Path) -> None:
    url, _ = https_target
    assert _polled_statuses(url, tmp_path / "verified.csv", verify=True) == {"0"}
    assert _polled_statuses(url, tmp_path / "insecure.csv", verify=False) == {"200"}


def test_the_locust_users_verify_the_certificate_unless_told(https_target: tuple[str, Path]) -> None:
    url, cert = https_target
    outcomes = {}
    settings: dict[str, tuple[bool, str | None]] = {
        "default": (True, None),
        "insecure": (False, None),
        "ca": (True, str(cert)),
    }
    for name, (verify, ca) in settings.items():
        session = make_session(
            Environment(), url, connections=1, timeout_s=5.0, tls_verify=verify, ca_bundle=ca
        )
        outcomes[name] = request(session, Call("health"), "GET", "/health/live").status
    assert outcomes == {"default": 0, "insecure": 200, "ca": 200}
