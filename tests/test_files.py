"""Atomic writes: readable results, and a failed write changes nothing."""

from __future__ import annotations

import stat

import pandas as pd
import pytest

from analysis.core.files import atomic_path, write_atomic, write_csv_atomic


def test_write_atomic_writes_text_and_bytes_readable_by_others(tmp_path):
    text = write_atomic(tmp_path / "sub" / "a.txt", "é\n")
    raw = write_atomic(tmp_path / "b.bin", b"\x00\x01")
    assert text.read_bytes() == "é\n".encode()
    assert raw.read_bytes() == b"\x00\x01"
    assert stat.S_IMODE(text.stat().st_mode) == 0o644


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half", encoding="utf-8")
        raise RuntimeError("killed")
    assert target.read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_csv_has_no_index_and_unix_line_ends(tmp_path):
    path = write_csv_atomic(pd.DataFrame({"a": [1.23456, 2.0]}), tmp_path / "t.csv", "%.3g")
    assert path.read_bytes() == b"a\n1.23\n2\n"


def test_yaml_reads_through_the_c_parser_and_reads_the_same_values() -> None:
    """The project's YAML (codebook, copy, parameters) reads the same through libyaml."""
    import yaml

    from analysis.core import yamlfile
    from analysis.core.paths import PROJECT_ROOT

    if getattr(yaml, "__with_libyaml__", False):
        assert yamlfile.SAFE_LOADER is yaml.CSafeLoader
    files = sorted((PROJECT_ROOT / "data" / "reference").glob("*.yaml"))
    files += sorted((PROJECT_ROOT / "params").glob("*.yaml"))[:5]
    assert len(files) >= 5
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert yamlfile.safe_load(text) == yaml.safe_load(text), path
    for broken in ("a: [1, 2", "a: b: c", "\tkey: value", "!!python/object:os.system x"):
        with pytest.raises(yaml.YAMLError):
            yamlfile.safe_load(broken)
