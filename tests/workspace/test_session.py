"""The workspace's signed cookies: what is signed is what comes back; anything changed,
expired, or signed for another purpose is no session."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from workers.workspace.session import PendingLogin, Session, Signer

KEY = b"k" * 32
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def test_a_signed_session_opens_with_the_same_key_and_purpose_only() -> None:
    signer = Signer(lambda: KEY)
    session = Session(professional_id="pro-1", expires=NOW, csrf="t")
    cookie = signer.sign("session", session)
    assert Session.model_validate(signer.open("session", cookie)) == session
    assert signer.open("login", cookie) is None
    assert Signer(lambda: b"x" * 32).open("session", cookie) is None


def test_a_changed_cookie_is_refused() -> None:
    signer = Signer(lambda: KEY)
    cookie = signer.sign("session", Session(professional_id="pro-1", expires=NOW, csrf="t"))
    body, mac = cookie.split(".")
    other = signer.sign("session", Session(professional_id="pro-2", expires=NOW, csrf="t"))
    assert signer.open("session", f"{other.split('.')[0]}.{mac}") is None
    assert signer.open("session", f"{body}.{mac[:-2]}AA") is None
    for broken in ("", "no-dot", "a.b.c", "x" * 5000, f"{body}."):
        assert signer.open("session", broken) is None


def test_a_login_cookie_keeps_state_nonce_and_verifier() -> None:
    signer = Signer(lambda: KEY)
    pending = PendingLogin(expires=NOW + timedelta(minutes=10), csrf="c", state="s",
                           nonce="n", verifier="v")
    assert PendingLogin.model_validate(signer.open("login", signer.sign("login", pending))
                                       ) == pending
