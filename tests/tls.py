"""One TLS context for the tests' own HTTP clients.

httpx loads the whole CA bundle for every client it builds (about 40 ms of CPU), and the tests build a
browser, a Slack driver and an authorize request for nearly every test: a fifth of the suite's CPU went
there. Everything the tests reach is plain http on 127.0.0.1, so one shared context serves them all.
"""

from __future__ import annotations

import ssl

CONTEXT = ssl.create_default_context()
