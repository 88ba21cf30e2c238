//! What a kernel is handed: one compute layer's weights and window geometry, the output pixels to
//! run (each named by where its window starts in the input map), and where their bits go. The
//! kernels read the input map in place through the window offsets (no im2col copy) and check
//! every bound here once per call, so their inner loops need none.

/// A binary layer. Window word j of the output pixel whose window starts at input word `base`
/// is input[base + offsets[j]]; for a k×k conv over a map of `wpp` words per pixel and width
/// `w` that is ((ky·w + kx)·wpp + word), for a fully connected layer simply j.
pub struct BinLayer<'a> {
    pub offsets: &'a [usize],
    /// The rows, [`super::pack_rows`]-ed for the kernel that runs them.
    pub weights: &'a [u64],
    pub rows: usize,
}

impl BinLayer<'_> {
    /// Window words per row.
    pub fn words(&self) -> usize {
        self.offsets.len()
    }

    /// Checks that every window of `bases` lies inside `input` and the weights hold whole blocks
    /// of `lanes` rows. Kernels call it before reading without bounds checks.
    pub fn check(&self, input: &[u64], bases: &[usize], lanes: usize, lane_bits: u32) {
        let words = self.words();
        let blocks = self.rows.div_ceil(lanes);
        assert!(self.weights.len() >= blocks * lanes * words, "weights packed for {lanes} lanes of {lane_bits} bits");
        if let (Some(&b), Some(&o)) = (bases.iter().max(), self.offsets.iter().max()) {
            assert!(b.checked_add(o).is_some_and(|e| e < input.len()), "windows inside the input map");
        }
    }
}

/// The first layer: integer input codes (offset by 128 to 0..=255, one byte per value) times
/// ±1 weights. A window is `row_offsets.len()` runs of `span` contiguous bytes (a conv's kernel
/// rows, kernel·C codes each; an fc's single run of K), read as `groups` = ⌈span/4⌉ groups of
/// four taps from input[base + row_offset]; taps past a run's end meet zero weights (the input
/// map carries at least 3 bytes of slack after its last pixel).
pub struct IntLayer<'a> {
    pub row_offsets: &'a [usize],
    pub span: usize,
    pub groups: usize,
    /// [row][group][channel, padded to `padded`][tap in group] as i8: +1, −1 or 0 (padding).
    pub weights: &'a [i8],
    pub channels: usize,
    /// Channels rounded up to a multiple of 64.
    pub padded: usize,
}

impl IntLayer<'_> {
    /// Checks every window of `bases` and the weights' size (as [`BinLayer::check`]).
    pub fn check(&self, input: &[u8], bases: &[usize]) {
        assert!(self.padded.is_multiple_of(64) && self.channels <= self.padded, "channels padded to 64");
        assert!(self.groups == self.span.div_ceil(4), "groups of four taps cover the span");
        assert!(
            self.weights.len() >= self.row_offsets.len() * self.groups * self.padded * 4,
            "weights cover the window"
        );
        if let (Some(&b), Some(&o)) = (bases.iter().max(), self.row_offsets.iter().max()) {
            let end = b.checked_add(o).and_then(|e| e.checked_add(4 * self.groups));
            assert!(end.is_some_and(|e| e <= input.len()), "windows inside the input map");
        }
    }
}

/// Where a kernel ORs output bits: pixel p's bits go to the `words` words of output pixel
/// p / `group` (a fused max-pool: the `group` pixels of one window run consecutively). The
/// caller zeroes `out` first.
pub struct BitsOut<'a> {
    /// One per row (channel): the comparison each kernel method documents. The first layer's
    /// are padded to [`IntLayer::padded`] with `i32::MAX`, which no sum reaches.
    pub limits: &'a [i32],
    pub group: usize,
    pub words: usize,
    pub out: &'a mut [u64],
}

impl BitsOut<'_> {
    /// Checks the output holds every pixel's words for `rows` rows.
    pub fn check(&self, pixels: usize, rows: usize) {
        assert!(self.group > 0 && self.limits.len() >= rows && self.words >= rows.div_ceil(64), "one limit per row");
        assert!(self.out.len() >= pixels.div_ceil(self.group) * self.words, "output holds every pixel");
    }
}

/// Writes block `b` of one pixel's per-row values (`lanes`: that block's rows, the last block's
/// padding rows included) to out[p·rows + b·lanes.len() ..], dropping the padding rows.
#[inline(always)]
pub fn put_block<T: Copy>(out: &mut [T], rows: usize, p: usize, b: usize, lanes: &[T]) {
    let lo = b * lanes.len();
    let n = lanes.len().min(rows - lo);
    out[p * rows + lo..p * rows + lo + n].copy_from_slice(&lanes[..n]);
}
