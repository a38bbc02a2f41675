"""`cmake --install` puts the package where Debian's python3 looks for it under the prefix."""

import os
import subprocess
import sys

import pytest


def test_installed_package_imports(tmp_path):
    build = os.environ.get("VARLEARN_BUILD_DIR")
    folder = os.environ.get("VARLEARN_PYTHON_INSTALL_DIR")
    if not build or not folder:
        pytest.skip("run through CTest (VARLEARN_BUILD_DIR, VARLEARN_PYTHON_INSTALL_DIR)")
    prefix = tmp_path / "prefix"
    out = subprocess.run(["cmake", "--install", build, "--prefix", str(prefix)], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    site = prefix / folder
    assert (site / "varlearn" / "__init__.py").exists()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(site)
    code = "import varlearn; print(varlearn.__file__); print(varlearn.theory.cmin(depth=3, stepsize=0.5).cmin)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0].startswith(str(site))
    # for the prefixes /usr and /usr/local this folder is on Debian's python3 path already
    for p in ("/usr", "/usr/local"):
        assert os.path.join(p, folder) in subprocess.run(
            ["/usr/bin/python3", "-c", "import sys; print(sys.path)"], capture_output=True, text=True).stdout \
            or not os.path.exists("/usr/bin/python3")
