"""Authentication over HTTP: password login, sessions, API tokens, cookies with CSRF."""

from __future__ import annotations

import httpx
import pytest

from controlplane.models import Role
from controlplane.runtime import ControlPlane
from tests.controlplane.conftest import PASSWORD, new_tenant

V1 = "/api/v1"


async def test_health_needs_no_auth_and_everything_else_does(api: httpx.AsyncClient) -> None:
    r = await api.get(f"{V1}/health")
    assert r.status_code == 200 and r.json()["database"] == "ok"
    for path in ("/bots", "/agents", "/tokens", "/auth/me", "/audit"):
        r = await api.get(V1 + path)
        assert r.status_code == 401, path
        assert r.headers["www-authenticate"] == "Bearer"
    r = await api.get(f"{V1}/bots", headers={"Authorization": "Bearer mmb_nonsense"})
    assert r.status_code == 401


async def test_password_login_returns_a_bearer_token(
    cp: ControlPlane, api: httpx.AsyncClient
) -> None:
    t = await new_tenant(cp)
    r = await api.post(f"{V1}/auth/token", data={"username": t.username, "password": PASSWORD})
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "bearer" and body["access_token"].startswith("mmb_")
    me = await api.get(f"{V1}/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json()["username"] == t.username and me.json()["tenant_id"] == t.id
    bad = await api.post(f"{V1}/auth/token", data={"username": t.username, "password": "nope"})
    assert bad.status_code == 401
    nobody = await api.post(f"{V1}/auth/token", data={"username": "ghost", "password": "x"})
    assert nobody.status_code == 401 and nobody.json() == bad.json()
    missing = await api.post(f"{V1}/auth/token", data={"username": t.username})
    assert missing.status_code == 422


async def test_api_tokens_are_shown_once_listed_without_secret_and_revocable(
    cp: ControlPlane, api: httpx.AsyncClient
) -> None:
    t = await new_tenant(cp)
    r = await api.post(f"{V1}/tokens", json={"name": "ci script"}, headers=t.headers)
    assert r.status_code == 201
    created = r.json()
    token = created["token"]
    listed = (await api.get(f"{V1}/tokens", headers=t.headers)).json()
    assert [x["name"] for x in listed] == ["ci script"]
    assert "token" not in listed[0] and token not in str(listed)
    assert listed[0]["display"] == token[:12]
    h = {"Authorization": f"Bearer {token}"}
    assert (await api.get(f"{V1}/bots", headers=h)).status_code == 200
    assert (await api.delete(f"{V1}/tokens/{created['id']}", headers=t.headers)).status_code == 204
    assert (await api.get(f"{V1}/bots", headers=h)).status_code == 401
    assert (await api.delete(f"{V1}/tokens/{created['id']}", headers=t.headers)).status_code == 404
    bad = await api.post(f"{V1}/tokens", json={"name": ""}, headers=t.headers)
    assert bad.status_code == 422


async def test_tokens_of_another_tenant_cannot_be_seen_or_revoked(
    cp: ControlPlane, api: httpx.AsyncClient
) -> None:
    a, b = await new_tenant(cp), await new_tenant(cp)
    created = (await api.post(f"{V1}/tokens", json={"name": "b"}, headers=b.headers)).json()
    assert (await api.get(f"{V1}/tokens", headers=a.headers)).json() == []
    r = await api.delete(f"{V1}/tokens/{created['id']}", headers=a.headers)
    assert r.status_code == 404


async def test_viewer_reads_but_cannot_steer_or_register(
    cp: ControlPlane, api: httpx.AsyncClient
) -> None:
    admin = await new_tenant(cp)
    viewer = await new_tenant(cp, Role.VIEWER, tenant_id=admin.id)
    assert (await api.get(f"{V1}/agents", headers=viewer.headers)).status_code == 200
    r = await api.post(
        f"{V1}/agents",
        json={"name": "a", "endpoint": "127.0.0.1:50051", "token": "t" * 20},
        headers=viewer.headers,
    )
    assert r.status_code == 403 and "admin" in r.json()["detail"]
    assert (await api.get(f"{V1}/audit", headers=viewer.headers)).status_code == 403


async def test_console_cookie_session_needs_csrf_header_for_changes(
    cp: ControlPlane, api: httpx.AsyncClient
) -> None:
    t = await new_tenant(cp)
    r = await api.post(f"{V1}/auth/login", json={"username": t.username, "password": PASSWORD})
    assert r.status_code == 200
    cookies = r.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith(cp.settings.session_cookie))
    assert "HttpOnly" in session and "samesite=strict" in session.lower()
    assert (await api.get(f"{V1}/auth/me")).status_code == 200  # the client keeps cookies
    refused = await api.post(f"{V1}/tokens", json={"name": "x"})
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    csrf = api.cookies["mmbot_csrf"]
    ok = await api.post(f"{V1}/tokens", json={"name": "x"}, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201
    out = await api.post(f"{V1}/auth/logout", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 204
    api.cookies.set(cp.settings.session_cookie, session.split(";")[0].split("=", 1)[1])
    assert (await api.get(f"{V1}/auth/me")).status_code == 401  # the session is revoked


async def test_metrics_are_prometheus_text(cp: ControlPlane, api: httpx.AsyncClient) -> None:
    await api.get(f"{V1}/health")
    r = await api.get("/metrics")
    assert r.status_code == 200
    assert "mmbot_cp_http_requests_total" in r.text
    assert 'route="/api/v1/health"' in r.text
    assert "mmbot_cp_event_delay_seconds_bucket" in r.text


async def test_ensure_user_creates_then_resets_the_password(cp: ControlPlane) -> None:
    import uuid

    from controlplane.services import auth, tenants
    from controlplane.services.errors import Unauthorized

    name = f"admin-{uuid.uuid4().hex[:8]}"
    first = await tenants.ensure_user(cp, name, "first-password", tenant=f"t-{name}")
    again = await tenants.ensure_user(cp, name, "second-password", tenant=f"t-{name}")
    assert first.id == again.id
    assert (await auth.login(cp, name, "second-password")).access_token
    with pytest.raises(Unauthorized):
        await auth.login(cp, name, "first-password")
