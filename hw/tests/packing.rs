//! Packing is byte-exact with FINN's own `data_packing.py`.
//!
//! `data/packing_vectors.json` is made by `python/make_packing_vectors.py`, which runs FINN's
//! `finnpy_to_packed_bytearray` and `packed_bytearray_to_finnpy` (fast_mode off) from a FINN
//! checkout outside the repository (the file's `made_with` names the commits and versions):
//! 23 DataTypes, three inner widths each from {1,2,3,5,7,8,9,13,17,33}, 1–3 rows, all four flag
//! settings, seeded random values with each type's exactly representable min and max placed
//! first. FINN keeps values in float32, so 32-bit values stay within ±2^24 plus the exact
//! extreme. The generator also checks that FINN's unpack returns the values, and a rerun writes
//! the same bytes. No FINN code is in this repo.

use binarycop_hw::packing::{pack, pack_to_vec, unpack_to_vec, DataType, Layout, PackError};
use proptest::prelude::*;

#[derive(serde::Deserialize)]
struct Case {
    dtype: String,
    rows: usize,
    inner: usize,
    reverse_inner: bool,
    reverse_endian: bool,
    values: Vec<i64>,
    packed: String,
}

#[derive(serde::Deserialize)]
struct Vectors {
    cases: Vec<Case>,
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn vectors() -> Vec<Case> {
    let text = include_str!("data/packing_vectors.json");
    serde_json::from_str::<Vectors>(text).unwrap().cases
}

#[test]
fn finn_vectors_pack_and_unpack_byte_exact() {
    let cases = vectors();
    assert_eq!(cases.len(), 276, "the README counts 276 vectors");
    let mut dtypes = std::collections::BTreeSet::new();
    let mut layouts = std::collections::BTreeSet::new();
    for (i, c) in cases.iter().enumerate() {
        let dt: DataType = c.dtype.parse().unwrap();
        let layout = Layout { reverse_inner: c.reverse_inner, reverse_endian: c.reverse_endian };
        dtypes.insert(dt.to_string());
        layouts.insert((c.reverse_inner, c.reverse_endian));
        let want = unhex(&c.packed);
        assert_eq!(c.values.len(), c.rows * c.inner);
        let got = pack_to_vec(&c.values, c.inner, dt, layout).unwrap();
        assert_eq!(got, want, "case {i}: {} inner {} {:?}", c.dtype, c.inner, layout);
        let back: Vec<i64> = unpack_to_vec(&want, c.inner, dt, layout).unwrap();
        assert_eq!(back, c.values, "case {i}: unpack {} inner {} {:?}", c.dtype, c.inner, layout);
        // The narrow element types take the same paths (and the 8-bit fast path).
        if dt.min() >= 0 && dt.max() <= 255 {
            let v8: Vec<u8> = c.values.iter().map(|&v| v as u8).collect();
            assert_eq!(pack_to_vec(&v8, c.inner, dt, layout).unwrap(), want, "case {i} as u8");
            assert_eq!(unpack_to_vec::<u8>(&want, c.inner, dt, layout).unwrap(), v8, "case {i} u8 unpack");
        }
        if dt.min() >= -128 && dt.max() <= 127 {
            let v8: Vec<i8> = c.values.iter().map(|&v| v as i8).collect();
            assert_eq!(pack_to_vec(&v8, c.inner, dt, layout).unwrap(), want, "case {i} as i8");
            assert_eq!(unpack_to_vec::<i8>(&want, c.inner, dt, layout).unwrap(), v8, "case {i} i8 unpack");
        }
    }
    assert!(dtypes.len() >= 20, "{dtypes:?}");
    assert_eq!(layouts.len(), 4);
}

#[test]
fn out_of_range_values_name_the_element() {
    let dt: DataType = "INT4".parse().unwrap();
    let err = pack_to_vec(&[0i32, 7, -8, 8], 4, dt, Layout::DRIVER).unwrap_err();
    assert_eq!(err, PackError::OutOfRange { dtype: dt, index: 3, value: 8, min: -8, max: 7 });
    assert!(err.to_string().contains("element 3"), "{err}");
}

fn dtype_strategy() -> impl Strategy<Value = DataType> {
    prop_oneof![
        Just(DataType::BINARY),
        Just(DataType::BIPOLAR),
        Just(DataType::TERNARY),
        (1u32..=32).prop_map(|b| DataType::uint(b).unwrap()),
        (1u32..=32).prop_map(|b| DataType::int(b).unwrap()),
    ]
}

fn layout_strategy() -> impl Strategy<Value = Layout> {
    (any::<bool>(), any::<bool>()).prop_map(|(a, b)| Layout { reverse_inner: a, reverse_endian: b })
}

/// Rows of values allowed by the type.
fn case_strategy() -> impl Strategy<Value = (DataType, Layout, usize, Vec<i64>)> {
    (dtype_strategy(), layout_strategy(), 1usize..40, 0usize..5).prop_flat_map(|(dt, l, inner, rows)| {
        let elem = if dt == DataType::BIPOLAR {
            prop_oneof![Just(-1i64), Just(1i64)].boxed()
        } else {
            (dt.min()..=dt.max()).boxed()
        };
        (Just(dt), Just(l), Just(inner), proptest::collection::vec(elem, inner * rows))
    })
}

proptest! {
    #[test]
    fn pack_then_unpack_is_identity((dt, layout, inner, values) in case_strategy()) {
        let packed = pack_to_vec(&values, inner, dt, layout).unwrap();
        prop_assert_eq!(packed.len(), values.len() / inner * dt.row_bytes(inner));
        let back: Vec<i64> = unpack_to_vec(&packed, inner, dt, layout).unwrap();
        prop_assert_eq!(back, values);
    }

    /// Every byte string is a packing of something (padding aside): unpack then pack gives it back
    /// with the padding bits cleared.
    #[test]
    fn unpack_then_pack_clears_only_padding(
        dt in dtype_strategy().prop_filter("TERNARY's 2-bit field has an unused code", |d| {
            *d != DataType::TERNARY
        }),
        layout in layout_strategy(),
        inner in 1usize..30,
        seed in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let rb = dt.row_bytes(inner);
        let rows = seed.len() / rb;
        let bytes = &seed[..rows * rb];
        let values: Vec<i64> = unpack_to_vec(bytes, inner, dt, layout).unwrap();
        let again = pack_to_vec(&values, inner, dt, layout).unwrap();
        let pad = rb * 8 - inner * dt.bits() as usize;
        // The padding is the top `pad` bits of V: in the last byte (LE) or the first (BE).
        let keep: u8 = if pad == 0 { 0xff } else { 0xff >> pad };
        for (r, (a, b)) in again.chunks(rb).zip(bytes.chunks(rb)).enumerate() {
            let pad_at = if layout.reverse_endian { rb - 1 } else { 0 };
            for j in 0..rb {
                let m = if j == pad_at { keep } else { 0xff };
                prop_assert_eq!(a[j], b[j] & m, "row {} byte {}", r, j);
            }
        }
    }

    /// The 8-bit fast path agrees with the general accumulator (i16 input takes the general one).
    #[test]
    fn uint8_fast_path_matches_general(layout in layout_strategy(), inner in 1usize..20,
                                      v in proptest::collection::vec(any::<u8>(), 0..100)) {
        let n = v.len() / inner * inner;
        let v = &v[..n];
        let wide: Vec<i16> = v.iter().map(|&x| x as i16).collect();
        let a = pack_to_vec(v, inner, DataType::UINT8, layout).unwrap();
        let b = pack_to_vec(&wide, inner, DataType::UINT8, layout).unwrap();
        prop_assert_eq!(&a, &b);
        let mut c = vec![0u8; a.len()];
        pack(v, inner, DataType::UINT8, layout, &mut c).unwrap();
        prop_assert_eq!(a, c);
    }
}
