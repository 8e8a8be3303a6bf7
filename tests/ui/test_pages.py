"""Console page logic with NiceGUI's simulated user against a real control plane and agent."""

from __future__ import annotations

import asyncio
from typing import Any

from nicegui import ui
from nicegui.testing.user import User

from controlplane.models import Role
from controlplane.services import tenants
from tests.ui.stack import PASSWORD, USERNAME, Stack
from ui import session
from ui.session import LoginLimiter


async def login(user: User, password: str = PASSWORD) -> None:
    await user.open("/login")
    user.find(marker="username").type(USERNAME)
    user.find(marker="password").type(password)
    user.find(marker="sign-in").click()


async def test_login_wrong_password_then_fleet(user: User, stack: Stack) -> None:
    await user.open("/")
    await user.should_see(marker="sign-in")  # not signed in: redirected to the login page
    await login(user, "not the password")
    await user.should_see("Wrong username or password.")
    await login(user)
    await user.should_see("Bots", retries=100)
    bots = rows(user, "bots")
    assert [b["name"] for b in bots] == ["ushark-mm"]
    assert bots[0]["state"] == "RUNNING" and bots[0]["risk"] == "OK"
    assert bots[0]["mid"] not in ("", "–")
    agents = rows(user, "agents")
    assert agents[0]["name"] == "vps-1" and agents[0]["online"] == "online"
    assert agents[0]["version"] not in ("", "–")


def rows(user: User, marker: str) -> list[dict[str, Any]]:
    (table,) = user.find(marker=marker).elements
    assert isinstance(table, ui.table)
    return list(table.rows)


def element(user: User, marker: str) -> Any:
    (el,) = user.find(marker=marker).elements
    return el


async def wait_for(pred: Any, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            if pred():
                return
        except AssertionError:  # not on the page (yet)
            pass
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def test_rate_limited_login(user: User, stack: Stack) -> None:
    session.limiter = LoginLimiter(attempts=3, window=60)
    for _ in range(3):
        await login(user, "wrong password!")
        await user.should_see("Wrong username or password.")
    await login(user)  # even the right password waits now
    await user.should_see("Too many failed sign-ins")


async def test_logout_ends_the_session(user: User, stack: Stack) -> None:
    await login(user)
    await user.should_see("Bots", retries=100)
    user.find(marker="logout").click()
    await user.should_see(marker="sign-in")
    await user.open("/")
    await user.should_see(marker="sign-in")


async def test_bot_live_page_and_controls(user: User, stack: Stack) -> None:
    await login(user)
    await user.should_see("Bots", retries=100)
    await user.open(f"/bots/{stack.bot_id}")
    await user.should_see("ushark-mm")
    assert element(user, "bot-state").text == "RUNNING"
    risk = rows(user, "risk")
    assert {r["rule"] for r in risk} >= {"daily_loss", "open_orders", "min_quote_balance"}
    assert all(set(r) >= {"value", "limit", "state"} for r in risk)
    orders = rows(user, "orders")
    assert {o["side"] for o in orders} == {"buy", "sell"}
    assert {b["asset"] for b in rows(user, "balances")} == {"USHARK", "USDT"}
    assert "target 5000" in element(user, "volume").text
    assert rows(user, "events"), "the event log starts with the archived history"

    # pushed: the mid chart grows from the change feed while the page is open
    chart = element(user, "mid-chart")
    before = len(chart.options["series"][0]["data"])
    await wait_for(lambda: len(chart.options["series"][0]["data"]) > before + 1)
    depth = element(user, "depth-chart")
    assert depth.options["series"][2]["data"], "own orders are marked on the depth chart"

    # event log filters
    element(user, "event-kinds").value = ["state"]
    await wait_for(lambda: all(r["kind"] == "state" for r in rows(user, "events")))

    user.find(marker="cmd-resume").click()  # refused: it is running
    await wait_for(lambda: "refused" in element(user, "command-result").text)
    user.find(marker="cmd-pause").click()
    await wait_for(lambda: "now PAUSED" in element(user, "command-result").text)
    await wait_for(lambda: element(user, "bot-state").text == "PAUSED")
    user.find(marker="cmd-resume").click()
    await wait_for(lambda: "now RUNNING" in element(user, "command-result").text)

    user.find(marker="cmd-stop").click()  # destructive: asks first
    await user.should_see("Cancel all orders and stop quoting.")
    user.find(marker="confirm").click()
    await wait_for(lambda: "Stop: now" in element(user, "command-result").text)


async def test_config_validation_preview_apply_rollback(user: User, stack: Stack) -> None:
    await login(user)
    await user.should_see("Bots", retries=100)
    await user.open(f"/bots/{stack.bot_id}/config")
    await user.should_see("Ladder preview")
    field = element(user, "cfg-market_making.spread_min_pct")
    assert field.value == "0.4"
    field.value = "5"  # above spread_max_pct: the agent's own model says why
    assert field.error == "must be <= spread_max_pct"
    assert not element(user, "apply").enabled
    assert "market_making.spread_min_pct" in element(user, "config-errors").text
    field.value = "abc"
    assert field.error and "decimal" in field.error
    field.value = "0.6"
    assert field.error is None
    await wait_for(lambda: len(rows(user, "preview-table")) > 0)
    assert "budget used" in element(user, "preview-note").text
    preview = rows(user, "preview-table")
    assert {r["side"] for r in preview} == {"buy", "sell"}

    element(user, "apply-comment").value = "wider spread"
    user.find(marker="apply").click()
    await wait_for(lambda: "Applied as version 2" in element(user, "apply-result").text)
    history = rows(user, "history")
    assert [h["version"] for h in history] == [2, 1]
    assert history[0]["comment"] == "wider spread" and history[0]["applied"]

    # the Diff and Roll back buttons of a history row emit these events with the row's version
    user.find(marker="history").trigger("diff", 1)
    await wait_for(lambda: "spread_min_pct" in element(user, "diff").content)

    user.find(marker="history").trigger("rollback", 1)
    await user.should_see("Roll back to version 1?")
    user.find(marker="confirm").click()
    await wait_for(lambda: [h["version"] for h in rows(user, "history")] == [3, 2, 1])
    assert element(user, "cfg-market_making.spread_min_pct").value == "0.4"


async def test_credentials_are_write_only(user: User, stack: Stack) -> None:
    await login(user)
    await user.should_see("Bots", retries=100)
    await user.open("/credentials")
    await user.should_see("ushark-mm · sim")
    assert element(user, "cred-status-ushark-mm").text == "not set"
    user.find("API key").type("key-123")
    user.find("Secret").type("secret-456")
    user.find(marker="cred-save-ushark-mm").click()
    await user.should_see("Set on")
    assert element(user, "cred-status-ushark-mm").text == "set"
    for el in user.find(ui.input).elements:
        assert el.value in ("", None), "a stored value is never shown again"
    await user.open("/credentials")
    assert element(user, "cred-status-ushark-mm").text == "set"


async def test_register_agent_from_the_fleet(user: User, stack: Stack) -> None:
    await login(user)
    await user.should_see("Bots", retries=100)
    user.find("Register agent").click()
    user.find("Name").type("vps-2")
    user.find("Endpoint").type("127.0.0.1:1")
    user.find("Agent token").type("short")
    user.find(marker="register-submit").click()
    # the API schema's own rule, and nothing registered
    await wait_for(
        lambda: "token: Value should have at least 16" in element(user, "register-message").text
    )
    assert len(rows(user, "agents")) == 1
    user.find("Agent token").clear().type("a-long-enough-agent-token")
    user.find(marker="register-submit").click()
    await wait_for(lambda: {a["name"] for a in rows(user, "agents")} == {"vps-1", "vps-2"})


async def test_viewer_sees_but_cannot_steer(user: User, stack: Stack) -> None:
    await tenants.create_user(stack.cp, stack.who.tenant_id, "viewer", PASSWORD, Role.VIEWER)
    await user.open("/login")
    user.find(marker="username").type("viewer")
    user.find(marker="password").type(PASSWORD)
    user.find(marker="sign-in").click()
    await user.should_see("Bots", retries=100)
    await user.open(f"/bots/{stack.bot_id}")
    await user.should_see("ushark-mm")
    user.find(marker="cmd-pause").click()
    await wait_for(lambda: "needs the operator role" in element(user, "command-result").text)
    assert element(user, "bot-state").text == "RUNNING"
