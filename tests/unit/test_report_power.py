"""What each check could have caught (issue 12 item 2): the figures, checked against the judge itself."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from reports import generate
from reports.judge import Status, judge_one
from reports.measurement import Measurement
from reports.power import (
    catch_probability,
    detectable_share,
    detection_text,
    fail_count,
    latency_detection,
    race_detection,
)
from reports.synthetic import healthy_load, healthy_race
from reports.thresholds import Threshold, ThresholdSet, load_thresholds


@pytest.fixture(scope="module")
def ts() -> ThresholdSet:
    return load_thresholds()


@pytest.fixture(scope="module")
def core(ts: ThresholdSet) -> Threshold:
    return next(t for t in ts.thresholds if t.name == "core_p95")  # p(95) < 500, min_samples 20


def test_fail_count_is_the_judges_rule() -> None:
    assert fail_count(20, 95, 20) == 2  # nearest rank 19 of 20: two samples over the limit fail it
    assert fail_count(200, 95, 20) == 11
    assert fail_count(1, 95, 20) is None  # one sample: its interval has no lower end, nothing can fail it
    assert fail_count(0, 95, 20) is None
    # under min_samples only a certain breach fails: more samples over the limit are needed
    assert (fail_count(19, 95, 20) or 0) > (fail_count(20, 95, 20) or 0)


def _judged_fail_rate(
    th: Threshold, ts: ThresholdSet, n: int, share: float, trials: int = 400, seed: int = 7
) -> float:
    """Fraction of simulated runs of n samples (`share` over the 500 ms limit) the judge fails."""
    rng = np.random.default_rng(seed)
    fails = 0
    for _ in range(trials):
        over = rng.random(n) < share
        values = np.where(over, rng.uniform(501, 900, n), rng.uniform(20, 480, n))
        fails += judge_one(th, ts, Measurement(values=values)).status == Status.FAIL
    return fails / trials


@pytest.mark.parametrize("n", [12, 40, 200])
def test_detectable_share_is_caught_95_percent_of_the_time_by_the_judge(
    core: Threshold, ts: ThresholdSet, n: int
) -> None:
    """The claim the report makes, checked by running the judge on simulated services."""
    count = fail_count(n, 95, core.min_samples)
    assert count is not None
    share = detectable_share(n, count)
    assert catch_probability(n, count, share) == pytest.approx(0.95, abs=1e-6)
    assert _judged_fail_rate(core, ts, n, share) == pytest.approx(0.95, abs=0.035)
    # and it is the smallest such share: at 70 % of it the judge misses clearly more often
    assert _judged_fail_rate(core, ts, n, share * 0.7) < 0.9


def test_detectable_p95_shifts_this_runs_shape(core: Threshold, ts: ThresholdSet) -> None:
    """A service whose P95 is at the reported value (this run shifted up) fails ~95 % of runs."""
    rng = np.random.default_rng(3)
    run = np.sort(rng.lognormal(4.5, 0.5, size=60))  # P95 ~ 200 ms: passes with margin
    d = latency_detection(core, run)
    assert d is not None and d["detectable"] is not None and d["detectable_share"] is not None
    assert d["detectable"] > 500
    shifted = run + (d["detectable"] - float(np.sort(run)[56]))  # nearest rank 57 of 60 is the P95
    fails = sum(
        judge_one(core, ts, Measurement(values=rng.choice(shifted, size=60))).status == Status.FAIL
        for _ in range(400)
    )
    assert fails / 400 == pytest.approx(0.95, abs=0.04)


def test_too_few_samples_catch_nothing(core: Threshold) -> None:
    d = latency_detection(core, np.array([30.0]))
    assert d is not None and d["detectable"] is None
    assert detection_text(d) == "nothing: 1 samples cannot fail it"


def test_race_chance() -> None:
    d = race_detection(20)
    assert d["chance"] == pytest.approx(1 - 0.9**20)  # 0.878
    assert d["rarest_caught"] == pytest.approx(1 - 0.05 ** (1 / 20))  # 0.139
    assert race_detection(200)["chance"] > 0.9999
    assert race_detection(0)["chance"] == 0.0
    assert "87.8% chance to show" in detection_text(d)


def test_every_output_shows_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("reports.render_html.CHARTS_ENABLED", False)
    out = io.StringIO()
    load = healthy_load().write(tmp_path / "load")
    race = healthy_race(trials=30).write(tmp_path / "race")
    assert generate(load, out=out) == 0
    assert generate(race, out=out) == 0
    text = out.getvalue()
    assert "could catch" in text and "over the limit (P95 >= " in text and "race in 10% of trials" in text
    doc = json.loads((load / "summary.json").read_text())
    core = next(c for c in doc["checks"] if c["name"] == "core_p95[POST /api/orders]")
    assert core["detection"]["kind"] == "latency" and core["detection"]["n"] == core["n"] == 200
    assert core["detection"]["detectable"] > 500
    assert not any(c["detection"] for c in doc["checks"] if c["metric"] == "http_req_failed")
    rdoc = json.loads((race / "summary.json").read_text())
    races = next(c for c in rdoc["checks"] if c["metric"] == "race_wrong_winner_trials")
    assert races["detection"]["trials"] == 30
    assert races["detection"]["chance"] == pytest.approx(1 - 0.9**30)
    for folder in (load, race):
        assert "could catch" in (folder / "summary.md").read_text()
        html = (folder / "report.html").read_text()
        assert "<th>could catch</th>" in html and "detection-note" in html
