"""Login lock-outs are per visitor behind a reverse proxy: the visitor's address comes from X-Forwarded-For
only when the direct peer is a trusted proxy (MEDGEMMA_TRUSTED_PROXIES), so visitors behind one proxy do
not lock each other out and a visitor cannot dodge the lock-out by sending the header itself."""

from __future__ import annotations

import re

import pytest
from live_app import rest_call, serve

from medgemma.auth import MAX_FAILURES, client_address, trusted_networks
from medgemma.config import load_settings
from medgemma.errors import ConfigError

PASSWORD = "correct horse battery"
PROXY = trusted_networks("127.0.0.1, 10.0.0.0/8", on_space=False)


@pytest.mark.parametrize(
    ("peer", "forwarded", "visitor"),
    [
        ("203.0.113.5", None, "203.0.113.5"),  # no proxy: the peer is the visitor
        ("203.0.113.5", "198.51.100.7", "203.0.113.5"),  # an untrusted peer's header is ignored
        ("127.0.0.1", "198.51.100.7", "198.51.100.7"),  # through the trusted proxy
        ("127.0.0.1", "198.51.100.7, 10.1.2.3", "198.51.100.7"),  # two trusted hops
        ("127.0.0.1", "6.6.6.6, 198.51.100.7", "198.51.100.7"),  # a forged left entry is not believed
        ("127.0.0.1", "not-an-ip, 10.1.2.3", "not-an-ip"),  # garbage is its own key, never the proxy's
        ("127.0.0.1", "10.1.2.3", "10.1.2.3"),  # only trusted hops: the leftmost one
        ("127.0.0.1", "", "127.0.0.1"),
        (None, None, "local"),
    ],
)
def test_client_address(peer, forwarded, visitor):
    assert client_address(peer, forwarded, PROXY) == visitor


def test_trusted_proxies_setting():
    assert trusted_networks("auto", on_space=False) == ()
    assert any(net.overlaps(trusted_networks("10.9.9.9", False)[0]) for net in trusted_networks("auto", True))
    with pytest.raises(ConfigError, match="'10.0.0.300' is not an IP address or CIDR range"):
        trusted_networks("10.0.0.0/8, 10.0.0.300", on_space=False)


def _login_status(url: str, password: str, forwarded_for: str) -> str:
    """Log in through a "proxy" at 127.0.0.2: another address than the server's own loopback, which
    uvicorn itself already trusts for X-Forwarded-For (its forwarded_allow_ips default)."""
    event, payload = rest_call(
        url, "admin_login", [password], headers={"X-Forwarded-For": forwarded_for}, local_address="127.0.0.2"
    )
    assert event == "complete", (event, payload)
    return payload[1]  # outputs: admin token (a State: None here), status, admin area, logout, password


@pytest.mark.parametrize("trusted", ["127.0.0.2", ""])
def test_visitors_behind_one_proxy_do_not_lock_each_other_out(tmp_path, trusted):
    """Trusted: the guesser is locked out and the visitor next to them still logs in. Not trusted: the
    header counts for nothing, so both are one client (and the guesser cannot escape the lock-out by
    changing the header)."""
    settings = load_settings(
        env={
            "MEDGEMMA_HOME": str(tmp_path),
            "MEDGEMMA_ADMIN_PASSWORD": PASSWORD,
            "MEDGEMMA_TRUSTED_PROXIES": trusted,
        }
    )
    with serve(settings) as app:
        for _ in range(MAX_FAILURES):
            assert "Wrong admin password" in _login_status(app.url, "guess", "198.51.100.7")
        locked = r"Too many failed logins from this client"
        assert re.search(locked, _login_status(app.url, PASSWORD, "198.51.100.7"))
        neighbour = _login_status(app.url, PASSWORD, "198.51.100.8")
        if trusted:
            assert "Logged in as **admin**" in neighbour
        else:
            assert re.search(locked, neighbour)
