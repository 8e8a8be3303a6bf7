"""End to end in headless Chromium: the console served by uvicorn from the control plane's
app (tests.ui.stack in a subprocess, with a real agent and the sim venue), driven by selenium.

Skips, saying why, when Debian's chromium/chromium-driver or selenium are missing; CI installs
them. Screenshots of every page go to tests/artifacts/console/.
"""

from __future__ import annotations

import os
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ui.stack import PASSWORD, USERNAME

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts" / "console"
CHROMIUM = ("chromium", "chromium-browser", "google-chrome")


def _missing() -> str:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed"
    if not any(shutil.which(b) for b in CHROMIUM):
        return "no chromium binary (apt-get install chromium chromium-driver)"
    if not shutil.which("chromedriver"):
        return "no chromedriver (apt-get install chromium-driver)"
    return ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, int]]:
    port = _free_port()
    storage = tempfile.mkdtemp(prefix="nicegui-browser-test-")  # not .nicegui/ in the repo
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NICEGUI_STORAGE_PATH": storage}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.ui.stack", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + 30
    line = ""
    while time.monotonic() < deadline and proc.poll() is None:
        if sel.select(timeout=0.5):
            line = proc.stdout.readline()
            if line.startswith("READY"):
                break
    if not line.startswith("READY"):
        proc.kill()
        pytest.fail(f"the console server did not start (exit {proc.poll()})")
    bot_id = int(line.rsplit("bot=", 1)[1])
    try:
        yield f"http://127.0.0.1:{port}", bot_id
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(storage, ignore_errors=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    why = _missing()
    if why:
        print(f"browser test skipped: {why}")
        pytest.skip(why)
    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager download anything
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        opts.add_argument(arg)
    opts.add_argument("--window-size=1400,1800")
    binary = next(shutil.which(b) for b in CHROMIUM if shutil.which(b))
    opts.binary_location = str(binary)
    driver = webdriver.Chrome(options=opts, service=Service(shutil.which("chromedriver")))
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()


def wait(driver: Any, cond: Callable[[Any], Any], timeout: float = 15.0) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(cond)


def el(driver: Any, testid: str, inner: str = "") -> Any:
    from selenium.webdriver.common.by import By

    sel = f'[data-testid="{testid}"]'
    if inner == "input":  # Quasar puts a q-input's attributes on its native <input>
        return driver.find_element(By.CSS_SELECTOR, f"input{sel}, {sel} input")
    return driver.find_element(By.CSS_SELECTOR, f"{sel} {inner}".strip())


def text_of(driver: Any, testid: str) -> str:
    try:
        return str(el(driver, testid).text)
    except Exception:
        return ""


def field_error(driver: Any) -> str:
    from selenium.webdriver.common.by import By

    return " ".join(e.text for e in driver.find_elements(By.CSS_SELECTOR, ".q-field--error"))


def retype(field: Any, value: str) -> None:
    from selenium.webdriver.common.keys import Keys

    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(Keys.BACKSPACE)
    field.send_keys(value)


def shot(driver: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def test_console_end_to_end(browser: Any, server: tuple[str, int]) -> None:
    from selenium.webdriver.common.by import By

    base, bot_id = server
    d = browser
    d.get(f"{base}/")
    wait(d, lambda d: "/login" in d.current_url)
    wait(d, lambda d: el(d, "username", "input"))
    el(d, "username", "input").send_keys(USERNAME)
    el(d, "password", "input").send_keys("wrong password")
    el(d, "sign-in").click()
    wait(d, lambda d: "Wrong username or password." in text_of(d, "login-message"))
    shot(d, "01-login-wrong-password")
    retype(el(d, "password", "input"), PASSWORD)
    el(d, "sign-in").click()
    wait(d, lambda d: "ushark-mm" in text_of(d, "bots"))
    wait(d, lambda d: "online" in text_of(d, "agents"))
    shot(d, "02-fleet")

    d.find_element(By.LINK_TEXT, "ushark-mm").click()
    wait(d, lambda d: d.current_url.endswith(f"/bots/{bot_id}"))
    wait(d, lambda d: text_of(d, "bot-state") == "RUNNING")
    wait(d, lambda d: el(d, "mid-chart", "canvas"))
    wait(d, lambda d: "sell" in text_of(d, "orders"))
    time.sleep(1.5)  # a few pushed updates into the chart
    orders_before = text_of(d, "orders")
    shot(d, "03-bot-live")

    d.get(f"{base}/bots/{bot_id}/config")
    field = wait(d, lambda d: el(d, "cfg-market_making.spread_min_pct", "input"))
    wait(d, lambda d: field.get_attribute("value") == "0.4")
    retype(field, "5")
    # the rule shows under the field itself, and in the summary above the form
    wait(d, lambda d: "must be <= spread_max_pct" in field_error(d))
    wait(d, lambda d: "must be <= spread_max_pct" in text_of(d, "config-errors"))
    shot(d, "04-config-invalid")
    retype(field, "1.2")
    wait(d, lambda d: "budget used" in text_of(d, "preview-note"))
    wait(d, lambda d: "sell" in text_of(d, "preview-table"))
    assert "must be <=" not in text_of(d, "config-errors")
    shot(d, "05-config-preview")
    el(d, "apply-comment", "input").send_keys("wider spread from the browser test")
    el(d, "apply").click()
    wait(d, lambda d: "Applied as version 2" in text_of(d, "apply-result"))
    wait(d, lambda d: "wider spread from the browser test" in text_of(d, "history"))
    shot(d, "06-config-applied")

    d.get(f"{base}/bots/{bot_id}")
    wait(d, lambda d: "sell" in text_of(d, "orders"))
    wait(d, lambda d: text_of(d, "orders") != orders_before, timeout=20)
    el(d, "cmd-pause").click()
    wait(d, lambda d: "now PAUSED" in text_of(d, "command-result"))
    wait(d, lambda d: text_of(d, "bot-state") == "PAUSED")
    shot(d, "07-paused")
    el(d, "cmd-resume").click()
    wait(d, lambda d: "now RUNNING" in text_of(d, "command-result"))
    wait(d, lambda d: "taker" in text_of(d, "fills") or "maker" in text_of(d, "fills"), 30)
    time.sleep(1.0)
    shot(d, "08-resumed-with-fills")

    # credentials: the Telegram token is taken, never shown again, and the page says since when
    d.get(f"{base}/credentials")
    wait(d, lambda d: "no token" in text_of(d, "tg-status-vps-1"))
    el(d, "tg-token-vps-1", "input").send_keys("123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw")
    el(d, "tg-save-vps-1").click()
    wait(d, lambda d: "token set" in text_of(d, "tg-status-vps-1"))
    wait(d, lambda d: "the agent has it" in text_of(d, "tg-vps-1"))
    assert el(d, "tg-token-vps-1", "input").get_attribute("value") == ""
    assert "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" not in d.page_source
    shot(d, "09-credentials")

    # the provisioning dialog refuses a bad host before anything runs
    d.get(f"{base}/")
    wait(d, lambda d: "ushark-mm" in text_of(d, "bots"))
    el(d, "provision-open").click()
    wait(d, lambda d: el(d, "prov-host", "input")).send_keys("bad host")
    el(d, "provision-start").click()
    wait(d, lambda d: "expected an IP address or DNS name" in text_of(d, "provision-message"))
    shot(d, "10-provision-dialog")

    d.set_window_size(390, 844)  # a phone
    d.get(f"{base}/")
    wait(d, lambda d: "ushark-mm" in text_of(d, "bots"))
    shot(d, "11-phone-fleet")
    d.get(f"{base}/bots/{bot_id}")
    wait(d, lambda d: text_of(d, "bot-state") == "RUNNING")
    time.sleep(1.0)
    shot(d, "12-phone-bot")
