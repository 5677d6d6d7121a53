"""Backend files shared by every local server are installed atomically and only when changed."""

from __future__ import annotations

import os

from clinserve_runtime.triton import install_file


def test_a_changed_file_replaces_the_target_as_a_new_file_never_in_place(tmp_path):
    source, target = tmp_path / "source.py", tmp_path / "target.py"
    target.write_text("old = 1\n")
    os.chmod(target, 0o644)
    reader = target.open()  # a stub that opened the old file keeps reading the old contents
    inode = target.stat().st_ino
    source.write_text("new = 2\n")
    install_file(source, target)
    assert target.read_text() == "new = 2\n"
    assert target.stat().st_ino != inode  # renamed into place: no reader sees it half-written
    assert reader.read() == "old = 1\n"
    reader.close()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp file left


def test_an_identical_file_is_left_alone_and_executables_stay_executable(tmp_path):
    source, target = tmp_path / "stub", tmp_path / "installed"
    source.write_bytes(b"\x7fELF...")
    os.chmod(source, 0o755)
    install_file(source, target)
    assert os.access(target, os.X_OK)
    inode = target.stat().st_ino
    install_file(source, target)
    assert target.stat().st_ino == inode
