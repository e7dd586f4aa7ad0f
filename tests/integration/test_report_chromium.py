"""Render a run's report.html in headless Chromium: the verdict shows, every chart decodes, no console errors.

The page's own inline script sets `<body data-charts-loaded="ok:N">` after checking that every
chart image decoded (`naturalWidth > 0`), or `broken:<ids>`; `--dump-dom` returns the DOM after
the load event, so the test reads that attribute. Console errors reach stderr with
`--enable-logging=stderr`. `LOADGATE_REPORT_RUN` points the test at a real run folder instead of
the synthetic one.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from reports import generate
from reports.synthetic import healthy_load

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.chromium,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt package `chromium`)"),
]


def _run_dir(tmp_path: Path) -> Path:
    real = os.environ.get("LOADGATE_REPORT_RUN")
    if real:
        target = tmp_path / "run"
        shutil.copytree(real, target)
        return target
    run = healthy_load()
    run.add_requests("POST /api/orders", np.full(60, 900.0), status=201)
    run.add_requests(
        "POST /api/shipping/assignments/{id}/accept",
        np.full(5, 20.0),
        status=409,
        error_code="ASSIGNMENT_LOCKED",
    )
    return run.write(tmp_path / "run")


def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    assert CHROMIUM is not None
    run_dir = _run_dir(tmp_path)
    code = generate(run_dir, out=io.StringIO())
    assert code in (0, 1)
    html = (run_dir / "report.html").read_text()
    n_charts = html.count('<img class="chart"')
    assert n_charts >= 3
    proc = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            (run_dir / "report.html").resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    m = re.search(r'data-charts-loaded="([^"]*)"', dom)
    assert m is not None, "the page's script did not run"
    assert m.group(1) == f"ok:{n_charts}"
    assert ("FAIL" if code == 1 else "PASS") in dom and 'id="verdict"' in dom
    console = [ln for ln in proc.stderr.splitlines() if "CONSOLE" in ln or "Uncaught" in ln]
    assert not console, console
