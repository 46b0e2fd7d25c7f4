"""Writing feed files: atomic replacement, stable ids, and the background writer."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from feeds import render
from feeds.render import ID_NAMESPACE, BackgroundWriter, entry_id, write_atomic


def test_entry_ids_are_uuid5_of_source_and_key() -> None:
    """Entry ids stay what uuid.uuid5 gave (readers key on them), for any key."""
    for source, key in [("s", "k"), ("青岛", "http://x/é?a=1"), ("a" * 300, "\n\x00"), ("", ""),
                        ("x", "sha256:" + "f" * 24)]:
        expected = "urn:uuid:" + str(uuid.uuid5(ID_NAMESPACE, source + "\n" + key))
        assert entry_id(source, key) == expected
    # Pinned, namespace included: readers key on these ids.
    assert entry_id("s", "k") == "urn:uuid:6b661227-7823-5b8c-bd0a-303f47a92a1a"
    assert entry_id("青岛", "http://x/é?a=1") == "urn:uuid:5a1b0f1f-1016-5859-be92-b2b9f14b0d37"


def test_background_writes_are_in_place_after_drain(tmp_path: Path) -> None:
    """Files written in the background are complete and in place once drain() returns, with
    write_atomic's answers: True for new bytes, False for the bytes already there."""
    writer = BackgroundWriter()
    paths = [tmp_path / "sources" / f"s{n}.atom" for n in range(50)]
    assert all(writer.write(p, f"<feed>{n}</feed>".encode()) for n, p in enumerate(paths))
    assert writer.drain() == []
    assert [p.read_bytes() for p in paths] == [f"<feed>{n}</feed>".encode() for n in range(50)]
    assert writer.write(paths[0], b"<feed>0</feed>") is False
    assert writer.drain() == []
    assert not list((tmp_path / "sources").glob(".*.tmp"))  # no temporary file left
    assert oct(paths[0].stat().st_mode & 0o777) == "0o644"


def test_a_second_write_of_a_pending_file_compares_with_the_first(tmp_path: Path) -> None:
    """Writing a file again before the first write is in place compares with what that write
    leaves, so going back to the old bytes is not mistaken for "unchanged"."""
    path = tmp_path / "f.atom"
    write_atomic(path, b"old")
    writer = BackgroundWriter()
    assert writer.write(path, b"new") is True
    assert writer.write(path, b"old") is True
    assert writer.drain() == []
    assert path.read_bytes() == b"old"


def test_a_failed_background_write_is_reported_and_leaves_the_old_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write that fails on the background thread leaves the old bytes and no temporary
    file, and drain() names the file."""
    path = tmp_path / "f.atom"
    write_atomic(path, b"old")
    real_commit = render._commit

    def failing(fd: int, tmp: str, target: Path) -> None:
        os.unlink(tmp)  # as if the disk lost it
        real_commit(fd, tmp, target)

    monkeypatch.setattr(render, "_commit", failing)
    writer = BackgroundWriter()
    assert writer.write(path, b"new") is True
    errors = writer.drain()
    assert len(errors) == 1 and str(path) in errors[0]
    assert path.read_bytes() == b"old"
    assert not list(tmp_path.glob(".*.tmp"))
    assert writer.drain() == []  # reported once
