//! A check of an ONNX file's protobuf wire format, run before the protobuf crate parses it.
//!
//! protobuf 3.4.0 (the exact runtime `onnx-protobuf`'s generated code is built against) skips
//! a group field (wire types 3 and 4, unknown to proto3 and never written by ONNX) by recursing
//! once per nested group, with no depth limit: a few hundred kilobytes of start-group tags
//! overflow the stack (RUSTSEC-2024-0437, fixed in protobuf 3.7.2, which `onnx-protobuf` cannot
//! use). Nested messages are bounded by protobuf's own recursion limit (100), groups are not.
//!
//! So every message of the file is walked here first, without recursion: the fields a message
//! declares as messages ([`Msg::field`]) are entered, every
//! other field is stepped over by its wire type, and a group anywhere is refused. The walk reads
//! each byte at most once per nesting level it belongs to and allocates one frame per level.

/// protobuf's own limit on nested messages (`DEFAULT_RECURSION_LIMIT`): deeper files are
/// refused here with the same limit, before the parser sees them.
pub const MAX_MESSAGE_DEPTH: usize = 100;

/// The ONNX messages (`onnx-protobuf` 0.2.3, ONNX IR 9), as far as the walk needs them: which of
/// their fields hold a message. `onnx-protobuf` is generated for protobuf's lite runtime, which
/// has no descriptors, so this is the schema written out; a test probes the parser for every
/// field number of every message and checks it against this table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Msg {
    Model,
    Graph,
    Node,
    Attribute,
    ValueInfo,
    Tensor,
    SparseTensor,
    TensorAnnotation,
    TrainingInfo,
    Function,
    Type,
    TypeTensor,
    TypeSequence,
    TypeMap,
    TypeOptional,
    TypeSparseTensor,
    TensorShape,
    /// OperatorSetIdProto, StringStringEntryProto, TensorProto.Segment and
    /// TensorShapeProto.Dimension: messages without message fields.
    Leaf,
}

impl Msg {
    /// The message field `number` of this message holds, if it holds one.
    pub fn field(self, number: u64) -> Option<Msg> {
        use Msg::*;
        Some(match (self, number) {
            (Model, 7) => Graph,
            (Model, 20) => TrainingInfo,
            (Model, 25) => Function,
            (Model, 8 | 14) => Leaf,
            (Graph, 1) => Node,
            (Graph, 5) => Tensor,
            (Graph, 15) => SparseTensor,
            (Graph, 11..=13) => ValueInfo,
            (Graph, 14) => TensorAnnotation,
            (Graph, 16) => Leaf,
            (Node, 5) => Attribute,
            (Node, 9) => Leaf,
            (Attribute, 5 | 10) => Tensor,
            (Attribute, 6 | 11) => Graph,
            (Attribute, 22 | 23) => SparseTensor,
            (Attribute, 14 | 15) => Type,
            (ValueInfo, 2) => Type,
            (ValueInfo, 4) => Leaf,
            (Tensor, 3 | 13 | 16) => Leaf,
            (SparseTensor, 1 | 2) => Tensor,
            (TensorAnnotation, 2) => Leaf,
            (TrainingInfo, 1 | 2) => Graph,
            (TrainingInfo, 3 | 4) => Leaf,
            (Function, 7) => Node,
            (Function, 11) => Attribute,
            (Function, 12) => ValueInfo,
            (Function, 9 | 14) => Leaf,
            (Type, 1) => TypeTensor,
            (Type, 4) => TypeSequence,
            (Type, 5) => TypeMap,
            (Type, 9) => TypeOptional,
            (Type, 8) => TypeSparseTensor,
            (TypeTensor | TypeSparseTensor, 2) => TensorShape,
            (TypeSequence | TypeOptional, 1) => Type,
            (TypeMap, 2) => Type,
            (TensorShape, 1) => Leaf,
            _ => return None,
        })
    }
}

/// Checks that `bytes`, a serialized `root` message, holds no protobuf group and nests no
/// deeper than [`MAX_MESSAGE_DEPTH`]. Other wire-format errors are left to the parser, which
/// reports them without recursing; the walk only stops at them.
pub fn check(bytes: &[u8], root: Msg) -> Result<(), String> {
    // (what the message is, where its bytes end)
    let mut stack: Vec<(Msg, usize)> = vec![(root, bytes.len())];
    let mut pos = 0usize;
    while let Some(&(msg, end)) = stack.last() {
        if pos >= end {
            stack.pop();
            continue;
        }
        let Some(tag) = varint(bytes, &mut pos, end) else { return Ok(()) };
        let (number, wire) = (tag >> 3, tag & 7);
        match wire {
            0 => {
                if varint(bytes, &mut pos, end).is_none() {
                    return Ok(());
                }
            }
            1 | 5 => {
                let n = if wire == 1 { 8 } else { 4 };
                if end - pos < n {
                    return Ok(());
                }
                pos += n;
            }
            2 => {
                let Some(len) = varint(bytes, &mut pos, end) else { return Ok(()) };
                let Some(inner_end) = usize::try_from(len).ok().and_then(|l| pos.checked_add(l)).filter(|&e| e <= end)
                else {
                    return Ok(());
                };
                match msg.field(number) {
                    Some(inner) => {
                        if stack.len() > MAX_MESSAGE_DEPTH {
                            return Err(format!("messages nest deeper than {MAX_MESSAGE_DEPTH} levels"));
                        }
                        stack.push((inner, inner_end));
                    }
                    None => pos = inner_end,
                }
            }
            _ => {
                return Err(format!(
                    "field {number} at byte {pos} is a protobuf group (wire type {wire}), which ONNX never writes"
                ))
            }
        }
    }
    Ok(())
}

/// A base-128 varint of at most 10 bytes ending before `end`, or `None` if it runs past it.
fn varint(bytes: &[u8], pos: &mut usize, end: usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..70).step_by(7) {
        if *pos >= end {
            return None;
        }
        let b = bytes[*pos];
        *pos += 1;
        value |= u64::from(b & 0x7f).checked_shl(shift).unwrap_or(0);
        if b & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use onnx_protobuf::{Message, ModelProto};

    #[test]
    fn a_real_model_passes() {
        let mut m = ModelProto::new();
        m.ir_version = 8;
        let g = m.graph.mut_or_insert_default();
        g.name = "g".into();
        let mut n = onnx_protobuf::NodeProto::new();
        n.op_type = "Relu".into();
        let mut a = onnx_protobuf::AttributeProto::new();
        a.name = "body".into();
        a.g = protobuf::MessageField::some(onnx_protobuf::GraphProto::new());
        n.attribute.push(a);
        g.node.push(n);
        let bytes = m.write_to_bytes().unwrap();
        assert_eq!(check(&bytes, Msg::Model), Ok(()));
    }

    #[test]
    fn a_group_at_any_depth_is_refused() {
        // ModelProto.graph (7) → GraphProto.node (1) → a start-group tag for field 15.
        let node = [0x7b_u8, 0x7c];
        let graph = [&[0x0a, node.len() as u8][..], &node].concat();
        let bytes = [&[0x3a, graph.len() as u8][..], &graph].concat();
        let e = check(&bytes, Msg::Model).unwrap_err();
        assert!(e.contains("group"), "{e}");
        // The same bytes inside TensorProto.raw_data (9) are data, not a group.
        let tensor = [0x4a_u8, 2, 0x7b, 0x7b];
        let graph = [&[0x2a, tensor.len() as u8][..], &tensor].concat(); // GraphProto.initializer (5)
        let bytes = [&[0x3a, graph.len() as u8][..], &graph].concat();
        assert_eq!(check(&bytes, Msg::Model), Ok(()));
        // Under the parser's recursion: 1 MB of nested start-group tags is refused at once.
        let bytes = vec![0x7b_u8; 1 << 20];
        assert!(check(&bytes, Msg::Model).unwrap_err().contains("field 15 at byte 1"));
    }

    #[test]
    fn nesting_past_protobufs_limit_is_refused() {
        // GraphProto.node → NodeProto.attribute → AttributeProto.g → GraphProto ..., 60 times.
        let mut inner: Vec<u8> = Vec::new();
        for _ in 0..60 {
            let attr = [&[0x32][..], &len(inner.len()), &inner].concat(); // AttributeProto.g (6)
            let node = [&[0x2a][..], &len(attr.len()), &attr].concat(); // NodeProto.attribute (5)
            inner = [&[0x0a][..], &len(node.len()), &node].concat(); // GraphProto.node (1)
        }
        let bytes = [&[0x3a][..], &len(inner.len()), &inner].concat();
        let e = check(&bytes, Msg::Model).unwrap_err();
        assert!(e.contains("deeper than 100"), "{e}");
    }

    /// `content` as field `path[last]` of ... of field `path[0]` of a ModelProto.
    fn nest(path: &[u64], content: &[u8]) -> Vec<u8> {
        let mut bytes = content.to_vec();
        for &n in path.iter().rev() {
            bytes = [varint_bytes(n << 3 | 2), len(bytes.len()), bytes].concat();
        }
        bytes
    }

    fn varint_bytes(n: u64) -> Vec<u8> {
        len(n as usize)
    }

    /// Whether the parser reads the field at `path` as a message: one invalid tag is then an
    /// error (a string, bytes or packed varints take it), and one valid varint field is not (a
    /// packed float or double would need 4 or 8 bytes).
    fn parser_reads_a_message(path: &[u64]) -> bool {
        let parses = |content: &[u8]| ModelProto::parse_from_bytes(&nest(path, content)).is_ok();
        !parses(&[0x07]) && parses(&[0x08, 0x00])
    }

    /// The table is the generated parser's schema: every field number 1..=40 of every message
    /// reachable from ModelProto (each leaf kind by every field that holds one) is a message
    /// for the parser exactly when the table says so.
    #[test]
    fn the_table_is_the_parsers_schema() {
        let mut paths: Vec<(Msg, Vec<u64>)> = vec![(Msg::Model, vec![])];
        let mut i = 0;
        let mut probed = 0;
        while i < paths.len() {
            let (msg, path) = paths[i].clone();
            for n in 1..=40 {
                let field = [&path[..], &[n]].concat();
                assert_eq!(parser_reads_a_message(&field), msg.field(n).is_some(), "{msg:?} field {n} at {path:?}");
                probed += 1;
                if let Some(inner) = msg.field(n) {
                    let seen = paths.iter().any(|(m, _)| *m == inner && inner != Msg::Leaf);
                    if !seen && path.len() < 6 {
                        paths.push((inner, field));
                    }
                }
            }
            i += 1;
        }
        assert_eq!(paths.iter().filter(|(m, _)| *m != Msg::Leaf).count(), 17, "every message kind reached");
        assert!(probed > 40 * 30, "{probed}");
    }

    fn len(n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut n = n as u64;
        loop {
            let b = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(b);
                return out;
            }
            out.push(b | 0x80);
        }
    }
}
