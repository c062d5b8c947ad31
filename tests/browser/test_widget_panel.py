"""The built widget renders the LeadPact panel in a real Chromium, inside an emulated amoCRM lead card."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy.engine import Engine

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

from integration.servers import free_port, serve_in_thread
from integration.settings import Settings
from leadpact.widget.build import build_widget
from tests.integration.promos.widget_support import ACCOUNT_ID, LEAD_ID, seed, token, widget_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts"
DOCS_SCREENSHOT = REPO / "docs" / "screenshots" / "widget.png"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]

# The globals and the AMD `define` amoCRM gives a widget, and the helpers it puts on the widget object.
HOST_PAGE = """<!doctype html>
<html lang="ru"><head><meta charset="utf-8"><title>amoCRM lead card (emulated)</title>
<style>
  body {{ margin: 0; font-family: Arial, sans-serif; background: #f5f5f5; }}
  .card {{ display: flex; }}
  .card__main {{ flex: 1; padding: 20px; }}
  #widgets_block {{ width: 300px; background: #fff; border-left: 1px solid #e0e0e0; min-height: 600px; }}
</style>
<script>
  window.AMOCRM = {{
    data: {{ current_card: {{ id: {lead_id} }} }},
    lang_id: "ru",
    constant: function (name) {{ return name === "account" ? {{ id: {account_id} }} : null; }}
  }};
  window.define = function (deps, factory) {{ window.__widgetFactory = factory; }};
  window.define.amd = {{}};
</script>
<script src="/widget/script.js"></script>
</head><body>
<div class="card"><div class="card__main">Сделка #{lead_id}</div><div id="widgets_block"></div></div>
<script>
  var i18n = {i18n};
  var Widget = window.__widgetFactory(function () {{}});
  var widget = new Widget();
  widget.i18n = function (key) {{ return i18n[key]; }};
  widget.get_settings = function () {{ return {{ backend_url: "{backend}" }}; }};
  widget.system = function () {{ return {{ area: "lcard", subdomain: "acme" }}; }};
  widget.render_template = function (options) {{
    var block = document.createElement("div");
    block.className = "card-widgets__widget " + options.caption.class_name;
    block.innerHTML = options.render;
    document.getElementById("widgets_block").appendChild(block);
  }};
  widget.$authorizedAjax = function (options) {{
    return fetch("/token{token_query}").then(function (r) {{ return r.json(); }}).then(function (t) {{
      return fetch(options.url, {{
        method: options.method || "GET",
        headers: {{ "X-Auth-Token": t.token, "Content-Type": "application/json" }},
        body: options.data
      }});
    }}).then(function (r) {{ return r.ok ? r.json() : Promise.reject({{ status: r.status }}); }});
  }};
  widget.callbacks.init();
  widget.callbacks.bind_actions();
  if ("{area}" === "settings") {{
    // amoCRM's widget settings window hands the widget its body to add to.
    var body = document.createElement("div");
    body.className = "widget_settings_block";
    document.querySelector(".card__main").appendChild(body);
    widget.callbacks.settings(body);
  }} else {{
    widget.callbacks.render();
  }}
</script>
</body></html>
"""


def host_app(widget_dir: Path, backend: str) -> FastAPI:
    """A page standing in for the amoCRM lead card, serving the built widget and minting its tokens."""
    app = FastAPI()
    i18n = json.loads((widget_dir / "i18n" / "ru.json").read_text(encoding="utf-8"))

    @app.get("/")
    def page(lead: int = LEAD_ID, admin: bool = False, area: str = "lcard") -> HTMLResponse:
        return HTMLResponse(
            HOST_PAGE.format(
                lead_id=lead,
                account_id=ACCOUNT_ID,
                i18n=json.dumps(i18n),
                backend=backend,
                token_query="?admin=1" if admin else "",
                area=area,
            )
        )

    @app.get("/widget/script.js")
    def script() -> Response:
        return Response((widget_dir / "script.js").read_bytes(), media_type="application/javascript")

    @app.get("/token")
    def mint(admin: bool = False) -> JSONResponse:
        return JSONResponse({"token": token(is_admin=admin)})

    return app


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the module: launching it costs more than a test."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 900, "height": 800})
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def widget_dir(tmp_path: Path) -> Path:
    """The widget exactly as uploaded to amoCRM: built into a zip and unpacked."""
    archive = build_widget(tmp_path / "widget.zip")
    target = tmp_path / "widget"
    with zipfile.ZipFile(archive) as unpacked:
        unpacked.extractall(target)
    return target


@pytest.fixture
def lead_card(settings: Settings, engine: Engine, widget_dir: Path) -> Iterator[str]:
    host_port = free_port()
    host_origin = f"http://127.0.0.1:{host_port}"
    # The account's pages are served from the host page's origin, so CORS must allow exactly it.
    seed(engine, base_url=host_origin)
    with (
        serve_in_thread(widget_app(settings, engine)) as backend,
        serve_in_thread(host_app(widget_dir, backend), port=host_port) as host,
    ):
        yield host


class TestWidgetInChromium:
    def test_panel_shows_channel_level_promos_and_coupon_within_300px(
        self, lead_card: str, page: Page
    ) -> None:
        """In the lead card the rep sees channel, level with its reason, the promos with codes and the coupon."""
        ARTIFACTS.mkdir(exist_ok=True)
        page.goto(lead_card)
        panel = page.locator("#leadpact-panel[data-state='ready']")
        panel.wait_for(timeout=10_000)
        text = panel.inner_text()
        assert "Канал: ads" in text
        assert "горячий" in text and "Бюджет ≥ 100 000 ₽ и ЛПР на связи" in text
        assert "Весна-2026" in text and "SPRING10" in text
        assert "Персональный купон" in text and "VIP-001" in text
        assert "Выставка Expo-2026" in text
        box = panel.bounding_box()
        assert box is not None and box["width"] <= 300
        overflow = page.evaluate(
            "() => { const p = document.getElementById('leadpact-panel'); return p.scrollWidth - p.clientWidth; }"
        )
        assert overflow <= 0, "the panel must fit the card's 300 px column"
        page.locator("#widgets_block").screenshot(path=str(ARTIFACTS / "widget.png"))
        if os.environ.get("LEADPACT_UPDATE_DOCS_SCREENSHOT"):
            DOCS_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ARTIFACTS / "widget.png", DOCS_SCREENSHOT)

    def test_rep_marks_coupon_used_and_flags_misqualification(self, lead_card: str, page: Page) -> None:
        """Clicking "coupon used" and sending a dispute reason are saved and shown back in the panel."""
        page.goto(lead_card)
        page.locator("#leadpact-panel[data-state='ready']").wait_for(timeout=10_000)
        page.locator(".lp-mark-used").click()
        page.locator(".lp-mark-used").wait_for(state="detached", timeout=10_000)
        page.locator("#leadpact-panel[data-state='ready']").wait_for(timeout=10_000)
        assert "VIP-001 — использован" in page.locator(".lp-coupon").inner_text()
        page.locator(".lp-dispute-reason").fill("Это конкурент")
        page.locator(".lp-dispute-send").click()
        page.locator("#leadpact-panel", has_text="Отмечено: Это конкурент").wait_for(timeout=10_000)

    def test_lead_not_yet_processed_says_so(self, lead_card: str, page: Page) -> None:
        """A lead LeadPact has not seen yet shows a clear message instead of an empty panel."""
        page.goto(f"{lead_card}/?lead=999999")
        page.locator("#leadpact-panel[data-state='error']").wait_for(timeout=10_000)
        assert page.locator("#leadpact-panel").inner_text() == "LeadPact ещё не обработал эту сделку"

    def test_a_lead_nobody_touched_for_six_hours_is_flagged(
        self, lead_card: str, page: Page, engine: Engine
    ) -> None:
        """Speed to lead in the card: an open lead created six hours ago with no note, call, task or stage move
        by a person says so at the top of the panel."""
        from integration.db import session_scope
        from integration.storage.leads import LeadSnapshot
        from tests.integration.promos.widget_support import UNIX_NOW

        with session_scope(engine) as session:
            lead = session.get(LeadSnapshot, (ACCOUNT_ID, LEAD_ID))
            assert lead is not None
            lead.created_at = UNIX_NOW - 6 * 3600
            session.add(lead)
        page.goto(lead_card)
        page.locator("#leadpact-panel[data-state='ready']").wait_for(timeout=10_000)
        assert page.locator(".lp-untouched").inner_text() == "С лидом никто не работал уже 6 ч"

    def test_a_manager_sees_no_admin_link(self, lead_card: str, page: Page) -> None:
        """The rules and report are for account admins: a manager's card offers no way there."""
        page.goto(lead_card)
        page.locator("#leadpact-panel[data-state='ready']").wait_for(timeout=10_000)
        assert page.locator(".lp-open-admin").count() == 0

    @pytest.mark.parametrize("area", ["lcard", "settings"])
    def test_an_admin_opens_leadpact_in_a_new_tab_with_a_one_time_link(
        self, lead_card: str, page: Page, area: str
    ) -> None:
        """From the lead card or the widget's settings window, an admin's click opens a new tab on LeadPact's
        sign-in link (a ticket the backend minted for that admin), in the account's language."""
        page.goto(f"{lead_card}/?admin=1&area={area}")
        button = page.locator(".lp-open-admin")
        button.wait_for(timeout=10_000)
        assert button.inner_text() == "Правила, подписи и отчёт LeadPact"
        with page.context.expect_page(timeout=10_000) as opened:
            button.click()
        tab = opened.value
        tab.wait_for_url("**/admin/login?ticket=*", timeout=10_000)
        assert "lang=ru" in tab.url
        assert tab.url.startswith(page.evaluate("() => widget.get_settings().backend_url"))
