#!/usr/bin/env bash
# Builds the fuzz corpora (fuzz/corpus/<target>/, not committed) from the project's fixtures,
# embedded models, deployment files and a few hand-written texts. The hostile inputs under
# tests/hostile/fuzz/<target>/ are passed to the fuzzers as a second corpus by run.sh.
#   fuzz/seed.sh            (needs the release binary for `fold` and `synth`; builds it if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
C=fuzz/corpus
rm -rf "$C"
mkdir -p "$C"
for t in onnx artifact params_npz topology_json npy_images image_decode folding_json accel_config hwh bit pack_unpack cam_npz driver_py class_map; do
  mkdir -p "$C/$t"
done
BIN=target/release/binarycop
[ -x "$BIN" ] || cargo build --release --quiet
F=tests/fixtures
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Models: the µ-CNV and n-CNV exports (the 6 MB CNV ones make every mutation slow).
cp $F/ucnv_random/model.onnx "$C/onnx/ucnv_random.onnx"
cp $F/ncnv_random_ts/model.onnx "$C/onnx/ncnv_random_ts.onnx"
for m in ucnv ncnv ucnv_artifact; do cp "models/$m.params.npz" "$C/params_npz/$m.npz"; done
cp $F/ucnv_random/params.npz "$C/params_npz/ucnv_random.npz"
for m in ucnv_random ncnv_random; do
  "$BIN" fold --model "$F/$m/model.onnx" --out "$C/artifact/$m.npz" >/dev/null
done

# Topologies: the presets' JSON and a conv-free one.
cat > "$C/topology_json/ucnv.json" <<'J'
{"name":"ucnv","input":{"height":32,"width":32,"channels":3},"layers":[
{"type":"conv","name":"Conv1_1","out_channels":16,"kernel":3},{"type":"conv","name":"Conv1_2","out_channels":16,"kernel":3},
{"type":"maxpool","name":"Pool1","size":2},{"type":"conv","name":"Conv2_1","out_channels":32,"kernel":3},
{"type":"conv","name":"Conv2_2","out_channels":32,"kernel":3},{"type":"maxpool","name":"Pool2","size":2},
{"type":"conv","name":"Conv3_1","out_channels":64,"kernel":3},{"type":"fc","name":"FC1","out_features":128},
{"type":"fc","name":"FC2","out_features":4}]}
J
echo '{"name":"tfc","input":{"height":28,"width":28,"channels":1},"layers":[{"type":"fc","name":"FC1","out_features":64},{"type":"fc","name":"FC2","out_features":10}]}' > "$C/topology_json/tfc.json"

# Arrays: images (uint8), labels (int64), logits (float32); CAM exports.
for f in inputs labels logits; do cp "$F/ucnv_random/$f.npy" "$C/npy_images/$f.npy"; done
cp "$F/ucnv_random/labels.npy" "$C/pack_unpack/labels.npy"
cp "$F/ucnv_random/inputs.npy" "$C/pack_unpack/inputs.npy"
printf '\x07\x03\x05\x00\x12\x34\x56\x78\x9a' > "$C/pack_unpack/raw-uint8.bin"
printf '\x80\x03\x03\x00\xff\x00\x7f\x81' > "$C/pack_unpack/raw-int1.bin"
for k in activations gradients; do cp "$F/ncnv_trained/cam_pool2/0/$k.npz" "$C/cam_npz/$k.npz"; done

# Images: synthetic faces (PNG), the documentation's figures, the seed workflow's image.
"$BIN" synth --count 4 --out "$tmp/s" >/dev/null
cp "$tmp"/s/images/000000.png "$C/image_decode/face.png"
cp "$tmp"/s/parts/000001.png "$C/image_decode/parts-palette.png"
cp "$F/ncnv_trained/cam_pool2/0/image.png" "$C/image_decode/seed-image.png"
cp docs/img/cam_seed_workflow.png "$C/image_decode/figure.png"

# Hardware: foldings, a deployment's .hwh and .bit, accelerator descriptions.
cp hw/data/foldings/*.json "$C/folding_json/"
cp hw/tests/data/deploy/bitfile/finn-accel.hwh "$C/hwh/"
# driver.py: FINN's list form (the fixture deployment) and BinaryCoP's 2020 single form.
cp hw/tests/data/deploy/driver/driver.py "$C/driver_py/list_form.py"
cp hw/tests/data/driver_single.py "$C/driver_py/single_form.py"
cp hw/tests/data/deploy/bitfile/finn-accel.bit "$C/bit/"
echo '{"driver": "driver.py", "idma0": {"uio": "idma0"}, "odma0": {"base": "0x40010000", "range": "0x10000"}, "input_buffer": "udmabuf0", "output_buffer": "udmabuf1", "cache": "cached", "timeout_ms": 1000}' > "$C/accel_config/full.json"
echo '{"driver": "driver/driver.py", "idma0": {"uio": "idma0"}, "odma0": {"uio": "odma0"}}' > "$C/accel_config/uio.json"
# Class maps: the shipped MaskedFace-Net map and a small one with names and indices.
cp models/classmaps/*.json "$C/class_map/"
echo '{"class_names": ["a", "b", "c", "d"], "folders": {"CMFD": "a", "IMFD_Nose": 1, "x-y": "D"}}' > "$C/class_map/small.json"
echo "corpora in $C:"
for d in "$C"/*; do echo "  $(basename "$d"): $(ls "$d" | wc -l) files"; done
