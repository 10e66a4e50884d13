"""Seeing jirabot work: Prometheus metrics (`metrics`), request ids in every log line (`request_id`),
the HTTP and Slack request observer (`asgi`, `slack`), Jira call metrics (`jira_calls`) and optional
OpenTelemetry traces (`tracing`)."""
