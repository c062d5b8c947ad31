"""Pages of the sandbox for people: the account's leads as a table (`/_sandbox/`), with the raw JSON one link away
(`/_sandbox/state`), and a lead card (`/_sandbox/card`) that loads an integration's widget the way amoCRM does.

The card emulates what amoCRM gives a widget in the lead card: the `AMOCRM` globals with the card's lead and the
account, an AMD `define`, the widget helpers (`i18n`, `get_settings`, `system`, `render_template`) and
`$authorizedAjax`, which adds a widget token signed for the lead's responsible user (what amoCRM's own
`$authorizedAjax` sends). The widget's files come from the `widget` URL, as amoCRM serves an uploaded archive.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from amocrm_sandbox.deps import StateDep
from amocrm_sandbox.problems import Problem
from amocrm_sandbox.seed import MOSCOW_OFFSET
from amocrm_sandbox.state import Account, Record, SandboxState

router = APIRouter(prefix="/_sandbox")

# The fields an integration wrote, told apart from the account's own: their code or name says so.
INTEGRATION_MARK = "LEADPACT"
PAGE_STYLE = (
    "body{font:14px/1.4 Arial,sans-serif;margin:1.5em;color:#313942}table{border-collapse:collapse}"
    "td,th{border:1px solid #dde2e8;padding:3px 6px;vertical-align:top;text-align:left}th{background:#f2f5f8}"
    ".tag{display:inline-block;background:#eef3f8;border-radius:3px;padding:0 4px;margin:1px}"
    # Long values (the level's reason) stay on one line, cut with "…"; the full text is the cell's tooltip.
    "td.value{max-width:16em;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}"
)


def _account(sandbox: SandboxState, account_id: int | None) -> Account:
    if account_id is not None:
        return sandbox.account(account_id)
    if not sandbox.accounts:
        raise Problem(404, "The sandbox has no account yet")
    return next(iter(sandbox.accounts.values()))


def _is_integration_field(value: Record) -> bool:
    marks = f"{value.get('field_code') or ''} {value.get('field_name') or ''}".upper()
    return INTEGRATION_MARK in marks


def _shown(field_type: object, raw: object) -> str:
    """A value as amoCRM's card shows it: dates as dates (they are unix seconds in the API), checkboxes as ✓."""
    if field_type in ("date", "date_time", "birthday") and isinstance(raw, int | float):
        # Shown in the account's timezone, where a date field's value is the start of the day.
        moment = datetime.fromtimestamp(raw + MOSCOW_OFFSET, UTC)
        return moment.strftime("%Y-%m-%d %H:%M" if field_type == "date_time" else "%Y-%m-%d")
    if field_type == "checkbox":
        return "✓" if raw else "—"
    return str(raw)


def _field_text(value: Record) -> str:
    return ", ".join(
        _shown(value.get("field_type"), v.get("value"))
        for v in value.get("values") or ()
        if v.get("value") not in (None, "")
    )


def _status_name(account: Account, lead: Record) -> str:
    pipeline = account.pipelines.get(lead.get("pipeline_id") or 0) or {}
    for status in (pipeline.get("_embedded") or {}).get("statuses") or ():
        if status.get("id") == lead.get("status_id"):
            return str(status.get("name"))
    return str(lead.get("status_id"))


def _user_name(account: Account, user_id: Any) -> str:
    user = account.users.get(user_id) if isinstance(user_id, int) else None
    return str(user.get("name")) if user else "—"


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html lang='ru'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{PAGE_STYLE}</style></head><body>{body}</body></html>"
    )


@router.get("/", response_class=HTMLResponse)
async def state_page(sandbox: StateDep, account_id: int | None = None) -> HTMLResponse:
    """The account's leads with the integration's fields and the tags, newest first."""
    account = _account(sandbox, account_id)
    leads = sorted(account.leads.values(), key=lambda lead: int(lead.get("id") or 0), reverse=True)
    integration_columns: list[str] = []
    for lead in leads:
        for value in lead.get("custom_fields_values") or ():
            name = str(value.get("field_name") or value.get("field_code"))
            if _is_integration_field(value) and name not in integration_columns:
                integration_columns.append(name)
    head = "".join(
        f"<th>{html.escape(name)}</th>"
        for name in ("id", "Сделка / lead", "Этап / status", "Ответственный / owner", *integration_columns)
    )
    rows = []
    for lead in leads:
        values = {
            str(value.get("field_name") or value.get("field_code")): _field_text(value)
            for value in lead.get("custom_fields_values") or ()
            if _is_integration_field(value)
        }
        tags = "".join(
            f"<span class='tag'>{html.escape(str(tag.get('name')))}</span>"
            for tag in (lead.get("_embedded") or {}).get("tags") or ()
        )
        cells = [
            f"<td><a href='card?lead={lead['id']}&amp;account_id={account.id}'>{lead['id']}</a></td>",
            f"<td>{html.escape(str(lead.get('name') or ''))}{f'<br>{tags}' if tags else ''}</td>",
            f"<td>{html.escape(_status_name(account, lead))}</td>",
            f"<td>{html.escape(_user_name(account, lead.get('responsible_user_id')))}</td>",
            *(
                f"<td class='value' title='{html.escape(values.get(name, ''), quote=True)}'>"
                f"{html.escape(values.get(name, ''))}</td>"
                for name in integration_columns
            ),
        ]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    body = (
        f"<h1>amoCRM sandbox · {html.escape(account.name)} ({html.escape(account.subdomain)})</h1>"
        f"<p>сделок / leads: {len(leads)} · задач / tasks: {len(account.tasks)} · "
        f"<a href='state?account_id={account.id}'>JSON</a> · <a href='stats'>stats</a></p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
    return _page(f"amoCRM sandbox · {account.subdomain}", body)


CARD_PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>
<style>
  body {{ margin: 0; font-family: Arial, sans-serif; background: #f5f5f5; color: #313942; }}
  .card {{ display: flex; min-height: 100vh; }}
  .card__main {{ flex: 1; padding: 20px; }}
  .card__main table {{ border-collapse: collapse; background: #fff; }}
  .card__main td {{ border-bottom: 1px solid #eee; padding: 4px 10px; font-size: 13px; }}
  #widgets_block {{ width: 300px; background: #fff; border-left: 1px solid #e0e0e0; }}
  .pick {{ margin-bottom: 12px; }}
</style>
<script>
  window.AMOCRM = {{
    data: {{ current_card: {{ id: {lead_id} }} }},
    lang_id: {lang_json},
    constant: function (name) {{ return name === "account" ? {{ id: {account_id} }} : null; }}
  }};
  window.define = function (deps, factory) {{ window.__widgetFactory = factory; }};
  window.define.amd = {{}};
</script>
{widget_script}
</head><body>
<div class="card"><div class="card__main">
<form class="pick" method="get"><input type="hidden" name="account_id" value="{account_id}">{hidden}
<select name="lead" onchange="this.form.submit()">{options}</select></form>
<h2>{title}</h2><table>{fields}</table>
<p><a href="./?account_id={account_id}">← sandbox</a></p>
</div><div id="widgets_block"></div></div>
<script>
(function () {{
  if (!window.__widgetFactory) {{ return; }}
  var base = {widget_json};
  fetch(base + "i18n/" + {lang_json} + ".json").then(function (r) {{ return r.json(); }}).then(function (i18n) {{
    var Widget = window.__widgetFactory(function () {{}});
    var widget = new Widget();
    widget.i18n = function (key) {{ return i18n[key]; }};
    widget.get_settings = function () {{ return {{ backend_url: {backend_json} }}; }};
    widget.system = function () {{ return {{ area: "lcard", subdomain: {subdomain_json} }}; }};
    widget.render_template = function (options) {{
      var block = document.createElement("div");
      block.className = "card-widgets__widget " + options.caption.class_name;
      block.innerHTML = options.render;
      document.getElementById("widgets_block").appendChild(block);
    }};
    widget.$authorizedAjax = function (options) {{
      return fetch("widget-token", {{
        method: "POST", headers: {{ "Content-Type": "application/json" }},
        body: JSON.stringify({{ account_id: {account_id}, user_id: {user_id} }})
      }}).then(function (r) {{ return r.json(); }}).then(function (t) {{
        return fetch(options.url, {{
          method: options.method || "GET",
          headers: {{ "X-Auth-Token": t.token, "Content-Type": "application/json" }},
          body: options.data
        }});
      }}).then(function (r) {{ return r.ok ? r.json() : Promise.reject({{ status: r.status }}); }});
    }};
    widget.callbacks.init();
    widget.callbacks.bind_actions();
    widget.callbacks.render();
  }});
}})();
</script>
</body></html>
"""


def _viewer(account: Account, viewer: str | None) -> int | None:
    if not viewer:
        return None
    if viewer == "admin":
        admins = [uid for uid, user in account.users.items() if (user.get("rights") or {}).get("is_admin")]
        if admins:
            return min(admins)
    elif viewer.isdigit() and int(viewer) in account.users:
        return int(viewer)
    raise Problem(404, f"No such user in this account: {viewer}")


@router.get("/card", response_class=HTMLResponse)
async def lead_card(
    sandbox: StateDep,
    lead: int | None = None,
    account_id: int | None = None,
    widget: str | None = None,
    backend: str = "",
    lang: str = "ru",
    viewer: str | None = None,
) -> HTMLResponse:
    """A lead card as amoCRM draws it, with the widget at `widget` (a base URL) in the right column, seen by
    `viewer` (a user id of the account, or `admin` for its first administrator; by default the lead's responsible
    user): the widget's tokens are theirs."""
    account = _account(sandbox, account_id)
    if not account.leads:
        raise Problem(404, "The account has no leads")
    chosen = account.leads.get(lead) if lead is not None else None
    if chosen is None:
        if lead is not None:
            raise Problem(404, f"Lead {lead} is not in this account")
        chosen = max(account.leads.values(), key=lambda item: int(item.get("updated_at") or 0))
    language = "en" if lang == "en" else "ru"
    seen_by = _viewer(account, viewer)
    options = "".join(
        f"<option value='{item['id']}'{' selected' if item['id'] == chosen['id'] else ''}>"
        f"#{item['id']} {html.escape(str(item.get('name') or ''))}</option>"
        for item in sorted(account.leads.values(), key=lambda item: int(item["id"]))
    )
    hidden = "".join(
        f"<input type='hidden' name='{name}' value='{html.escape(value, quote=True)}'>"
        for name, value in (
            ("widget", widget or ""),
            ("backend", backend),
            ("lang", language),
            ("viewer", viewer or ""),
        )
        if value
    )
    fields = "".join(
        f"<tr><td>{html.escape(str(value.get('field_name') or value.get('field_code')))}</td>"
        f"<td>{html.escape(_field_text(value))}</td></tr>"
        for value in chosen.get("custom_fields_values") or ()
    )
    status = f"<tr><td>Этап / status</td><td>{html.escape(_status_name(account, chosen))}</td></tr>"
    owner = (
        f"<tr><td>Ответственный / owner</td>"
        f"<td>{html.escape(_user_name(account, chosen.get('responsible_user_id')))}</td></tr>"
    )
    widget_script = (
        f"<script src='{html.escape(widget.rstrip('/') + '/script.js', quote=True)}'></script>"
        if widget
        else ""
    )
    page = CARD_PAGE.format(
        lang=language,
        lang_json=json.dumps(language),
        title=html.escape(f"#{chosen['id']} {chosen.get('name') or ''}"),
        lead_id=int(chosen["id"]),
        account_id=account.id,
        user_id=seen_by
        if seen_by is not None
        else int(chosen.get("responsible_user_id") or account.first_user_id),
        subdomain_json=json.dumps(account.subdomain),
        widget_json=json.dumps((widget or "").rstrip("/") + "/"),
        backend_json=json.dumps(backend),
        widget_script=widget_script,
        options=options,
        hidden=hidden,
        fields=status + owner + fields,
    )
    return HTMLResponse(page)
