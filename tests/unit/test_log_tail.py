"""`--service-log`: the lines a target service writes during the run, and only those, reach the run folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import InvalidInput
from harness.log_tail import LogTail


def _tail(tmp_path: Path) -> tuple[Path, Path, LogTail]:
    source, dest = tmp_path / "their.jsonl", tmp_path / "run" / "service.jsonl"
    dest.parent.mkdir()
    source.write_text('{"before": 1}\n')
    tail = LogTail(source, dest, poll_s=3600)  # copies only when asked: no timing in the test
    tail.start()
    return source, dest, tail


def _append(tail: LogTail, text: str) -> None:
    """What the service writes, then one poll of the tail."""
    with open(tail.source, "a") as log:
        log.write(text)
    tail.copy_new()


def test_only_complete_lines_written_after_the_start_are_copied(tmp_path: Path) -> None:
    _, dest, tail = _tail(tmp_path)
    try:
        _append(tail, '{"a": 1}\n{"b": ')
        assert dest.read_text() == '{"a": 1}\n'
        _append(tail, "2}\n")
        assert dest.read_text() == '{"a": 1}\n{"b": 2}\n'
        assert tail.lines == 2
    finally:
        tail.stop()


def test_a_rotated_or_truncated_log_is_read_again_from_its_start(tmp_path: Path) -> None:
    source, dest, tail = _tail(tmp_path)
    try:
        _append(tail, '{"old": 1}\n')
        source.rename(tmp_path / "their.jsonl.1")
        source.write_text('{"new": 1}\n')
        tail.copy_new()
        source.write_text("")  # truncated in place (copytruncate)
        tail.copy_new()
        _append(tail, '{"after": 1}\n')
        assert dest.read_text().splitlines() == ['{"old": 1}', '{"new": 1}', '{"after": 1}']
    finally:
        tail.stop()


def test_stop_copies_what_was_written_last(tmp_path: Path) -> None:
    source, dest, tail = _tail(tmp_path)
    with open(source, "a") as log:
        log.write('{"last": 1}\n')
    tail.stop()
    assert dest.read_text() == '{"last": 1}\n'


def test_a_missing_log_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"--service-log .*nothing\.jsonl: no such file"):
        LogTail(tmp_path / "nothing.jsonl", tmp_path / "service.jsonl")
