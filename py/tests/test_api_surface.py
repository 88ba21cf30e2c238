"""The names scripts rely on, their defaults, docstrings for help(), and stubs that match the
module."""

import ast
import inspect
from pathlib import Path

import binarycop
from binarycop import _binarycop

PACKAGE = Path(binarycop.__file__).parent


def test_the_fixed_signatures():
    sig = inspect.signature(binarycop.Model.cam)
    assert {k: v.default for k, v in sig.parameters.items() if k not in ("self", "x")} == dict(
        layer="Pool2", method="gradcam", graph="deployed", ste="windowed", target=None, resize="cv2",
        interp="bicubic", relu=False)
    sim = inspect.signature(binarycop.Model.simulate).parameters
    assert (sim["folding"].default, sim["clock_mhz"].default) == ("cnv", 100)
    pack = inspect.signature(binarycop.pack).parameters
    assert list(pack)[:2] == ["arr", "dtype"]
    assert (pack["reverse_inner"].default, pack["reverse_endian"].default) == (True, True)
    acc = inspect.signature(binarycop.Accelerator).parameters
    assert list(acc)[:3] == ["deploy", "backend", "model"] and acc["model"].default is None


def test_everything_public_has_a_docstring():
    for name in binarycop.__all__:
        if name == "__version__":
            continue
        obj = getattr(binarycop, name)
        assert (obj.__doc__ or "").strip(), name
        if inspect.isclass(obj) and not issubclass(obj, BaseException):
            for attr, member in vars(obj).items():
                if not attr.startswith("_"):
                    assert (member.__doc__ or "").strip(), f"{name}.{attr}"


def test_the_stubs_and_py_typed_are_installed_and_match_the_module():
    assert (PACKAGE / "py.typed").is_file()
    tree = ast.parse((PACKAGE / "_binarycop.pyi").read_text())
    stubbed = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            stubbed[node.name] = {n.name for n in node.body if isinstance(n, ast.FunctionDef)} | {
                n.target.id for n in node.body if isinstance(n, ast.AnnAssign)}
        elif isinstance(node, ast.FunctionDef):
            stubbed[node.name] = None
    public = {n for n in dir(_binarycop) if not n.startswith("_")}
    assert set(stubbed) - {"_Path"} == public
    for cls in ("Model", "Accelerator"):
        members = {n for n in dir(getattr(_binarycop, cls)) if not n.startswith("_")}
        assert stubbed[cls] - {"__init__"} == members, cls
