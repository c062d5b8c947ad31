"""The `/admin` pages (`router`) and the weekly report page (`leadpact.admin.reports.reports_router`)."""

from leadpact.admin.pages import router

__all__ = ["router"]
