# A stand-in deployment's driver.py, written by `binarycop export-deploy`: ncnv72_published (72x72x3 in, 3 classes) on binarycop's simulated FINN accelerator.
# binarycop's own text: only the io_shape_dict that binarycop reads, in the single-tensor
# form of FINN's 2020 driver.py. There is no bitstream (see ../README.md); nothing runs this file.

from finn.core.datatype import DataType

# what the accelerator reads (idma0) and writes (odma0) per frame; shapes are NHWC, batch first
io_shape_dict = {
    "idt" : DataType.UINT8,
    "odt" : DataType.UINT8,
    "ishape_normal" : (1, 72, 72, 3),
    "oshape_normal" : (1, 1),
    "ishape_folded" : (1, 72, 72, 1, 3),
    "oshape_folded" : (1, 1, 1),
    "ishape_packed" : (1, 72, 72, 1, 3),
    "oshape_packed" : (1, 1, 1),
}
