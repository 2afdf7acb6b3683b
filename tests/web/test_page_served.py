"""The page as the server hands it out: its three files, their types, and the headers
that keep anything an envelope holds from running or loading (a strict CSP)."""

from __future__ import annotations

from starlette.testclient import TestClient

from agentroom.server.app import create_app
from tests.server.conftest import open_served

CSP = {
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "connect-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
}


def test_the_page_and_its_assets_are_served_with_a_strict_policy(db_path):
    client = TestClient(create_app(open_served(db_path), manage=False))
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/app.js">' in page.text
    assert 'aria-live="polite"' in page.text
    for path, kind, holds in (
        ("/app.js", "text/javascript", "new WebSocket("),
        ("/app.css", "text/css", "#transcript"),
    ):
        asset = client.get(path)
        assert asset.status_code == 200
        assert asset.headers["content-type"].startswith(kind), path
        assert holds in asset.text
    for response in (page, client.get("/app.js"), client.get("/app.css")):
        policy = {part.strip() for part in response.headers["content-security-policy"].split(";")}
        assert policy == CSP
        assert response.headers["x-content-type-options"] == "nosniff"
    # No inline script or style anywhere: the policy would refuse it.
    assert "<script>" not in page.text and "style=" not in page.text
    assert client.get("/nothing.js").status_code == 404
