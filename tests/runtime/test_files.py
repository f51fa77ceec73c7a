"""runtime.files: a file is replaced whole or not at all."""
import os

import pytest

from clgrad.runtime.files import replace_atomically, write_atomically


def test_write_replaces_and_leaves_no_temporary_file(tmp_path):
    p = tmp_path / "f.bin"
    write_atomically(p, b"old")
    write_atomically(p, "new text")
    assert p.read_text() == "new text"
    assert os.listdir(tmp_path) == ["f.bin"]


def test_a_failing_write_keeps_the_old_file(tmp_path):
    p = tmp_path / "f.bin"
    write_atomically(p, b"old")

    def half(f):
        f.write(b"part")
        raise KeyboardInterrupt     # an interrupt too: nothing half-written remains
    with pytest.raises(KeyboardInterrupt):
        replace_atomically(p, half)
    assert p.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f.bin"]
