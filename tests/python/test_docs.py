"""The examples of docs/python.md run as written (every ```python block, in order, in one namespace)."""

import os
import re
import subprocess
import sys

from conftest import SOURCE_DIR


def test_docs_python_examples_run(tmp_path, monkeypatch):
    text = (SOURCE_DIR / "docs" / "python.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 5
    monkeypatch.chdir(tmp_path)
    namespace = {}
    for i, block in enumerate(blocks):
        try:
            exec(compile(block, f"docs/python.md block {i + 1}", "exec"), namespace)
        except Exception as e:  # noqa: BLE001
            raise AssertionError(f"docs/python.md block {i + 1} failed: {e!r}\n{block}") from e


def test_examples_run_quickly(tmp_path):
    for script in ("risk_ratio.py", "speech_regularizer.py"):
        out = subprocess.run([sys.executable, str(SOURCE_DIR / "examples" / script), "--quick", "--out", str(tmp_path)],
                             capture_output=True, text=True, env=os.environ, timeout=300)
        assert out.returncode == 0, f"{script}: {out.stderr}"
        assert out.stdout.strip(), script
