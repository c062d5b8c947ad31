"""The `/admin` pages (`router`) and the weekly report page (`integration.admin.reports.reports_router`)."""

from integration.admin.pages import router

__all__ = ["router"]
