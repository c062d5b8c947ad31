"""Reusing computed weekly reports on the report page.

Computing a week's figures reads the account's whole closed history (stage win rates) — seconds on a million
leads — while telling whether anything changed takes a few indexed aggregates (`data_fingerprint`). A report
whose data is unchanged and that is younger than its lifetime (a minute for a running week, whose run rate
moves with time; ten minutes for a closed one) is served as is. A report whose data changed since is still
served while it is younger than `STALE_SECONDS` — the page shows when its figures were taken — and one
background recomputation per week replaces it; only a week never computed (or long stale) is computed while
the visitor waits. Owned by the app (`app.state`), never module-global; bounded.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sync.reports.model import WeeklyReport
from sync.stats.periods import Period

log = logging.getLogger(__name__)

Key = tuple[int, Period]
Fingerprint = tuple[object, ...]


@dataclass(frozen=True, slots=True)
class _Entry:
    fingerprint: Fingerprint
    computed_at: float
    fresh_until: float
    report: WeeklyReport


class WeeklyReportCache:
    OPEN_WEEK_SECONDS = 60.0
    CLOSED_WEEK_SECONDS = 600.0
    STALE_SECONDS = 900.0

    def __init__(self, max_entries: int = 64) -> None:
        self._entries: dict[Key, _Entry] = {}
        self._refreshing: set[Key] = set()
        self._max_entries = max_entries
        self._lock = threading.Lock()

    def lookup(self, key: Key, fingerprint: Fingerprint, now: float) -> tuple[WeeklyReport | None, bool]:
        """(a report to show, whether it is current); (None, False) when the visitor must wait for one."""
        with self._lock:
            entry = self._entries.get(key)
        if entry is None or now - entry.computed_at >= self.STALE_SECONDS:
            return None, False
        return entry.report, entry.fingerprint == fingerprint and now < entry.fresh_until

    def store(self, key: Key, fingerprint: Fingerprint, report: WeeklyReport, now: float) -> None:
        week_over = now >= report.week_bounds[1]
        ttl = self.CLOSED_WEEK_SECONDS if week_over else self.OPEN_WEEK_SECONDS
        with self._lock:
            if len(self._entries) >= self._max_entries and key not in self._entries:
                oldest = min(self._entries, key=lambda k: self._entries[k].computed_at)
                del self._entries[oldest]
            self._entries[key] = _Entry(fingerprint, now, now + ttl, report)

    def refresh_in_background(
        self, key: Key, compute: Callable[[], tuple[Fingerprint, WeeklyReport, float]]
    ) -> bool:
        """Start one recomputation of `key` unless one is running; True when this call started it."""
        with self._lock:
            if key in self._refreshing:
                return False
            self._refreshing.add(key)

        def run() -> None:
            try:
                fingerprint, report, now = compute()
                self.store(key, fingerprint, report, now)
            except Exception:
                log.exception("weekly report of account %s could not be recomputed", key[0])
            finally:
                with self._lock:
                    self._refreshing.discard(key)

        threading.Thread(target=run, name=f"weekly-report-{key[0]}", daemon=True).start()
        return True
