"""The Python example proposed for the README (examples/python/quickstart.py) runs and prints
what it promises; once the README shows it, it must show it verbatim."""

import os
import re
import subprocess
import sys

import pytest

SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(SOURCE_DIR, "examples", "python", "quickstart.py")


def test_quickstart_runs():
    done = subprocess.run([sys.executable, EXAMPLE], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(r"28\.0 8\.0 dgx1-hierarchical [1-9][0-9]*\n", done.stdout), done.stdout


def test_readme_shows_the_example_verbatim():
    with open(os.path.join(SOURCE_DIR, "README.md"), encoding="utf-8") as readme:
        text = readme.read()
    if "```python" not in text:
        pytest.skip("README.md has no Python section yet")
    with open(EXAMPLE, encoding="utf-8") as example:
        assert example.read() in text, "README.md must show examples/python/quickstart.py verbatim"
