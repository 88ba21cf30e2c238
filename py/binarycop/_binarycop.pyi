"""Type stubs for binarycop's extension module (see binarycop/__init__.py)."""

import os
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

__version__: str

class Error(Exception):
    """What binarycop failed at that is not bad arguments."""

class FileError(Error):
    """A file that could not be read, parsed or written."""

class UnsupportedModel(Error):
    """A model graph outside the supported family."""

class DeploymentError(Error):
    """A FINN deployment folder that binarycop refused."""

class DriverError(Error):
    """A step of the accelerator driver that failed."""

_Path = Union[str, "os.PathLike[str]"]

class Model:
    """A binarized CNN loaded by :func:`load`."""

    @property
    def topology(self) -> Dict[str, Any]: ...
    @property
    def layers(self) -> List[str]: ...
    @property
    def input_shape(self) -> Tuple[int, int, int]: ...
    @property
    def classes(self) -> int: ...
    @property
    def path(self) -> str: ...
    def infer(
        self, x: npt.ArrayLike, resize: str = "cv2"
    ) -> Tuple[npt.NDArray[np.int64], npt.NDArray[np.int32]]: ...
    def trace(
        self, x: npt.ArrayLike, layers: Sequence[str], resize: str = "cv2"
    ) -> Dict[str, Dict[str, Optional[npt.NDArray[Any]]]]: ...
    def cam(
        self,
        x: npt.ArrayLike,
        layer: str = "Pool2",
        method: str = "gradcam",
        graph: str = "deployed",
        ste: str = "windowed",
        target: Optional[int] = None,
        resize: str = "cv2",
        interp: str = "bicubic",
        relu: bool = False,
    ) -> npt.NDArray[np.float32]: ...
    def compare(
        self,
        x: npt.ArrayLike,
        layer: str = "Pool2",
        methods: Sequence[str] = ("gradcam",),
        against: str = "training",
        ste: str = "windowed",
        interp: str = "bicubic",
        relu: bool = False,
        steps: int = 16,
        names: Optional[Sequence[str]] = None,
        resize: str = "cv2",
    ) -> Dict[str, Any]: ...
    def simulate(
        self,
        folding: str = "cnv",
        clock_mhz: float = 100.0,
        frames: int = 8,
        fifo_depth: Optional[str] = None,
        flow: Optional[str] = None,
    ) -> Dict[str, Any]: ...

def load(path: _Path) -> Model: ...
def pack(
    arr: npt.ArrayLike, dtype: str, reverse_inner: bool = True, reverse_endian: bool = True
) -> npt.NDArray[np.uint8]: ...
def unpack(
    packed: Union[npt.NDArray[np.uint8], bytes, bytearray],
    dtype: str,
    output_shape: Optional[Sequence[int]] = None,
    reverse_inner: bool = True,
    reverse_endian: bool = True,
) -> npt.NDArray[np.float32]: ...

class Accelerator:
    """A FINN deployment folder run by binarycop's Rust driver (FINNExampleOverlay's shape)."""

    def __init__(
        self,
        deploy: _Path,
        backend: str = "zynq",
        model: Union[Model, _Path, None] = None,
        folding: Optional[str] = None,
        batch_size: int = 1,
    ) -> None: ...
    batch_size: int
    @property
    def ishape_normal(self) -> Tuple[int, ...]: ...
    @property
    def oshape_normal(self) -> Tuple[int, ...]: ...
    @property
    def ishape_folded(self) -> Tuple[int, ...]: ...
    @property
    def oshape_folded(self) -> Tuple[int, ...]: ...
    @property
    def ishape_packed(self) -> Tuple[int, ...]: ...
    @property
    def oshape_packed(self) -> Tuple[int, ...]: ...
    @property
    def idt(self) -> str: ...
    @property
    def odt(self) -> str: ...
    @property
    def backend(self) -> str: ...
    def execute(self, ibuf_normal: npt.ArrayLike) -> npt.NDArray[np.float32]: ...
    def throughput_test(self) -> Dict[str, Any]: ...
