"""DEFECTS: the deliberately broken configurations are opt-in, named, and validated."""

from __future__ import annotations

import pytest

from reference_service.config import ConfigError, load

URL = {"DATABASE_URL": "postgresql://u@127.0.0.1/db"}


def test_no_defect_unless_asked() -> None:
    settings = load(URL)
    assert settings.defects == frozenset()
    assert not settings.has_defect("ack_before_commit")


def test_defects_are_a_comma_list() -> None:
    settings = load({**URL, "DEFECTS": " ack_before_commit, no_reconnect ,"})
    assert settings.defects == {"ack_before_commit", "no_reconnect"}
    assert settings.has_defect("no_reconnect")


def test_unknown_defect_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"\['ack_before_comit'\].*ack_before_commit, no_reconnect"):
        load({**URL, "DEFECTS": "ack_before_comit"})
