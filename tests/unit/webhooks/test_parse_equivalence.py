"""The fast webhook parser reads every body exactly as the reference (pre-rewrite) parser did."""

from __future__ import annotations

from urllib.parse import quote, unquote_plus, urlencode

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.webhooks import parse_reference as reference
from webhooks import parse


def outcome(module: object, body: bytes) -> object:
    """The payload, or the refusal reason, that `module.parse_webhook` gives for `body`."""
    try:
        return module.parse_webhook(body)  # type: ignore[attr-defined]
    except module.WebhookParseError as exc:  # type: ignore[attr-defined]
        return ("refused", exc.reason)


def same(body: bytes) -> None:
    expected = outcome(reference, body)
    if isinstance(expected, tuple):
        assert outcome(parse, body) == expected
    else:
        assert repr(outcome(parse, body)) == repr(expected)


KEY = st.from_regex(
    r"(leads|contacts|companies|account|\[|)((\[|%5B|%5b)"
    r"(add|update|status|note|id|account_id|0|1|2|01|-1|custom_fields|values|value|enum|tags|name|linked_leads_id|||)"
    r"(\]|%5D|%5d|)){0,7}",
    fullmatch=True,
)
VALUE = st.one_of(
    st.sampled_from(["", "1", "29000001", "12", " 7 ", "x", "%5B", "a+b", "%D0%97", "%", "%zz", "=", "٣"]),
    st.text(max_size=8),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(KEY, VALUE), max_size=14))
def test_scrambled_amocrm_shaped_bodies_parse_as_before(pairs: list[tuple[str, str]]) -> None:
    """Nested keys, odd brackets, appends and bad numbers give the same payload or reason as before."""
    same(urlencode(pairs).encode())
    # Keys sent with literal brackets and raw (not percent-encoded) text, as some senders do.
    same("&".join(f"{k}={v}" for k, v in pairs).encode())


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(KEY, VALUE), max_size=10), st.binary(max_size=40))
def test_raw_escapes_and_noise_parse_as_before(pairs: list[tuple[str, str]], noise: bytes) -> None:
    """Half-escaped keys, broken percent escapes and arbitrary bytes give the same outcome as before."""
    text = "&".join(f"{k}={quote(v, safe='%[]=+')}" for k, v in pairs)
    same(text.encode())
    same(text.encode() + b"&" + noise)
    same(noise)


def test_the_key_cache_does_not_change_repeated_or_conflicting_bodies() -> None:
    """A body parsed after others that share its field names reads exactly as it does on its own."""
    bodies = [
        b"leads[add][0][id]=1&account[id]=2",
        b"leads%5Badd%5D%5B0%5D%5Bid%5D=1&leads[add][0][id][x]=2",
        b"leads[add][]=1&leads[add][][id]=3&account[id]=2",
        b"leads[add][][id]=1&leads[add][][id]=2&leads[add][][name]=x&account[id]=2",
        b"leads[update][0][tags][][name]=a&leads[update][0][tags][][name]=b&leads[update][0][id]=1",
        b"leads[add][0]=1&leads[add][0][id]=2",
        b"leads[update][1][id]=5&leads[update][0][id]=4&leads[update][10][id]=6&leads[update][2][id]=7",
        b"leads[update][0][id]=5&leads[update][0][custom_fields][1][id]=9&leads[update][0][custom_fields][0][id]=8",
        b"a[b][c][d][e][f][g][h][i]=1",
        b"leads[add][0][id]=1&leads[add][0][id]=2&account[id]=3",
    ]
    for _ in range(2):
        for body in bodies:
            same(body)


@settings(max_examples=1000, deadline=None)
@given(
    st.one_of(
        st.text(max_size=30),
        st.text(alphabet="%+abcdefABCDEF0123456789xz\\ ", max_size=30),
        st.text(max_size=10).map(lambda text: quote(text, safe="")),
    )
)
def test_values_are_unquoted_exactly_as_by_the_standard_library(text: str) -> None:
    """The fast unquote gives what `urllib.parse.unquote_plus` gives, broken escapes and backslashes included."""
    assert parse._unquote(text) == unquote_plus(text)
