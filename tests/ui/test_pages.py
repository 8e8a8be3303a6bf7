"""Console page logic with NiceGUI's simulated user against a real control plane and agent."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from nicegui import ui
from nicegui.testing.user import User

from controlplane.models import Role
from controlplane.services import tenants
from tests.ui.stack import PASSWORD, USERNAME, Stack
from ui import present, session
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
    # market depth from the venue's real (simulated) book, own orders marked on it
    depth = element(user, "depth-chart")
    await user.should_not_see(marker="no-book")
    bids, asks, own_bids, own_asks = depth.options["series"]
    assert bids["data"] and asks["data"]
    assert bids["data"][-1][0] < asks["data"][0][0], "best bid below best ask"
    assert [p[1] for p in bids["data"]] == sorted((p[1] for p in bids["data"]), reverse=True)
    assert [p[1] for p in asks["data"]] == sorted(p[1] for p in asks["data"])
    assert len(bids["data"]) <= 20 and len(asks["data"]) <= 20  # the agent's top levels
    assert own_bids["data"] and own_asks["data"], "own orders are marked on the depth chart"
    assert element(user, "book-at").text.startswith("book as of ")
    # pushed: the book moves with the status polls while the page is open
    first = [list(p) for p in bids["data"] + asks["data"]]
    await wait_for(
        lambda: depth.options["series"][0]["data"] + depth.options["series"][1]["data"] != first,
        timeout=30,
    )

    # event log filters
    element(user, "event-kinds").value = ["state"]
    await wait_for(lambda: all(r["kind"] == "state" for r in rows(user, "events")))

    # only what the bot's state allows is offered: no resume while it runs
    assert not element(user, "cmd-resume").enabled and not element(user, "cmd-start").enabled
    assert element(user, "cmd-pause").enabled and element(user, "cmd-kill").enabled
    user.find(marker="cmd-pause").click()
    await wait_for(lambda: "now PAUSED" in element(user, "command-result").text)
    await wait_for(lambda: element(user, "bot-state").text == "PAUSED")
    assert element(user, "cmd-resume").enabled and not element(user, "cmd-pause").enabled
    user.find(marker="cmd-resume").click()
    await wait_for(lambda: "now RUNNING" in element(user, "command-result").text)

    user.find(marker="cmd-stop").click()  # destructive: asks first
    await user.should_see("Cancel all orders and stop quoting.")
    user.find(marker="confirm").click()
    await wait_for(lambda: "Stop: now" in element(user, "command-result").text)


async def test_bot_live_page_without_a_live_book(user: User, stack: Stack) -> None:
    """With no link to the agent there is no live book: the page says so in words instead
    of drawing an empty (or an old) chart."""
    await login(user)
    await user.should_see("Bots", retries=100)
    await stack.cp.links.remove(stack.agent_id)  # as after a restart, before it reconnects
    await user.open(f"/bots/{stack.bot_id}")
    await user.should_see("ushark-mm")
    await user.should_see(present.OFFLINE_BOOK)
    await user.should_not_see(marker="depth-chart")
    assert element(user, "book-at").text == ""


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
    # keys stored earlier show since when, never what
    await user.should_see("Set on")
    assert "key-123" not in str([el.value for el in user.find(ui.input).elements])
    user.find(marker="cred-delete-ushark-mm").click()
    await user.should_see("Delete the stored keys of ushark-mm?")
    user.find(marker="confirm").click()
    await user.should_see("Deleted; the agent deleted its copy.")
    assert element(user, "cred-status-ushark-mm").text == "not set"


async def test_telegram_token_from_the_console(user: User, stack: Stack) -> None:
    token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    await login(user)
    await user.should_see("Bots", retries=100)
    await user.open("/credentials")
    await user.should_see("Agent vps-1")
    assert element(user, "tg-status-vps-1").text == "no token"
    # a pasted token with a typo: the rule, not the value, and nothing stored
    user.find(marker="tg-token-vps-1").type("123456789-AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw")
    user.find(marker="tg-save-vps-1").click()
    await user.should_see("token: Value error, must look like <bot id>:<secret>")
    assert element(user, "tg-status-vps-1").text == "no token"
    user.find(marker="tg-token-vps-1").type(token)
    user.find(marker="tg-save-vps-1").click()
    await user.should_see("the agent has it")
    assert element(user, "tg-status-vps-1").text == "token set"
    assert element(user, "tg-token-vps-1").value == ""
    await user.open("/credentials")
    assert element(user, "tg-status-vps-1").text == "token set"
    assert element(user, "tg-note-vps-1").text.startswith("Set on ")
    user.find(marker="tg-delete-vps-1").click()
    await user.should_see("Delete the Telegram bot token of vps-1?")
    user.find(marker="confirm").click()
    await user.should_see("Deleted; the agent deleted its copy.")
    assert element(user, "tg-status-vps-1").text == "no token"


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


# --------------------------------------------------------------------------- provisioning
# The fleet page's "Add agent (provision a VPS)" dialog; the run itself is
# controlplane.services.provisioning (tests/controlplane/test_provisioning_service.py, and the
# real apply in tests/test_provisioning_apply.py).


async def test_provision_dialog_refuses_bad_input_and_runs_nothing(
    user: User, stack: Stack
) -> None:
    from controlplane.services import provisioning

    await login(user)
    await user.should_see("Bots", retries=100)
    user.find(marker="provision-open").click()
    user.find(marker="prov-host").type("bad host")
    user.find(marker="prov-user").clear().type("Root!")
    user.find(marker="prov-ssh-key").type("/nonexistent/key")
    element(user, "prov-agent-port").value = 0
    user.find(marker="provision-start").click()
    await wait_for(lambda: element(user, "prov-host").error is not None)
    assert element(user, "prov-host").error == "Host 'bad host': expected an IP address or DNS name"
    assert element(user, "prov-user").error == "SSH user 'Root!': not a valid user name"
    assert element(user, "prov-ssh-key").error == "SSH key /nonexistent/key: not a readable file"
    assert element(user, "prov-agent-port").error == "Agent port 0: a whole number from 1 to 65535"
    assert element(user, "prov-ssh-port").error is None
    assert "SSH user 'Root!'" in element(user, "provision-message").text
    # nothing ran, nothing was made, nothing registered
    assert not provisioning.busy()
    assert not stack.cp.settings.effective_provision_dir.exists()
    assert len(rows(user, "agents")) == 1


ISOLATED_ENV = "MMBOT_TEST_PROVISION_ISOLATED"


def test_provision_dialog_in_a_fresh_process() -> None:
    """The run below, in a pytest process of its own. Late in a long test session,
    ansible-playbook started by ansible-runner (pexpect, a pty) from the test process was seen
    to end by a signal before its first event (rc -1, see the closing note of session 2); in a
    fresh process it never was. What it checks is unchanged."""
    import os
    import subprocess
    import sys

    if os.environ.get(ISOLATED_ENV):
        pytest.skip("this is the isolated run itself")
    node = f"{__file__}::test_provision_dialog_shows_a_run_task_by_task"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", node],
        env={**os.environ, ISOLATED_ENV: "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0 and "1 passed" in proc.stdout, proc.stdout[-4000:]


async def test_provision_dialog_shows_a_run_task_by_task(
    user: User, stack: Stack, tmp_path: Any
) -> None:
    """A real playbook run against a port where no SSH answers: the progress, the log line
    coloured by status and the verdict; nothing is registered."""
    import os

    from controlplane.services import provisioning

    if not os.environ.get(ISOLATED_ENV):
        pytest.skip("runs in a process of its own: test_provision_dialog_in_a_fresh_process")

    wheel = tmp_path / "mmbot-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"not used: the host is unreachable")
    key = tmp_path / "id"
    key.write_text("unused\n")
    key.chmod(0o600)
    await login(user)
    await user.should_see("Bots", retries=100)
    user.find(marker="provision-open").click()
    user.find(marker="prov-host").type("127.0.0.1")
    element(user, "prov-ssh-port").value = 9  # discard: nothing listens there
    user.find(marker="prov-ssh-key").type(str(key))
    user.find(marker="prov-name").type("nowhere")
    user.find(marker="prov-wheel").type(str(wheel))
    for attempt in (1, 2):
        user.find(marker="provision-start").click()
        await wait_for(lambda: "Failed" in element(user, "provision-result").text, timeout=120)
        await wait_for(lambda: not provisioning.busy())
        result = element(user, "provision-result").text
        # Seen twice in long CI runs: ansible-playbook ended by a signal before its first
        # event (rc=-1, no task). The run is reported as such (that is the product's job);
        # the SSH failure this test is about needs a run that got going, so once more.
        if "(rc=-1)" not in result or attempt == 2:
            break
        print(f"provisioning run {attempt} died without a task ({result}); running it again")
    log_text = [line.text for line in element(user, "provision-log").default_slot.children]
    assert "unreachable=1" in result and "unreachable:" in result, (result, log_text)
    assert "text-negative" in element(user, "provision-result").classes
    log = element(user, "provision-log")
    lines = [(line.text, line.classes) for line in log.default_slot.children]
    assert lines[0][0].startswith("provisioning nowhere (root@127.0.0.1:9)")
    assert any("unreachable" in text and "text-negative" in cls for text, cls in lines)
    assert element(user, "provision-status").text.startswith("failed")
    assert element(user, "provision-elapsed").text.startswith("elapsed ")
    assert not provisioning.busy()
    assert {a["name"] for a in rows(user, "agents")} == {"vps-1"}


async def test_only_admins_see_the_provision_button(user: User, stack: Stack) -> None:
    await tenants.create_user(stack.cp, stack.who.tenant_id, "operator", PASSWORD, Role.OPERATOR)
    await user.open("/login")
    user.find(marker="username").type("operator")
    user.find(marker="password").type(PASSWORD)
    user.find(marker="sign-in").click()
    await user.should_see("Bots", retries=100)
    await user.should_not_see("Add agent (provision a VPS)")
    await user.should_not_see(marker="provision-open")
    await user.should_not_see(marker="prov-host")
