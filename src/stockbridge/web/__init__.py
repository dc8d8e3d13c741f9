"""The HTTP face of the hub: REST API, webhook receivers, metrics (and the dashboard)."""
