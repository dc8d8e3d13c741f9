"""The merchant dashboard: server-rendered pages (Jinja2) with htmx for live progress and
buttons, mounted on the service's app by ``mount_dashboard``."""

from stockbridge.web.dashboard.routes import mount_dashboard

__all__ = ["mount_dashboard"]
