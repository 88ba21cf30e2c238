# Test fixture written for binarycop: an io_shape_dict in FINN's list form with two inputs
# (idma0: a 32x32x3 image, idma1: 8 UINT8 values) and one output, as a FINN build of a graph with
# two inputs has it. binarycop parses it and refuses to drive it.

from qonnx.core.datatype import DataType

io_shape_dict = {
    "idt" : [DataType['UINT8'], DataType['UINT8']],
    "odt" : [DataType['UINT8']],
    "ishape_normal" : [(1, 32, 32, 3), (1, 8)],
    "oshape_normal" : [(1, 1)],
    "ishape_folded" : [(1, 32, 32, 1, 3), (1, 8, 1)],
    "oshape_folded" : [(1, 1, 1)],
    "ishape_packed" : [(1, 32, 32, 1, 3), (1, 8, 1)],
    "oshape_packed" : [(1, 1, 1)],
    "input_dma_name" : ['idma0', 'idma1'],
    "output_dma_name" : ['odma0'],
    "number_of_external_weights": 0,
    "num_inputs" : 2,
    "num_outputs" : 1,
}
