"""Slack listeners: ack, parse, call a service, render. Each module has `register(app, services)`."""
