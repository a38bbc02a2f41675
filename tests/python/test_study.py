"""The studies from Python: they write their folder as the command does; the result is the folder."""

import pytest

import varlearn


def test_study_writes_its_folder(tmp_path):
    out = tmp_path / "dequant"
    r = varlearn.study.dequant(quick=True, out=out)
    assert r.out == str(out)
    assert "summary.md" in r.files and "results.json" in r.files
    assert r.results["entries"] and all("bits" in e for e in r.results["entries"])
    with pytest.raises(ValueError, match="exists"):  # refused without force, nothing touched
        varlearn.study.dequant(quick=True, out=out)
