# Test fixture written for binarycop: the io_shape_dict of the same 32x32x3 build as
# deploy/driver/driver.py, in the single-tensor form FINN wrote in 2020 (the form of BinaryCoP's
# published notebook/driver.py). Only the dictionary; nothing of FINN's driver code.

from finn.core.datatype import DataType

io_shape_dict = {
    # FINN DataType for input and output tensors
    "idt" : DataType.UINT8,
    "odt" : DataType.UINT8,
    # shapes for input and output tensors (NHWC layout)
    "ishape_normal" : (1, 32, 32, 3),
    "oshape_normal" : (1, 1),
    "ishape_folded" : (1, 32, 32, 1, 3),
    "oshape_folded" : (1, 1, 1),
    "ishape_packed" : (1, 32, 32, 1, 3),
    "oshape_packed" : (1, 1, 1)
}
