//! Bit-packed binary feature maps: pixels row-major, each pixel's channels packed LSB-first into
//! `words_per_pixel` u64 words (bit c%64 of word c/64; 1 = +1). Padding bits are always zero.

use ndarray::{Array3, ArrayView3};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackedMap {
    pub height: usize,
    pub width: usize,
    pub channels: usize,
    pub words_per_pixel: usize,
    pub data: Vec<u64>,
}

impl PackedMap {
    pub fn zeros(height: usize, width: usize, channels: usize) -> Self {
        let wpp = channels.div_ceil(64);
        PackedMap { height, width, channels, words_per_pixel: wpp, data: vec![0; height * width * wpp] }
    }

    pub fn pixel(&self, y: usize, x: usize) -> &[u64] {
        let o = (y * self.width + x) * self.words_per_pixel;
        &self.data[o..o + self.words_per_pixel]
    }

    pub fn get(&self, y: usize, x: usize, c: usize) -> bool {
        self.pixel(y, x)[c / 64] >> (c % 64) & 1 == 1
    }

    /// Packs a ±1 (or sign of any i8: ≥ 0 → +1) H×W×C map.
    pub fn from_pm1(map: ArrayView3<i8>) -> Self {
        let (h, w, c) = map.dim();
        let mut p = PackedMap::zeros(h, w, c);
        for ((y, x, ch), &v) in map.indexed_iter() {
            if v >= 0 {
                p.data[(y * w + x) * p.words_per_pixel + ch / 64] |= 1 << (ch % 64);
            }
        }
        p
    }

    /// Unpacks to ±1, H×W×C.
    pub fn to_pm1(&self) -> Array3<i8> {
        Array3::from_shape_fn(
            (self.height, self.width, self.channels),
            |(y, x, c)| if self.get(y, x, c) { 1 } else { -1 },
        )
    }

    /// Non-overlapping `size`×`size` max-pool: an OR of the words.
    pub fn max_pool(&self, size: usize) -> PackedMap {
        let mut out = PackedMap::zeros(self.height / size, self.width / size, self.channels);
        pool_words(&self.data, self.height, self.width, self.words_per_pixel, size, &mut out.data);
        out
    }
}

/// The max-pool of a packed `height`×`width` map of `wpp` words per pixel into `out` (resized
/// to the pooled map): each output pixel is the OR of its `size`×`size` window.
pub fn pool_words(src: &[u64], height: usize, width: usize, wpp: usize, size: usize, out: &mut Vec<u64>) {
    let (oh, ow) = (height / size, width / size);
    out.clear();
    out.resize(oh * ow * wpp, 0);
    for oy in 0..oh {
        for ox in 0..ow {
            let dst = &mut out[(oy * ow + ox) * wpp..][..wpp];
            for dy in 0..size {
                for dx in 0..size {
                    let s = &src[((oy * size + dy) * width + ox * size + dx) * wpp..][..wpp];
                    for (d, s) in dst.iter_mut().zip(s) {
                        *d |= s;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_unpack_and_pool() {
        let m = Array3::from_shape_fn((4, 4, 70), |(y, x, c)| if (y * 7 + x * 3 + c) % 5 == 0 { 1i8 } else { -1 });
        let p = PackedMap::from_pm1(m.view());
        assert_eq!(p.words_per_pixel, 2);
        assert_eq!(p.to_pm1(), m);
        // Padding bits stay zero.
        assert!(p.data.iter().skip(1).step_by(2).all(|w| w >> 6 == 0));
        let pooled = p.max_pool(2).to_pm1();
        for oy in 0..2 {
            for ox in 0..2 {
                for c in 0..70 {
                    let want = (0..2)
                        .flat_map(|dy| (0..2).map(move |dx| (dy, dx)))
                        .map(|(dy, dx)| m[[2 * oy + dy, 2 * ox + dx, c]])
                        .max()
                        .unwrap();
                    assert_eq!(pooled[[oy, ox, c]], want);
                }
            }
        }
    }
}
