"""Headless Chromium for the browser tests: Debian's chromium + chromedriver driven by selenium.

One way to start the browser (the flags this closed network needs), wait for the page, find
elements, take a whole-page screenshot and read the console, shared by every browser test.
"""

from __future__ import annotations

import base64
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver") or ("/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None)
NEEDS_CHROMIUM = [
    pytest.mark.chromium,
    pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None,
                       reason="chromium and chromedriver are needed (apt-get install chromium chromium-driver)"),
]
# flags for a headless run here: no sandbox as root, no GPU, and no background connections
# (this machine's network is closed: Chromium would try Google's hosts at every start)
BASE_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync")


def start_chromium(*, window: tuple[int, int] = (1280, 1000), args: tuple[str, ...] = (), prefs: dict | None = None):
    """A new headless Chromium with an empty profile (removed by `quit_chromium`)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager look for drivers online
    profile = tempfile.mkdtemp(prefix="vt-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in (*BASE_ARGS, f"--user-data-dir={profile}", f"--window-size={window[0]},{window[1]}", *args):
        opts.add_argument(arg)
    if prefs:
        opts.add_experimental_option("prefs", prefs)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(30)
    driver.profile_dir = profile
    return driver


def quit_chromium(driver) -> None:
    driver.quit()
    shutil.rmtree(driver.profile_dir, ignore_errors=True)


def wait_for(cond, timeout_s: float, what: str, step_s: float = 0.1):
    """`cond()`'s first true value, or an AssertionError naming `what` after `timeout_s`."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        value = cond()
        if value:
            return value
        time.sleep(step_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def css(driver, sel: str):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, sel)


def screenshot(driver, shots: Path, name: str, *, full: bool = True) -> Path:
    """A screenshot; `full`: the whole page (up to 6000 px), not just the first screen."""
    path = shots / f"{name}.png"
    if not full:
        driver.save_screenshot(str(path))
        return path
    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = metrics.get("cssContentSize") or metrics["contentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 6000), "scale": 1}
    data = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip})
    path.write_bytes(base64.b64decode(data["data"]))
    return path


def console_errors(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")
            and "favicon" not in e["message"]]


def screenshots_dir(tmp_path_factory) -> Path:
    """``$VOICETRAINER_SCREENSHOTS``, else a temp folder of the test run."""
    env = os.environ.get("VOICETRAINER_SCREENSHOTS")
    d = Path(env) if env else tmp_path_factory.mktemp("screenshots")
    d.mkdir(parents=True, exist_ok=True)
    return d
