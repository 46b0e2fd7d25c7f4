"""The one error tree of feeds.

Every error a user can cause or meet derives from :class:`FeedsError`::

    FeedsError
    ├── ConfigError          bad YAML or schema; carries every problem with file:line
    ├── SourceError          one source failed; carries ``source_id`` and ``url``
    │   ├── FetchError       network, HTTP status, size or time limit, blocked address
    │   │   └── GoneError    HTTP 410: the source was removed for good
    │   └── ParseError       the body is not a feed / page we can read
    └── StoreError           the database cannot be opened or has another schema
        └── LockedError      another `feeds` process holds the store

Third-party exceptions are wrapped at the boundary (``raise FetchError(...) from e``) so that
callers handle one family, and the original stays in ``__cause__``.
"""

from __future__ import annotations

from dataclasses import dataclass


class FeedsError(Exception):
    """Base class of every error feeds raises on purpose."""


@dataclass(frozen=True)
class ConfigProblem:
    """One problem in a config file, located as precisely as we can."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        key = f" {self.path}:" if self.path else ""
        return f"{where}:{key} {self.message}"


class ConfigError(FeedsError):
    """The configuration is invalid; ``problems`` lists every error found."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class SourceError(FeedsError):
    """A source failed; other sources carry on."""

    def __init__(self, source_id: str, url: str, message: str) -> None:
        self.source_id = source_id
        self.url = url
        self.message = message
        super().__init__(f"{source_id}: {message} ({url})")


class FetchError(SourceError):
    """The resource could not be fetched. ``status`` is the HTTP status, if there was one."""

    def __init__(
        self,
        source_id: str,
        url: str,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(source_id, url, message)
        self.status = status
        self.retry_after = retry_after


class GoneError(FetchError):
    """HTTP 410 Gone: the publisher removed the resource on purpose."""


class ParseError(SourceError):
    """The response could not be read as the kind of source configured."""


class StoreError(FeedsError):
    """The store cannot be used (wrong schema version, not a database, ...)."""


class LockedError(StoreError):
    """Another feeds process is using the same store."""
