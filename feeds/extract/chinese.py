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
# A Han character followed by parenthesised pinyin (ASCII or full-width brackets): one
# syllable, or a few separated by spaces for a word (``青島(qīng dǎo)``).
_FLATTENED = re.compile(
    rf"(?<={_HAN})[(（]\s*([a-z{TONE_MARKS}]{{1,7}}(?:\s+[a-z{TONE_MARKS}]{{1,7}}){{0,5}})\s*[)）]",
    re.IGNORECASE,
)
_TONED = re.compile(f"[{TONE_MARKS}]")
# Once a text shows toned hints, a toned syllable in brackets is a hint wherever it stands,
# even after a character that lost its bracket to a bad transcoding (``真?zhēn)``).
_TONED_ANYWHERE = re.compile(
    rf"[(（?？\ufffd]\s*([a-z{TONE_MARKS}]*[{TONE_MARKS}][a-z{TONE_MARKS}]*)\s*[)）]", re.IGNORECASE
)
# Syllables are at most 6 letters; this rejects English words that happen to follow Han text.
_ONE_SYLLABLE = r"(?:[bpmfdtnlgkhjqxrzcsyw]|zh|ch|sh)?[aeiouvü" + TONE_MARKS + r"]+(?:n|ng|r)?"
_SYLLABLE = re.compile(f"^{_ONE_SYLLABLE}$", re.IGNORECASE)
# Syllables written together (``qīngdǎo``): English words split this way too (``online``),
# so a joined word counts only when it carries tone marks.
_JOINED_SYLLABLES = re.compile(f"^(?:{_ONE_SYLLABLE}){{2,4}}$", re.IGNORECASE)
_ANNOTATION = re.compile(
    rf"^\s*[(（]\s*([a-z{TONE_MARKS}]+(?:[\s'’]+[a-z{TONE_MARKS}]+){{0,7}})\s*[)）]\s*$",
    re.IGNORECASE,
)


def _is_pinyin(word: str) -> bool:
    return bool(_SYLLABLE.match(word)) and word == word.lower()


def _all_pinyin(words: str) -> bool:
    return all(_is_pinyin(word) for word in words.split())


def pinyin_annotation(text: str) -> bool | None:
    """Whether ``text`` as a whole is bracketed pinyin (``(tái)``, ``（qīng dǎo）``): None when
    it is not, else whether it carries tone marks. ``(WTO)``, ``(AI)``, ``(2024)`` and
    ``(Qingdao)`` are not pinyin: capitals, digits and non-syllables are rejected.
    """
    match = _ANNOTATION.match(text)
    if match is None:
        return None
    toned = bool(_TONED.search(match.group(1)))
    for word in re.split(r"[\s'’]+", match.group(1)):
        if _is_pinyin(word):
            continue
        if not (toned and word == word.lower() and _JOINED_SYLLABLES.match(word)):
            return None
    return toned


def strip_flattened_pinyin(text: str) -> str:
    """Remove pinyin in brackets after Han characters, when the text shows that pattern.

    A toned syllable (``tái``) is always a pronunciation hint. Toneless ones (``de``) are
    removed only when the text has toned hints too, so ``青島(Qingdao)`` survives.
    """
    if "(" not in text and "（" not in text:
        return text
    matches = [m for m in _FLATTENED.finditer(text) if _all_pinyin(m.group(1))]
    if not matches:
        return text
    toned = sum(1 for m in matches if _TONED.search(m.group(1)))
    if toned == 0:
        return text

    def replace(match: re.Match[str]) -> str:
        return "" if _all_pinyin(match.group(1)) else match.group(0)

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
