"""Session cookies for tests: signed the way the service's SessionMiddleware signs them."""

from __future__ import annotations

import json
import time
from base64 import b64decode, b64encode
from typing import Any

from itsdangerous import TimestampSigner

from application import session_secret
from settings import Settings
from web.sessions import SESSION_COOKIE

CSRF = "csrf-token-of-the-test-session"
NOW: Any = object()


def session_cookie(
    settings: Settings, username: str, *, since: Any = NOW, **extra: Any
) -> dict[str, str]:
    """A Cookie header for a browser signed in as `username` (with CSRF token CSRF) at
    `since` (now by default: create the user first)."""
    secret = session_secret(settings)
    assert secret is not None, "the settings give no session secret"
    started = time.time() if since is NOW else since
    content = {"user": username, "since": started, "csrf": CSRF, **extra}
    data = b64encode(json.dumps(content).encode())
    signed = TimestampSigner(secret).sign(data).decode()
    return {"Cookie": f"{SESSION_COOKIE}={signed}"}


def session_data(cookie_value: str) -> dict[str, Any]:
    """What a session cookie holds (signed, not encrypted: anyone can read it)."""
    payload = cookie_value.strip('"').rsplit(".", 2)[0]
    return dict(json.loads(b64decode(payload)))
