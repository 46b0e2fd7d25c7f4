"""Chinese text clean-up applied to every text field.

Mobile mirrors of Chinese sites often flatten ``<ruby>`` pronunciation hints into the text:
``臺(tái)灣網(wǎng)``. A reader must see ``臺灣網``. Real parentheses stay: ``黨委(黨組)``,
``(圖)``, ``青島(Qingdao)``.
"""

from __future__ import annotations

import re
from functools import lru_cache

TONE_MARKS = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüńňǹḿ"
_HAN = r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"
# A Han character followed by a parenthesised pinyin syllable (ASCII or full-width brackets).
_FLATTENED = re.compile(
    rf"(?<={_HAN})[(（]\s*([a-z{TONE_MARKS}]{{1,7}})\s*[)）]", re.IGNORECASE
)
_TONED = re.compile(f"[{TONE_MARKS}]")
# Once a text shows toned hints, a toned syllable in brackets is a hint wherever it stands,
# even after a character that lost its bracket to a bad transcoding (``真?zhēn)``).
_TONED_ANYWHERE = re.compile(
    rf"[(（?？\ufffd]\s*([a-z{TONE_MARKS}]*[{TONE_MARKS}][a-z{TONE_MARKS}]*)\s*[)）]", re.IGNORECASE
)
# Syllables are at most 6 letters; this rejects English words that happen to follow Han text.
_SYLLABLE = re.compile(
    r"^(?:[bpmfdtnlgkhjqxrzcsyw]|zh|ch|sh)?[aeiouvü" + TONE_MARKS + r"]+(?:n|ng|r)?$",
    re.IGNORECASE,
)


def _is_pinyin(word: str) -> bool:
    return bool(_SYLLABLE.match(word)) and word == word.lower()


def strip_flattened_pinyin(text: str) -> str:
    """Remove pinyin in brackets after Han characters, when the text shows that pattern.

    A toned syllable (``tái``) is always a pronunciation hint. Toneless ones (``de``) are
    removed only when the text has toned hints too, so ``青島(Qingdao)`` survives.
    """
    if "(" not in text and "（" not in text:
        return text
    matches = [m for m in _FLATTENED.finditer(text) if _is_pinyin(m.group(1))]
    if not matches:
        return text
    toned = sum(1 for m in matches if _TONED.search(m.group(1)))
    if toned == 0:
        return text

    def replace(match: re.Match[str]) -> str:
        word = match.group(1)
        return "" if _is_pinyin(word) else match.group(0)

    text = _FLATTENED.sub(replace, text)
    return _TONED_ANYWHERE.sub(lambda m: "" if _is_pinyin(m.group(1)) else m.group(0), text)


@lru_cache(maxsize=16)
def converter(conversion: str):  # type: ignore[no-untyped-def]
    """An OpenCC converter such as ``t2s`` or ``s2tw`` (cached: loading one takes ~50 ms)."""
    import opencc

    return opencc.OpenCC(f"{conversion}.json")


def convert(text: str, conversion: str | None) -> str:
    """``text`` converted between Simplified and Traditional with OpenCC, if asked."""
    if not conversion or not text:
        return text
    result: str = converter(conversion).convert(text)
    return result


def clean_text(text: str | None) -> str:
    """The clean-up every text field gets."""
    if not text:
        return ""
    return strip_flattened_pinyin(text)
