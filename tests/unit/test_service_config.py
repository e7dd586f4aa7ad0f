"""The reference service's settings: what the environment may say and what it may not."""

from __future__ import annotations

import pytest

from reference_service.config import ConfigError, load

URL = {"DATABASE_URL": "postgresql://u@127.0.0.1/db"}


def test_race_window_defaults_to_none_and_reads_milliseconds() -> None:
    assert load(URL).race_window_ms == 0.0
    assert load({**URL, "RACE_WINDOW_MS": "25"}).race_window_ms == 25.0


@pytest.mark.parametrize("raw", ["-1", "soon"])
def test_race_window_rejects_what_is_not_a_duration(raw: str) -> None:
    with pytest.raises(ConfigError, match="RACE_WINDOW_MS"):
        load({**URL, "RACE_WINDOW_MS": raw})


def test_unknown_safeguard_is_named_with_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"\['assignment_locks'\].*assignment_lock, order_status_lock"):
        load({**URL, "SAFEGUARDS_OFF": "assignment_locks"})


def test_token_secret_is_random_per_start_unless_given() -> None:
    first, second = load(URL).token_secret, load(URL).token_secret
    assert first != second and len(first) >= 32
    assert "loadgate-dev-secret" not in (first, second)
    assert load({**URL, "TOKEN_SECRET": "given"}).token_secret == "given"


def test_token_lifetime_is_an_hour_and_bounded() -> None:
    assert load(URL).token_ttl_s == 3600
    assert load({**URL, "TOKEN_TTL_S": "2"}).token_ttl_s == 2
    for raw in ("0", str(30 * 24 * 3600)):
        with pytest.raises(ConfigError, match="TOKEN_TTL_S"):
            load({**URL, "TOKEN_TTL_S": raw})
