"""A reusable Atom checker for tests: RELAX NG (when ../shared has it) plus W3C-style rules.

Usage from any test::

    from atomcheck import assert_valid_atom, problems  # tests/ is on sys.path under pytest

    assert problems(path.read_bytes(), self_url="http://localhost:8080/sources/x.atom") == []

``problems`` returns one line per finding, each starting with the W3C Feed Validator's message
class (``MissingSelf``, ``DuplicateAtomLink``, ...) so a failure says what a reader would see.
The W3C-style rules always run; the RELAX NG schema of RFC 4287 runs when
``../shared/validators/atom.rng`` exists (``relaxng_available()`` tells which).
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from lxml import etree
from lxml import html as lxml_html

ATOM_NS = "http://www.w3.org/2005/Atom"
XHTML_NS = "http://www.w3.org/1999/xhtml"
A = f"{{{ATOM_NS}}}"
RNG_PATH = Path(__file__).resolve().parents[2] / "shared" / "validators" / "atom.rng"

# RFC 3339 as the W3C validator applies it: a full date-time with seconds and an offset.
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"
)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
# Characters a URI (or IRI) may never hold literally (RFC 3986 §2, RFC 3987 §2.2).
_BAD_URI_CHARS = re.compile(r"[\s<>\"{}|\\^`\x00-\x1f\x7f]")
_EMAIL = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[A-Za-z]{2,}$")
# Markup a reader would show as literal tags when it sits in a type="text" construct.
_HTML_TAG = re.compile(
    r"</?(a|abbr|b|blockquote|br|code|div|em|figure|h[1-6]|hr|i|iframe|img|li|ol|p|pre|"
    r"script|span|strong|table|td|tr|u|ul)\b[^>]*>|&(lt|gt|amp|quot|nbsp|#\d+|#x[0-9a-f]+);",
    re.IGNORECASE,
)
_DANGEROUS_TAGS = {"script", "object", "embed", "applet", "iframe", "frame", "frameset", "meta",
                   "link", "base", "form"}
_URL_ATTRS = ("href", "src", "poster", "action", "formaction", "srcset")


@lru_cache(maxsize=1)
def _relaxng() -> etree.RelaxNG | None:
    if not RNG_PATH.exists():
        return None
    return etree.RelaxNG(etree.parse(str(RNG_PATH)))


def relaxng_available() -> bool:
    """True when the shared RELAX NG schema is present and will be applied."""
    return _relaxng() is not None


def _full_uri(value: str | None) -> str | None:
    """None when ``value`` is a full URI; else why not."""
    if value is None or not value.strip():
        return "empty"
    if value != value.strip() or _BAD_URI_CHARS.search(value):
        return "InvalidUriChar"
    if not _SCHEME.match(value):
        return "InvalidFullLink"
    parts = urlsplit(value)
    if parts.scheme in ("http", "https") and not parts.hostname:
        return "InvalidFullLink"
    if value.lower().startswith("urn:uuid:"):
        try:
            uuid.UUID(value[9:])
        except ValueError:
            return "InvalidFullLink"
    return None


def _date_problem(value: str | None) -> bool:
    if not value or not _RFC3339.match(value.strip()):
        return True
    try:
        datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return True
    return False


def _where(element: etree._Element, entry_index: dict[etree._Element, int]) -> str:
    for ancestor in (element, *element.iterancestors()):
        if ancestor in entry_index:
            return f"entry[{entry_index[ancestor]}]"
    return "feed"


def _check_links(parent: etree._Element, where: str, out: list[str]) -> None:
    seen: dict[tuple[str, str, str], int] = {}
    for link in parent.findall(A + "link"):
        href = link.get("href")
        rel = link.get("rel", "alternate")
        why = _full_uri(href)
        if why:
            out.append(f"{why}: {where} link rel={rel!r} href={href!r} is not a full URI")
        if rel == "enclosure":
            length = link.get("length")
            if not link.get("type"):
                out.append(f"MissingAttribute: {where} enclosure {href!r} has no type")
            if length is None or not length.isdigit():
                out.append(f"MissingAttribute: {where} enclosure {href!r} has no valid length")
            continue
        if rel == "related":
            continue
        # RFC 4287 §4.1.1: no two alternate links with the same type and hreflang.
        key = (rel, link.get("type", ""), link.get("hreflang", ""))
        seen[key] = seen.get(key, 0) + 1
        if seen[key] == 2:
            out.append(f"DuplicateAtomLink: {where} has two links rel={rel!r} type={key[1]!r}")


def _check_text_construct(element: etree._Element, where: str, out: list[str]) -> None:
    kind = element.get("type", "text")
    name = etree.QName(element).localname
    if kind == "xhtml":
        divs = [c for c in element if c.tag == f"{{{XHTML_NS}}}div"]
        if len(element) != 1 or len(divs) != 1:
            out.append(f"MissingXhtmlDiv: {where} {name} type=xhtml is not wrapped in one div")
        else:
            _check_html_tree(divs[0], where, name, out)
        return
    text = element.text or ""
    if kind == "text":
        if _HTML_TAG.search(text):
            snippet = _HTML_TAG.search(text).group(0)  # type: ignore[union-attr]
            out.append(f"ContainsUndeclaredHTML: {where} {name} (type=text) holds {snippet!r}")
    elif kind == "html":
        if text.strip():
            try:
                fragment = lxml_html.fragment_fromstring(text, create_parent="div")
            except (etree.ParserError, ValueError) as e:
                out.append(f"NotHtml: {where} {name}: {e}")
                return
            _check_html_tree(fragment, where, name, out)
    elif name == "content" and not kind.startswith("text/") and element.get("src") is None:
        pass  # other media types: base64 or XML; nothing the W3C rules here cover


def _check_html_tree(root: etree._Element, where: str, name: str, out: list[str]) -> None:
    for node in root.iter():
        if not isinstance(node.tag, str):
            continue
        tag = etree.QName(node).localname.lower()
        if tag in _DANGEROUS_TAGS:
            out.append(f"SecurityRisk: {where} {name} holds <{tag}>")
        for attr, value in node.attrib.items():
            attr_name = etree.QName(attr).localname.lower()
            if attr_name.startswith("on"):
                out.append(f"SecurityRisk: {where} {name} holds an event handler {attr_name}=")
            if attr_name in _URL_ATTRS:
                v = value.strip().lower().replace("\t", "").replace("\n", "")
                if v.startswith(("javascript:", "vbscript:", "data:text/html")):
                    out.append(f"SecurityRisk: {where} {name} holds a {v.split(':')[0]}: URL")
                elif attr_name in ("href", "src") and value and not _SCHEME.match(value) \
                        and not value.startswith("#"):
                    # Readers resolve relative URLs against the feed, not the article.
                    out.append(f"RelativeURI: {where} {name} {attr_name}={value!r}")


def _check_person(person: etree._Element, where: str, out: list[str]) -> None:
    name = person.findtext(A + "name")
    if name is None or not name.strip():
        out.append(f"MissingElement: {where} author/contributor without a name")
    uri = person.findtext(A + "uri")
    if uri is not None and _full_uri(uri):
        out.append(f"InvalidFullLink: {where} person uri {uri!r}")
    email = person.findtext(A + "email")
    if email is not None and not _EMAIL.match(email):
        out.append(f"InvalidEmail: {where} person email {email!r}")


def problems(xml_bytes: bytes, self_url: str | None = None) -> list[str]:
    """Every problem the W3C validator (and RFC 4287's schema) would report; [] if none.

    ``self_url``: where the feed is served; checked against ``rel="self"``
    (``SelfDoesntMatchLocation``).
    """
    out: list[str] = []
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False)
    try:
        root = etree.fromstring(xml_bytes, parser)
    except etree.XMLSyntaxError as e:
        return [f"NotXml: {e}"]
    if root.tag != A + "feed":
        return [f"NotAtom: root element is {root.tag!r}, not atom:feed"]

    schema = _relaxng()
    if schema is not None and not schema.validate(root):
        for error in schema.error_log:
            out.append(f"RelaxNG: line {error.line}: {error.message}")

    entries = root.findall(A + "entry")
    entry_index = {entry: i for i, entry in enumerate(entries)}

    # Feed-level required elements (RFC 4287 §4.1.1).
    for required in ("id", "title", "updated"):
        count = len(root.findall(A + required))
        if count != 1:
            out.append(f"MissingElement: feed has {count} {required} elements, needs exactly 1")
    selfs = [link for link in root.findall(A + "link") if link.get("rel") == "self"]
    if not selfs:
        out.append("MissingSelf: feed has no link rel='self'")
    elif self_url is not None and selfs[0].get("href") != self_url:
        out.append(f"SelfDoesntMatchLocation: self is {selfs[0].get('href')!r}, "
                   f"served at {self_url!r}")
    _check_links(root, "feed", out)

    # Schematron rule 1: a feed author unless every entry has one.
    feed_has_author = root.find(A + "author") is not None
    ids: dict[str, int] = {}
    for i, entry in enumerate(entries):
        where = f"entry[{i}]"
        for required in ("id", "title", "updated"):
            count = len(entry.findall(A + required))
            if count != 1:
                out.append(f"MissingElement: {where} has {count} {required} elements, needs 1")
        if not feed_has_author and entry.find(A + "author") is None:
            out.append(f"MissingElement: author ({where} has none and the feed has none)")
        entry_id = entry.findtext(A + "id")
        if entry_id is not None:
            if entry_id in ids:
                out.append(f"DuplicateEntries: {where} repeats the id of entry[{ids[entry_id]}]: "
                           f"{entry_id}")
            ids.setdefault(entry_id, i)
        _check_links(entry, where, out)
        content = entry.find(A + "content")
        summary = entry.find(A + "summary")
        links = entry.findall(A + "link")
        alternates = [link for link in links if link.get("rel", "alternate") == "alternate"]
        # Schematron rule 2: an alternate link or content.
        if content is None and not alternates:
            out.append(f"MissingAlternateLink: {where} has neither an alternate link nor content")
        has_text = any(
            e is not None and (e.get("src") is not None or "".join(e.itertext()).strip())
            for e in (content, summary)
        )
        if not has_text:
            out.append(f"MissingTextualContent: {where} has neither content nor summary")
        if content is not None and content.get("src") is not None and summary is None:
            out.append(f"MissingSummary: {where} has out-of-line content and no summary")

    for element in root.iter(A + "id", A + "icon", A + "logo"):
        why = _full_uri(element.text)
        if why:
            where = _where(element, entry_index)
            out.append(f"{why}: {where} {etree.QName(element).localname} {element.text!r}")
    generator = root.find(A + "generator")
    if generator is not None and generator.get("uri") and _full_uri(generator.get("uri")):
        out.append(f"InvalidFullLink: generator uri {generator.get('uri')!r}")
    for element in root.iter(A + "updated", A + "published"):
        if _date_problem(element.text):
            where = _where(element, entry_index)
            out.append(f"InvalidRFC3339Date: {where} {etree.QName(element).localname} "
                       f"{element.text!r}")
    for element in root.iter(A + "title", A + "subtitle", A + "summary", A + "rights",
                             A + "content"):
        _check_text_construct(element, _where(element, entry_index), out)
    for element in root.iter(A + "author", A + "contributor"):
        _check_person(element, _where(element, entry_index), out)
    for element in root.iter(A + "category"):
        if not (element.get("term") or "").strip():
            out.append(f"MissingAttribute: {_where(element, entry_index)} category without term")
    return out


def assert_valid_atom(xml_bytes: bytes, self_url: str | None = None) -> None:
    """Fail the calling test with every problem found, one per line."""
    found = problems(xml_bytes, self_url)
    assert not found, "invalid Atom:\n  " + "\n  ".join(found)
