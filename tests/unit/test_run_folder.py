from __future__ import annotations

import json
import os
from pathlib import Path

from harness.run_folder import RunRecord, new_run_dir, point_latest, utc_stamp


def test_run_dirs_are_unique_within_one_second(tmp_path: Path) -> None:
    first = new_run_dir("peak_200", parent=tmp_path)
    second = new_run_dir("peak_200", parent=tmp_path)
    assert first != second
    assert first.name.startswith("peak_200-") and first.is_dir() and second.is_dir()


def test_latest_points_at_the_newest_run_relatively(tmp_path: Path) -> None:
    old = new_run_dir("a", parent=tmp_path)
    point_latest(old, parent=tmp_path)
    new = new_run_dir("b", parent=tmp_path)
    point_latest(new, parent=tmp_path)
    link = tmp_path / "latest"
    assert link.resolve() == new.resolve()
    assert not os.path.isabs(os.readlink(link))


def test_record_is_always_readable_json(tmp_path: Path) -> None:
    record = RunRecord(tmp_path, {"status": "running"})
    record.save()
    record.add_error("the service exited")
    record.update(status="incomplete")
    data = json.loads((tmp_path / "run.json").read_text())
    assert data["status"] == "incomplete"
    assert data["errors"][0]["message"] == "the service exited"
    assert not list(tmp_path.glob(".*.tmp"))


def test_utc_stamp_sorts_as_time_does() -> None:
    assert utc_stamp(0) == "19700101T000000Z"
    assert utc_stamp(1) < utc_stamp(60) < utc_stamp(3600)
