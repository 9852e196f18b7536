"""auth.py owns admin authentication: password check (constant time, rate limited), Hugging Face
OAuth allow-list, server-side session tokens, and the admin audit log. No UI code here. Failed logins are
counted in this process, or in the database when one is configured (db/state.py), so lock-outs hold on
every replica.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from medgemma.config import Settings, env_var
from medgemma.db.state import lockout_store
from medgemma.errors import AuthError, ConfigError
from medgemma.safety import audit as audit_log

SESSION_TTL_S = 8 * 3600
MAX_FAILURES = 5
FAILURE_WINDOW_S = 300
SPACE_PROXIES = (
    "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,127.0.0.0/8,::1/128"  # where a Space's proxy connects from
)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_networks(spec: str, on_space: bool) -> tuple[Network, ...]:
    """Parse MEDGEMMA_TRUSTED_PROXIES ("auto", "", or comma-separated IPs/CIDRs); a bad entry is named."""
    spec = (SPACE_PROXIES if on_space else "") if spec.strip().lower() == "auto" else spec
    networks = []
    for entry in (e.strip() for e in spec.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ConfigError(
                f"MEDGEMMA_TRUSTED_PROXIES: '{entry}' is not an IP address or CIDR range (e.g. 10.0.0.0/8)."
            ) from None
    return tuple(networks)


def client_address(peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The visitor's address, for per-visitor limits. The direct peer is the visitor unless it is a trusted
    proxy; then X-Forwarded-For is read from the right, past trusted hops, and the first other address is
    the visitor. A header from an untrusted peer is ignored: anyone can send one."""

    def is_trusted(address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in trusted)

    peer = (peer or "").strip() or "local"
    if not forwarded_for or not is_trusted(peer):
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        if not is_trusted(hop):
            return hop
    return hops[0] if hops else peer


@dataclass(frozen=True)
class AdminSession:
    token: str
    user: str
    expires: float


class AdminAuth:
    """Issues and checks admin session tokens. With no password and no allow-list, admin is disabled.

    Hugging Face sign-in counts only on a Space (SYSTEM=spaces, SPACE_ID set): elsewhere Gradio mocks the
    sign-in with the machine's own HF token, which would make every visitor that user.
    """

    def __init__(self, settings: Settings, on_space: bool | None = None) -> None:
        self.settings = settings
        if on_space is None:  # Gradio's own test (gradio.utils.get_space): real OAuth routes only there
            on_space = env_var("SYSTEM") == "spaces" and bool(env_var("SPACE_ID"))
        self.on_space = on_space
        self.trusted_proxies = trusted_networks(settings.trusted_proxies, on_space)
        self._digest = (
            hashlib.sha256(settings.admin_password.encode()).digest() if settings.admin_password else b""
        )
        self._allowed_users = {u.strip().lower() for u in settings.admin_users.split(",") if u.strip()}
        self._sessions: dict[str, AdminSession] = {}
        self._failures = lockout_store(settings, MAX_FAILURES, FAILURE_WINDOW_S)  # failed logins per client
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return bool(self._digest) or self.oauth_enabled

    @property
    def password_enabled(self) -> bool:
        return bool(self._digest)

    @property
    def oauth_enabled(self) -> bool:
        return bool(self._allowed_users) and self.on_space

    def disabled_message(self) -> str:
        if self._allowed_users and not self.on_space:
            return (
                "Admin is disabled: MEDGEMMA_ADMIN_USERS (Hugging Face sign-in) works only on a Hugging Face "
                "Space. Here, start the app with MEDGEMMA_ADMIN_PASSWORD=... to enable the admin tabs."
            )
        return (
            "Admin is disabled because no admin password is set. Start the app with "
            "MEDGEMMA_ADMIN_PASSWORD=... (or MEDGEMMA_ADMIN_USERS=hf-username on a Space with OAuth)."
        )

    def client_of(self, peer: str | None, forwarded_for: str | None = None) -> str:
        """The key login failures are counted under: the visitor's address (see client_address)."""
        return client_address(peer, forwarded_for, self.trusted_proxies)

    def _check_rate(self, client: str) -> None:
        wait = self._failures.wait_s(client)
        if wait > 0:
            raise AuthError(f"Too many failed logins from this client; try again in {int(wait) + 1} s.")

    def login(self, password: str, client: str = "local") -> AdminSession:
        """Check a password (constant-time) and open a session; failures are rate limited per client."""
        if not self.password_enabled:
            raise AuthError(self.disabled_message())
        with self._lock:
            self._check_rate(client)
            given = hashlib.sha256(password.encode() if isinstance(password, str) else b"").digest()
            if not hmac.compare_digest(given, self._digest):
                self._failures.record(client)
                self.audit("admin", "login_failed", {"client": _hash(client)})
                raise AuthError("Wrong admin password.")
            self._failures.reset(client)
            return self._open("admin", {"client": _hash(client)})

    def login_oauth(self, username: str | None) -> AdminSession:
        """A Hugging Face user signed in with OAuth: allowed only if on the allow-list."""
        if not self.oauth_enabled:
            raise AuthError(
                self.disabled_message()
                if not self.password_enabled
                else "Hugging Face sign-in is not enabled here; use the admin password."
            )
        if not username or not isinstance(username, str):
            raise AuthError("Sign in with Hugging Face first.")
        if username.lower() not in self._allowed_users:
            self.audit(username, "login_refused", {})
            raise AuthError(f"The Hugging Face user '{username}' is not on the admin allow-list.")
        with self._lock:
            return self._open(username)

    def _open(self, user: str, detail: dict | None = None) -> AdminSession:
        session = AdminSession(secrets.token_urlsafe(32), user, time.time() + SESSION_TTL_S)
        self._sessions[session.token] = session
        self.audit(user, "login", detail or {})
        return session

    def check(self, token: str | None) -> AdminSession:
        """The session for a token, or AuthError. Called by every admin handler on the server."""
        if not self.enabled:
            raise AuthError(self.disabled_message())
        if not isinstance(token, str) or not token:
            raise AuthError("Admin login required.")
        session = self._sessions.get(token)
        if session is None or session.expires < time.time():
            self._sessions.pop(token or "", None)
            raise AuthError("Admin login required.")
        return session

    def logout(self, token: str | None) -> None:
        if not isinstance(token, str):
            return
        session = self._sessions.pop(token, None)
        if session:
            self.audit(session.user, "logout", {})

    def audit(self, user: str, action: str, detail: dict) -> None:
        """Append who did what, when, to the admin audit log (no secrets, no raw passwords)."""
        audit_log.write(
            self.settings,
            "admin",
            {
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "user": user,
                "action": action,
                "detail": detail,
            },
        )


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]
