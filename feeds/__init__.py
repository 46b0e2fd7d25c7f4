"""feeds: turn news sites and existing feeds into clean, valid Atom feeds."""

from __future__ import annotations

__version__ = "0.1.0"
PROJECT_URL = "https://github.com/feeds-project/feeds"
USER_AGENT = f"feeds/{__version__} (+{PROJECT_URL})"
