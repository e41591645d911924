"""The report renders in a real browser: headless Chromium (driven by Playwright) opens the file, every chart is
there and drawn, nothing is fetched from the network and no script error occurs. A full-page screenshot is kept
in ``test-reports/report/`` (collected by CI) next to a copy of the page.

Needs the Debian package ``chromium`` (scripts/bootstrap.sh installs it as root); Playwright drives that binary,
it never downloads a browser of its own. A missing Chromium fails the test, except where the run says it has no
browser on purpose (``MUSICLAKE_BROWSER_TESTS=skip``: the Glue image, see docker/glue/run-tests.sh).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from musiclake.report.build import CHARTS

REPO = Path(__file__).resolve().parents[2]
ARTEFACTS = REPO / "test-reports" / "report"
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]


def find_chromium() -> str | None:
    """``$MUSICLAKE_CHROMIUM``, else ``chromium`` / ``chromium-browser`` on the PATH."""
    configured = os.environ.get("MUSICLAKE_CHROMIUM")
    if configured:
        return configured
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser():
    if os.environ.get("MUSICLAKE_BROWSER_TESTS") == "skip":
        pytest.skip("no browser in this run (MUSICLAKE_BROWSER_TESTS=skip)")
    from playwright import sync_api

    executable = find_chromium()
    if executable is None:
        pytest.fail("no Chromium on this machine: apt-get install chromium (scripts/bootstrap.sh does as root), "
                    "or set MUSICLAKE_CHROMIUM to its path")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


def test_every_chart_renders_in_headless_chromium(browser, full_report: Path) -> None:
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors: list[str] = []
    requests: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("request", lambda request: requests.append(request.url))

    page.goto(full_report.as_uri(), wait_until="load")
    charts = page.eval_on_selector_all(
        "figure.chart",
        """figures => figures.map(f => {
            const img = f.querySelector('img');
            const box = f.getBoundingClientRect();
            return {key: f.dataset.chart, complete: !!img && img.complete, width: img ? img.naturalWidth : 0,
                    height: img ? img.naturalHeight : 0, shown: box.width > 0 && box.height > 0};
        })""",
    )
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / "report.png"), full_page=True)
    shutil.copyfile(full_report, ARTEFACTS / "report.html")
    page.close()

    assert [chart["key"] for chart in charts] == list(CHARTS)
    for chart in charts:
        assert chart["complete"] and chart["width"] > 200 and chart["height"] > 100 and chart["shown"], chart
    assert errors == []
    assert [url for url in requests if not url.startswith(("file:", "data:"))] == []
    assert (ARTEFACTS / "report.png").stat().st_size > 50_000
