# Test fixture written for binarycop: the io_shape_dict of a FINN zynq-iodma build of a 32x32x3,
# 4-class CNV-family network (tests/fixtures/*_trained), in the list form that today's FINN
# MakePYNQDriver writes into driver.py. Only the dictionary; nothing of FINN's driver code.

from qonnx.core.datatype import DataType

# dictionary describing the I/O of the FINN-generated accelerator
io_shape_dict = {
    # FINN DataType for input and output tensors
    "idt" : [DataType['UINT8']],
    "odt" : [DataType['UINT8']],
    # shapes for input and output tensors (NHWC layout)
    "ishape_normal" : [(1, 32, 32, 3)],
    "oshape_normal" : [(1, 1)],
    # folded / packed shapes
    "ishape_folded" : [(1, 32, 32, 1, 3)],
    "oshape_folded" : [(1, 1, 1)],
    "ishape_packed" : [(1, 32, 32, 1, 3)],
    "oshape_packed" : [(1, 1, 1)],
    "input_dma_name" : ['idma0'],
    "output_dma_name" : ['odma0'],
    "number_of_external_weights": 0,
    "num_inputs" : 1,
    "num_outputs" : 1,
}
