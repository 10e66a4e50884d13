"""The small HTML pages the browser sees after an authorization."""

from __future__ import annotations

from html import escape

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>{title} · Jira for Slack</title>
<style>
body{{font-family:-apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,sans-serif;
background:#f4f5f7;color:#172b4d;display:flex;min-height:100vh;align-items:center;justify-content:center;margin:0}}
main{{background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(9,30,66,.25);
padding:32px 40px;max-width:520px}}
h1{{font-size:22px;margin:0 0 12px}} p{{line-height:1.5}} .ok{{color:#006644}} .err{{color:#bf2600}}
</style></head>
<body><main><h1 class="{kind}">{title}</h1>{body}</main></body></html>"""


def render_page(title: str, paragraphs: list[str], *, ok: bool) -> str:
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return _PAGE.format(title=escape(title), body=body, kind="ok" if ok else "err")
