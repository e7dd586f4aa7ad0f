"""`--target` URLs: what is accepted, what is refused and why; the TLS settings' forms."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import InvalidInput
from harness.target import Tls, parse_target


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://127.0.0.1:8000/", "http://127.0.0.1:8000"),
        ("https://staging.example.com", "https://staging.example.com"),
        ("HTTPS://Staging.Example.com:8443/", "https://staging.example.com:8443"),
        ("http://10.213.7.2:8080", "http://10.213.7.2:8080"),
        ("http://[::1]:9000", "http://[::1]:9000"),
        ("  http://localhost:8000  ", "http://localhost:8000"),
    ],
)
def test_any_http_or_https_base_url_is_a_target(url: str, base: str) -> None:
    assert parse_target(url) == base


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://example.com", "scheme must be http or https"),
        ("example.com:8000", "scheme must be http or https"),
        ("127.0.0.1:8000", "scheme must be http or https"),
        ("http://", "no host"),
        ("http://:8000", "no host"),
        ("http://example.com:port", "not a URL"),
        ("http://example.com:99999", "not a URL"),
        ("http://example.com/api", "no path, query or fragment"),
        ("http://example.com/?x=1", "no path, query or fragment"),
        ("http://example.com#top", "no path, query or fragment"),
        ("https://user:secret@example.com", "no credentials"),
    ],
)
def test_bad_targets_are_refused_with_the_reason(url: str, why: str) -> None:
    with pytest.raises(InvalidInput, match=why) as info:
        parse_target(url)
    assert str(info.value).startswith(f"--target {url!r}")


def test_tls_settings(tmp_path: Path) -> None:
    assert Tls().httpx_verify() is True and Tls().to_plan() == {"verify": True, "ca_bundle": None}
    assert Tls(verify=False).httpx_verify() is False
    with pytest.raises(InvalidInput, match="no such file"):
        Tls(ca_bundle=tmp_path / "missing.pem")
    with pytest.raises(InvalidInput, match="contradict"):
        Tls(verify=False, ca_bundle=tmp_path / "missing.pem")
