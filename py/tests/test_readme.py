"""The README's Python example prints what the README says it prints."""

import contextlib
import io
import os

from conftest import ROOT


def test_the_readme_example_prints_its_output():
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Python\n"):]
    code = section[section.index("```python\n") + len("```python\n"):]
    code = code[: code.index("```")]
    shown = section[section.index("prints\n\n```\n") + len("prints\n\n```\n"):]
    shown = shown[: shown.index("```")]
    out = io.StringIO()
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(code, "README.md (Python)", "exec"), {})
    finally:
        os.chdir(cwd)
    assert out.getvalue() == shown
