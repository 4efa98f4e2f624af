"""``fastfib report``'s page in a real headless browser: Debian's Chromium, driven by Selenium.

One browser for the module. The page (conftest's ``report_of_samples``) is made from
every sample document plus a free-threaded variant of the scale run (so an overlay
is drawn), then loaded
from a file:// address with every host name unresolvable: it must load with no
console error and no request at all (a self-contained page fetches nothing),
show one table per run and one plot per run that has one, fit a phone's width
without scrolling sideways, and print. The screenshots (desktop and phone) and the
printed PDF are kept in results/report-browser/ of the checkout, their paths printed.

Skipped, with the reason, where Selenium, chromium or chromedriver is missing
(``make test`` installs them as root with apt-get: see the Makefile's browser
step). Selenium is given both paths, so Selenium Manager downloads nothing.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
from pathlib import Path

import pytest

from report_pages import UNPLOTTED

pytestmark = pytest.mark.timeout(180)

PHONE = (390, 844)  # CSS pixels of a common phone
ROOT = Path(__file__).resolve().parents[1]


def _find(*names: str) -> str | None:
    return next((found for found in map(shutil.which, names) if found), None)


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install 'fastfib[test]')")
    from selenium.webdriver.chrome.service import Service

    chromium = _find("chromium", "chromium-browser", "google-chrome")
    driver_path = _find("chromedriver")
    if chromium is None or driver_path is None:
        pytest.skip("needs chromium and chromedriver on PATH (Debian: apt-get install chromium chromium-driver; "
                    "`make test` installs them when run as root)")
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager: never download a browser or a driver
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--host-resolver-rules=MAP * ~NOTFOUND", "--window-size=1280,900", "--hide-scrollbars"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _artefacts(tmp_path_factory) -> Path:
    """Where the screenshots stay: results/report-browser/ in a checkout (ignored by git, and not
    cleaned up as pytest's old temporary folders are), else a temporary folder."""
    if (ROOT / "pyproject.toml").is_file() and os.access(ROOT, os.W_OK):
        folder = ROOT / "results" / "report-browser"
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    return tmp_path_factory.mktemp("report-browser")


def _screenshot(driver, path) -> None:
    """The whole page, not only the window (Chrome's DevTools capture beyond the viewport)."""
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
    path.write_bytes(base64.b64decode(shot["data"]))


def _network_events(driver) -> list[dict]:
    events = [json.loads(entry["message"])["message"] for entry in driver.get_log("performance")]
    return [event for event in events if event.get("method", "").startswith("Network.")]


def test_the_report_loads_cleanly_in_chromium(browser, report_of_samples, tmp_path_factory, capsys):
    inputs, page = report_of_samples  # every sample document, and a free-threaded variant of the scale run
    folder = _artefacts(tmp_path_factory)

    browser.get_log("browser"), browser.get_log("performance")  # start both logs empty
    browser.get(page.as_uri())
    assert browser.execute_script("return document.readyState") == "complete"
    assert browser.title == "fastfib report"

    console = [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]
    assert console == []
    events = _network_events(browser)
    failed = [e for e in events if e["method"] == "Network.loadingFailed"]
    bad = [e for e in events if e["method"] == "Network.responseReceived" and e["params"]["response"]["status"] >= 400]
    assert failed == [] and bad == []
    fetched = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert fetched == []  # nothing beyond the page itself

    count = lambda selector: browser.execute_script(f"return document.querySelectorAll({selector!r}).length")  # noqa: E731
    plotted = [path for path in inputs if path.name not in UNPLOTTED]
    assert count("section.run") == len(inputs)
    assert count("section.run table.main") == len(inputs)
    assert count("section.run svg.plot") == len(plotted)
    # Overlays: the two scale runs (sample and its 3.13t variant), each with its plot and table.
    assert count("section.overlay") == 1
    assert count("section.overlay svg.plot") == 1 and count("section.overlay table.overlay-table") == 1
    # Every plot is drawn at a real size (an inline SVG that failed would be 0 x 0).
    sizes = browser.execute_script(
        "return [...document.querySelectorAll('svg.plot')].map(s => s.getBoundingClientRect().height)")
    assert all(height > 100 for height in sizes), sizes
    desktop = folder / "report-desktop.png"
    _screenshot(browser, desktop)

    browser.set_window_size(*PHONE)
    # Wide tables scroll inside their own box: the page itself never scrolls sideways.
    overflow = browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"the page is {overflow} px wider than a phone's screen"
    phone = folder / "report-phone.png"
    _screenshot(browser, phone)

    pdf = base64.b64decode(browser.print_page())
    assert pdf.startswith(b"%PDF")
    (folder / "report.pdf").write_bytes(pdf)
    assert desktop.stat().st_size > 10_000 and phone.stat().st_size > 10_000
    with capsys.disabled():
        print(f"\nfastfib report in Chromium: screenshots {desktop} and {phone}; printed to {folder / 'report.pdf'}")
