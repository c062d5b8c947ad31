"""The admin session cookie, sign-in tickets and CSRF tokens: forged, expired or foreign values open nothing."""

from __future__ import annotations

from leadpact.admin.session import (
    TICKET_SECONDS,
    csrf_token,
    csrf_valid,
    decode_session,
    encode_session,
    new_session,
    session_key,
    ticket_key,
)

KEY = session_key("secret-key-for-tests")
NOW = 1_763_900_000


class TestSessionCookie:
    def test_a_cookie_reads_back_as_the_same_admin(self) -> None:
        """The account and user signed into the cookie are what the next request sees."""
        session = new_session(account_id=7, user_id=501, now=NOW)
        assert decode_session(encode_session(session, KEY), KEY, now=NOW + 60) == session

    def test_an_expired_cookie_is_refused(self) -> None:
        """After its lifetime the cookie signs nobody in."""
        cookie = encode_session(new_session(account_id=7, user_id=501, now=NOW, lifetime=60), KEY)
        assert decode_session(cookie, KEY, now=NOW + 61) is None

    def test_a_cookie_signed_with_another_key_is_refused(self) -> None:
        """A cookie made with another installation's key is not accepted."""
        cookie = encode_session(new_session(account_id=7, user_id=501, now=NOW), session_key("other"))
        assert decode_session(cookie, KEY, now=NOW) is None

    def test_garbage_is_refused_quietly(self) -> None:
        """Malformed cookies are simply no session."""
        for cookie in (None, "", "abc", "a.b.c", "e30.AAAA", "!!!.???"):
            assert decode_session(cookie, KEY, now=NOW) is None

    def test_the_session_repr_hides_its_nonce(self) -> None:
        """Logging a session never leaks the value its CSRF token derives from."""
        session = new_session(account_id=7, user_id=501, now=NOW)
        assert session.nonce not in repr(session)


class TestCsrf:
    def test_the_token_of_the_session_is_accepted(self) -> None:
        """A form carrying its own session's token passes."""
        session = new_session(account_id=7, user_id=501, now=NOW)
        assert csrf_valid(session, KEY, csrf_token(session, KEY))

    def test_another_sessions_token_or_none_is_refused(self) -> None:
        """A token from another session, or none at all, fails."""
        mine = new_session(account_id=7, user_id=501, now=NOW)
        theirs = new_session(account_id=7, user_id=501, now=NOW)
        assert not csrf_valid(mine, KEY, csrf_token(theirs, KEY))
        assert not csrf_valid(mine, KEY, None)
        assert not csrf_valid(mine, KEY, "")


class TestSignInTicket:
    TICKETS = ticket_key("secret-key-for-tests")

    def test_a_ticket_names_its_admin_for_two_minutes(self) -> None:
        """The widget's link signs in the admin it was made for, and only within its two minutes."""
        ticket = new_session(account_id=7, user_id=501, now=NOW, lifetime=TICKET_SECONDS, is_admin=False)
        text = encode_session(ticket, self.TICKETS)
        assert decode_session(text, self.TICKETS, now=NOW + 119) == ticket
        assert decode_session(text, self.TICKETS, now=NOW + 120) is None

    def test_a_session_cookie_is_no_ticket_and_a_ticket_no_cookie(self) -> None:
        """Each is signed under its own key, so a stolen cookie cannot be turned into a sign-in link (whose use
        would not be limited to the cookie's holder) and a ticket is not a session."""
        cookie = encode_session(new_session(account_id=7, user_id=501, now=NOW), KEY)
        assert decode_session(cookie, self.TICKETS, now=NOW) is None
        ticket = encode_session(new_session(account_id=7, user_id=501, now=NOW, lifetime=120), self.TICKETS)
        assert decode_session(ticket, KEY, now=NOW) is None

    def test_two_tickets_for_the_same_admin_differ(self) -> None:
        """Each ticket has its own nonce, so using one leaves the next one usable."""
        first = new_session(account_id=7, user_id=501, now=NOW, lifetime=TICKET_SECONDS)
        second = new_session(account_id=7, user_id=501, now=NOW, lifetime=TICKET_SECONDS)
        assert first.nonce != second.nonce
