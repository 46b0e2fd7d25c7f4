"""URL helpers: canonical forms and the private-address guard."""

from __future__ import annotations

import ipaddress
import re
import socket
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

# Query parameters that only track the reader and never select content.
TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "msclkid", "yclid", "mc_cid", "mc_eid", "igshid",
        "spm", "scm", "from", "share_token", "share_from", "wfr", "ref_src", "_hsenc", "_hsmi",
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_")

# An absolute http(s) URL that urljoin returns unchanged whatever the base: an ASCII host
# (urlsplit checks others), no query, params or fragment (urlunparse drops an empty one) and no
# whitespace (urlsplit removes tabs and newlines).
_PLAIN_ABSOLUTE = re.compile(r"https?://[^\x00-\x20\x7f-\U0010ffff/?#;\[\]\\]+(?:/[^?#;\s]*)?\Z")
# A URL that is its own canonical form but for a missing "/" path or a fragment: lower-case
# ASCII host without port or user, no query (parse_qsl/urlencode would re-encode it).
_PLAIN_CANONICAL = re.compile(r"https?://[a-z0-9.-]+(/[^?#\s]*)?(#\S*)?\Z")


def join_url(base: str, url: str) -> str:
    """``urljoin(base, url)``, without its cost (two urlsplit calls) for a plain absolute URL."""
    if _PLAIN_ABSOLUTE.match(url):
        return url
    return urljoin(base, url)


def canonical_url(url: str, base: str | None = None) -> str:
    """The canonical form of ``url``: absolute, lower-case host, no fragment, no tracking.

    >>> canonical_url("HTTP://Example.COM:80/a?utm_source=x&id=3#top")
    'http://example.com/a?id=3'
    """
    if base:
        url = urljoin(base, url)
    url = url.strip()
    plain = _PLAIN_CANONICAL.match(url)
    if plain:  # the common case, as the general code below would write it
        fragment = plain.start(2)
        head = url[:fragment] if fragment >= 0 else url
        return head if plain.group(1) else head + "/"
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in TRACKING_PARAMS and not k.lower().startswith(TRACKING_PREFIXES)
    ]
    path = parts.path or "/"
    return urlunsplit((scheme, host, path, urlencode(query, doseq=True), ""))


# Characters a URI may not hold literally (RFC 3986 §2): what the W3C validator flags as
# InvalidUriChar. A backslash is a slash to browsers (WHATWG) in http(s) URLs.
_NOT_URI = re.compile(r"[\x00-\x20\x7f<>\"{}|\\^`]")


def uri_safe(url: str) -> str:
    """``url`` as a URI an Atom reader accepts: backslashes as slashes, and spaces, quotes,
    brackets and control characters percent-encoded (non-ASCII stays: an IRI is valid)."""
    if not _NOT_URI.search(url):
        return url
    url = url.strip().replace("\\", "/")
    return _NOT_URI.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), url)


def document_base(root: Any, url: str) -> str:
    """The URL a parsed page's relative links resolve against: its ``<base href>`` (itself
    resolved against ``url``), else ``url``."""
    for base in root.iter("base"):
        href = str(base.get("href") or "").strip()
        if href:
            return urljoin(url, href)
    return url


def without_tracking(url: str) -> str:
    """``url`` as written but for its tracking parameters (``utm_*``, ``spm``, ``fbclid``...),
    for the links readers follow. ``from``, a tracker on some sites, selects content on
    others and stays."""
    if "?" not in url:
        return url
    parts = urlsplit(url)
    pairs = parts.query.split("&")
    kept = [pair for pair in pairs if not _tracking(pair.split("=", 1)[0])]
    if len(kept) == len(pairs):
        return url
    return urlunsplit(parts._replace(query="&".join(kept)))


def _tracking(name: str) -> bool:
    name = name.lower()
    return name != "from" and (name in TRACKING_PARAMS or name.startswith(TRACKING_PREFIXES))


def fetch_refusal(url: str) -> str | None:
    """Why ``url`` must not be fetched over the network, or None if it may be.

    Only http(s). No user name or password: ``http://public.example@10.0.0.1/`` is a
    classic way to make a private host look public, and no source needs one (credentials
    go in the source's ``headers``). No backslash before the path: WHATWG URL parsers (browsers,
    and urllib3, which makes the connection) read ``\\`` as ``/`` in http(s) URLs, urlsplit does
    not, so ``http://10.0.0.1\\@example.com/`` names two different hosts
    (https://url.spec.whatwg.org/#authority-state).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return f"refusing to fetch a {parts.scheme or 'relative'} URL"
    if not parts.netloc:
        return "refusing to fetch a URL without a host"
    if "\\" in parts.netloc:
        return "refusing to fetch a URL with a backslash in its host part"
    if "@" in parts.netloc:
        return ("refusing to fetch a URL with a user name or password in it; put credentials in "
                "the source's headers")
    return None


def is_private_address(address: str) -> bool:
    """True for an IP address that is not for the public internet: loopback, private,
    link-local, shared (CGNAT), reserved, multicast, unspecified, or an IPv4 one of these
    written as IPv6 (``::ffff:127.0.0.1``)."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_unspecified


def is_private_host(host: str) -> bool:
    """True if ``host`` resolves to a loopback, private, link-local or reserved address.

    A name that does not resolve counts as public: the fetch itself fails with a clear DNS
    error. This check runs before a request, so it cannot see what the name resolves to
    when the connection is made; Fetcher checks that address again (DNS rebinding).
    """
    try:
        infos = socket.getaddrinfo(host.strip("[]"), None)
    except (socket.gaierror, UnicodeError):
        return False
    return any(is_private_address(str(info[4][0])) for info in infos)
