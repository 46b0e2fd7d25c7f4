"""Rule selectors: CSS, or XPath when the selector starts with ``/``, with an ``@attr`` suffix.

One implementation for listing rules (``items:``) and article rules (``article:``)::

    select(tree, "ul.list li a@href")        # attribute values
    select(item, "//span[@class='date']")    # relative to the item: .//span...
"""

from __future__ import annotations

import re
from typing import Any

import lxml.etree
import lxml.html
from lxml.cssselect import CSSSelector, SelectorError

_ATTR_SUFFIX = re.compile(r"^(.*[^/\s@])@([A-Za-z_][\w:.-]*)$")


def _is_xpath(selector: str) -> bool:
    return selector.startswith(("/", "./", "(", "../"))


def select(node: lxml.html.HtmlElement, selector: str, *, relative: bool = True) -> list[Any]:
    """Elements or strings matched by a CSS or XPath ``selector`` (with an ``@attr`` suffix).

    ``@href`` alone is the node's own attribute. In an item, an XPath starting with ``/`` is
    taken relative to the item (``//span`` means ``.//span``), which is what rule writers mean.
    Raises ValueError for a selector that does not parse.
    """
    selector = selector.strip()
    if selector.startswith("@") and re.fullmatch(r"@[A-Za-z_][\w:.-]*", selector):
        value = node.get(selector[1:])
        return [value] if value is not None else []
    attribute: str | None = None
    match = _ATTR_SUFFIX.match(selector)
    if match and "[" not in match.group(2):
        selector, attribute = match.group(1), match.group(2)
    results: list[Any]
    if _is_xpath(selector):
        expression = "." + selector if relative and selector.startswith("/") else selector
        try:
            found: Any = node.xpath(expression)
        except lxml.etree.XPathError as e:
            raise ValueError(f"bad XPath {selector!r}: {e}") from e
        results = list(found) if isinstance(found, list) else [found]
    else:
        try:
            selected: Any = CSSSelector(selector)(node)
            results = list(selected)
        except (SelectorError, lxml.etree.XPathError) as e:
            raise ValueError(f"bad CSS selector {selector!r}: {e}") from e
    if attribute is None:
        return [r for r in results if isinstance(r, lxml.html.HtmlElement | str)]
    values = []
    for result in results:
        if isinstance(result, lxml.html.HtmlElement) and result.get(attribute) is not None:
            values.append(result.get(attribute))
    return values
