"""The fast webhook parser reads every body as the reference (pre-rewrite) parser did, except where it salvages.

The reference parser (`parse_reference.py`) is frozen. Since issue 13 our parser deliberately differs from it in
one way: it salvages instead of refusing. A body the reference refused whole may now be read in part (the
unreadable parts counted), a value with bytes that are not UTF-8 or an id of zero or below makes its part
unreadable instead of being taken, and lead events also carry `closed_at`. `same` checks exactly that: where the
reference reads a body, every part we read is what the reference read; where we differ, we say so (an unreadable
part or an ignored key), never silently.
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
from typing import Any
from urllib.parse import quote, unquote_plus, urlencode

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.webhooks import parse_reference as reference
from webhooks import parse

# Why our parser may refuse a part (or a body) the reference read: the deliberate changes of issue 13.
DELIBERATE = ("above zero", "not UTF-8")


def outcome(module: object, body: bytes) -> object:
    """The payload, or the refusal reason, that `module.parse_webhook` gives for `body`."""
    try:
        return module.parse_webhook(body)  # type: ignore[attr-defined]
    except module.WebhookParseError as exc:  # type: ignore[attr-defined]
        return ("refused", exc.reason)


def _comparable(event: object, unreadable: tuple[str, ...] = ()) -> dict[str, Any]:
    data = {field.name: getattr(event, field.name) for field in dataclasses.fields(event)}  # type: ignore[arg-type]
    data["type"] = type(event).__name__
    for extra in ("closed_at", "unreadable"):
        data.pop(extra, None)
    for part in unreadable:
        name = part.split("[", 1)[0]
        data.pop({"date_create": "created_at", "note_type": "note_type"}.get(name, name), None)
        if name in ("created_at", "date_create"):
            data.pop("created_at", None)
    return data


def same_events(ours: tuple[Any, ...], theirs: tuple[Any, ...]) -> None:
    """Event by event: a whole event equals the reference's; a partly read one equals it in every part read."""
    assert len(ours) == len(theirs)
    for mine, expected in zip(ours, theirs, strict=True):
        if isinstance(mine, parse.UnreadableEvent):
            assert any(why in mine.reason for why in DELIBERATE), mine
            continue
        assert all(part for part in mine.unreadable)
        assert repr(_comparable(mine, mine.unreadable)) == repr(_comparable(expected, mine.unreadable))


def same(body: bytes) -> None:
    expected = outcome(reference, body)
    got = outcome(parse, body)
    if isinstance(got, tuple):
        if isinstance(expected, tuple):
            return  # both refuse (our reason may name the first unreadable entity instead)
        assert any(why in got[1] for why in DELIBERATE), f"refused a body the reference reads: {got}"
        return
    assert isinstance(got, parse.WebhookPayload)
    if isinstance(expected, tuple):
        assert got.unreadable_count + got.keys_ignored > 0, f"salvaged {expected} without saying so"
        return
    same_events(got.events, expected.events)  # type: ignore[attr-defined]
    if got.account_id != expected.account_id:  # type: ignore[attr-defined]
        assert got.account_id is None and got.keys_ignored > 0


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


# --- the receiver's one-pass path (`parse_webhook_for_inbox`) ---------------------------------------------


def same_for_inbox(body: bytes) -> None:
    """What the receiver stores for `body` reads back as `parse_webhook` reads it (one-pass path or not), and
    as the reference parser within `same`'s terms."""
    same(body)
    general = outcome(parse, body)
    try:
        stored = parse.parse_webhook_for_inbox(body)
    except parse.WebhookParseError as exc:
        assert ("refused", exc.reason) == general
        return
    assert isinstance(general, parse.WebhookPayload), f"stored a body parse_webhook refuses: {general}"
    restored = tuple(parse.event_from_dict(orjson.loads(orjson.dumps(data))) for data in stored.events)
    assert repr(restored) == repr(general.events)
    assert stored.claimed_account_ids == general.claimed_account_ids
    assert stored.unreadable == general.unreadable_count


ODD_NUMBERS = ["", "0", " 7 ", "-3", "01", "x", "1e3", "٣", "9" * 19]  # the last four are refused
ODD_TEXTS = ["", "a+b", "100%", "%zz", "=", "Заявка & co"]
SCALARS = ["name", "status_id", "old_status_id", "pipeline_id", "price", "account_id", "created_at",
           "date_create", "updated_at", "last_modified", "responsible_user_id", "modified_user_id", "type"]  # fmt: skip


def amocrm_body(rng: random.Random, oddity: float) -> list[tuple[str, str]]:
    """Entities as amoCRM writes them; each choice goes odd (a value, key, index or order amoCRM would not
    send) with probability `oddity`."""

    def odd() -> bool:
        return rng.random() < oddity

    def number() -> str:
        return rng.choice(ODD_NUMBERS) if odd() else str(rng.randint(1, 2_000_000_000))

    def text() -> str:
        return rng.choice(ODD_TEXTS) if odd() else rng.choice(["Заявка с сайта", "vip", "CRM", "Иван"])

    def index(position: int) -> str:
        return rng.choice(["1", "10", "01", ""]) if odd() else str(position)

    pairs: list[tuple[str, str]] = []
    counters: dict[tuple[str, str], int] = {}
    for _ in range(rng.randint(0, 4)):
        entity = rng.choice(["leads", "leads", "contacts", "companies"])
        usual = (
            ["add", "update", "status", "delete"] if entity == "leads" else ["add", "update", "responsible"]
        )
        action = rng.choice(["note", "x", "status"] if odd() else usual)
        position = counters[entity, action] = counters.get((entity, action), -1) + 1
        prefix = f"{entity}[{action}][{index(position)}]"
        entity_pairs = [] if odd() else [(f"{prefix}[id]", number())]
        for name in rng.sample(SCALARS, rng.randint(0, 8)):
            entity_pairs.append((f"{prefix}[{name}]", text() if name in ("name", "type") else number()))
        for tag in range(rng.randint(0, 2)):
            entity_pairs += [
                (f"{prefix}[tags][{tag}][id]", number()),
                (f"{prefix}[tags][{tag}][name]", text()),
            ]
        for field in range(rng.randint(0, 3)):
            base = f"{prefix}[custom_fields][{index(field)}]"
            entity_pairs += [(f"{base}[id]", number()), (f"{base}[name]", text())]
            if rng.random() < 0.5:
                entity_pairs.append((f"{base}[code]", "UTM_SOURCE"))
            for value in range(rng.randint(0, 2)):
                shape = rng.choice(["", "[enum_id]", "[other]", "[value][x]"]) if odd() else "[value]"
                entity_pairs.append((f"{base}[values][{index(value)}]{shape}", text()))
                if rng.random() < 0.3:
                    entity_pairs.append((f"{base}[values][{index(value)}][enum]", number()))
        if odd():
            rng.shuffle(entity_pairs)
        pairs += entity_pairs
    for key in ("account[subdomain]", "account[id]", "account[_links][self]"):
        if not odd():
            pairs.append((key, number() if key == "account[id]" else "acme"))
    return pairs


@settings(max_examples=300, deadline=None)
@given(st.randoms(use_true_random=False), st.sampled_from([0.02, 0.1, 0.3]))
def test_what_the_receiver_stores_reads_as_the_reference_parser(rng: random.Random, oddity: float) -> None:
    """amoCRM-shaped bodies — odd numbers, duplicate and conflicting keys, reordered fields — give the inbox the
    same events and account ids as the reference parser, or the same refusal."""
    pairs = amocrm_body(rng, oddity)
    same_for_inbox(urlencode(pairs).encode())
    same_for_inbox("&".join(f"{k}={v}" for k, v in pairs).encode())


def test_most_amocrm_shaped_bodies_take_the_one_pass_path() -> None:
    """The bodies above mostly exercise the receiver's one-pass path, not only the fallback."""
    rng = random.Random(5)
    bodies = [urlencode(amocrm_body(rng, 0.02)).encode() for _ in range(500)]
    one_pass = 0
    for body in bodies:
        same_for_inbox(body)
        with contextlib.suppress(parse._Irregular):
            one_pass += parse._parse_regular(body) is not None
    assert one_pass > 0.6 * len(bodies)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(KEY, VALUE), max_size=14), st.binary(max_size=20))
def test_scrambled_bodies_store_what_the_reference_parser_reads(
    pairs: list[tuple[str, str]], noise: bytes
) -> None:
    same_for_inbox(urlencode(pairs).encode())
    same_for_inbox(urlencode(pairs).encode() + noise)


def test_the_sandbox_webhooks_take_the_one_pass_path() -> None:
    """Every body the sandbox emits for leads and contacts is read in one pass (the receiver's fast path)."""
    from amocrm_sandbox.events import WebhookEvent
    from amocrm_sandbox.state import Account
    from amocrm_sandbox.webhook_format import webhook_body

    account = Account(id=29000001, subdomain="acme", name="Acme", created_at=1_700_000_000)
    lead: dict[str, Any] = {
        "id": 7, "name": "Заявка с сайта", "status_id": 142, "price": 5000, "responsible_user_id": 3,
        "updated_at": 1_700_000_100, "updated_by": 3, "created_by": 3, "created_at": 1_700_000_000,
        "pipeline_id": 1, "account_id": 29000001, "_embedded": {"tags": [{"id": 1, "name": "vip"}]},
        "custom_fields_values": [
            {"field_id": 9, "field_name": "Бюджет", "field_code": "BUDGET", "field_type": "numeric",
             "values": [{"value": "150000"}]},
            {"field_id": 10, "field_name": "Дата", "field_type": "date", "values": [{"value": 1615845600}]},
            {"field_id": 11, "field_name": "Продукт", "field_type": "select",
             "values": [{"value": "CRM", "enum_id": 5}]},
        ],
    }  # fmt: skip
    contact = {**lead, "name": "Иван", "custom_fields_values": lead["custom_fields_values"][:1]}
    events = [
        WebhookEvent(entity="leads", action="add", data=lead),
        WebhookEvent(entity="leads", action="update", data=lead),
        WebhookEvent(entity="leads", action="status", data=lead, previous={"old_status_id": 141}),
        WebhookEvent(entity="leads", action="delete", data=lead),
        WebhookEvent(entity="contacts", action="update", data=contact),
    ]
    for chosen in ([event] for event in events):
        body = webhook_body(account, chosen)
        assert parse._parse_regular(body) is not None, body
        same_for_inbox(body)
    assert parse._parse_regular(webhook_body(account, events)) is not None
    same_for_inbox(webhook_body(account, events))


def test_a_mass_edit_body_reads_as_the_reference_parser() -> None:
    """A body too big to be read by layout (hundreds of leads at once) goes the general way, with the same result."""
    from tests.integration.webhooks.helpers import mass_edit_body

    body = mass_edit_body(29000001, leads=120, fields=6)
    assert body.count(b"&") + 1 > parse._LAYOUTS.largest
    same_for_inbox(body)


def test_the_layout_cache_holds_a_bounded_number_of_field_names() -> None:
    """Thousands of different layouts (every count of leads, every field set) cannot grow the cache for ever."""
    cache = parse._LayoutCache(largest=2048, names_held_max=5_000)
    for leads in range(1, 60):
        for fields in range(0, 4):
            pairs = [
                (f"leads[update][{i}][custom_fields][{j}][id]", "1")
                for i in range(leads)
                for j in range(fields)
            ]
            pairs += [(f"leads[update][{i}][id]", str(i + 1)) for i in range(leads)]
            names = tuple(name for name, _ in pairs)
            assert cache.program(names) is not None
            assert cache.names_held <= 5_000
    assert 0 < len(cache) < 59 * 4
