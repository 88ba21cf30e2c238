"""binarycop: BinaryCoP's binarized CNNs run bit-exactly as the FINN accelerator runs them.

The Rust library behind the ``binarycop`` command, with numpy in and numpy out:

- :func:`load` a model (QONNX ``.onnx``, folded artifact or parameter ``.npz``) and
  ``Model.infer``, ``Model.trace``, ``Model.cam``, ``Model.simulate`` with it;
- :class:`Accelerator`: a FINN deployment folder run by the Rust driver on a Zynq board, the
  simulated accelerator or the CPU engine, shaped like FINN's ``FINNExampleOverlay``;
- :func:`pack` / :func:`unpack`: FINN's ``finnpy_to_packed_bytearray`` and
  ``packed_bytearray_to_finnpy``.

Bad arguments raise ``ValueError``, a missing file ``FileNotFoundError``, everything else a
subclass of :class:`binarycop.Error`. Long calls release the GIL; ``infer`` and ``cam`` notice
Ctrl-C between batches of 64 images.
"""

from ._binarycop import (
    Accelerator,
    DeploymentError,
    DriverError,
    Error,
    FileError,
    Model,
    UnsupportedModel,
    __version__,
    load,
    pack,
    unpack,
)

__all__ = [
    "Accelerator",
    "DeploymentError",
    "DriverError",
    "Error",
    "FileError",
    "Model",
    "UnsupportedModel",
    "__version__",
    "load",
    "pack",
    "unpack",
]
