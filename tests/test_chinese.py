"""Chinese text clean-up: flattened pinyin removal and OpenCC conversion."""

from __future__ import annotations

import re

import pytest
from conftest import shared_path

from feeds.extract.chinese import clean_text, convert, strip_flattened_pinyin

LATIN = re.compile(r"[A-Za-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜü]+")


def test_seed_page_loses_every_pinyin_hint() -> None:
    """The seed page keeps its text and real brackets but no flattened pinyin at all."""
    raw = shared_path("seeds", "000_7fedaf274731c75a.txt").read_text(encoding="utf-8")
    assert "臺(tái)灣網(wǎng)" in raw
    cleaned = clean_text(raw)
    assert LATIN.findall(cleaned) == []
    for kept in ("中國臺灣網移動版", "青島市召開市委臺港澳工作會議", "2021-06-07 10:22:00",
                 "來源:中國臺灣網", "黨委(黨組)", "(圖片來源:青島市臺港澳辦)", "臺辦(臺港澳辦)",
                 "[責任編輯:郭碧娟]", "(中國臺灣網、青島市臺港澳辦聯合報道)"):
        assert kept in cleaned, kept


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("臺(tái)灣網(wǎng)", "臺灣網"),
        ("中国（zhōng）人", "中国人"),  # full-width brackets
        # Toneless syllables go too once the text shows toned hints.
        ("臺(tái)灣的(de)人", "臺灣的人"),
        ("說(shuō)話(huà) A(a)", "說話 A(a)"),  # only after Han characters
        ("臺(tái) and Python(py)", "臺 and Python(py)"),
    ],
)
def test_flattened_pinyin_removed(text: str, expected: str) -> None:
    """Pinyin in brackets after Han characters is removed when the text shows toned hints."""
    assert strip_flattened_pinyin(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "青島(Qingdao)",  # a name in Latin script, not a pronunciation hint
        "黨委(黨組)",
        "(圖)",
        "我(wo)们",  # toneless alone: could be anything, kept
        "的(de)",
        "no brackets at all",
        "",
    ],
)
def test_real_brackets_survive(text: str) -> None:
    """Brackets that are part of the text are left alone."""
    assert strip_flattened_pinyin(text) == text


def test_qingdao_survives_beside_toned_hints() -> None:
    """A capitalised name in brackets stays even when the text has toned hints to remove."""
    assert strip_flattened_pinyin("青島(Qingdao)臺(tái)灣") == "青島(Qingdao)臺灣"


def test_clean_text_of_nothing() -> None:
    """None and empty text give an empty string."""
    assert clean_text(None) == "" and clean_text("") == ""


def test_opencc_conversion() -> None:
    """Text converts between Simplified and Traditional; no conversion leaves it unchanged."""
    assert convert("青岛市召开会议", "s2t") == "青島市召開會議"
    assert convert("臺灣網", "t2s") == "台湾网"
    assert convert("青岛", None) == "青岛"
    assert convert("", "s2t") == ""
