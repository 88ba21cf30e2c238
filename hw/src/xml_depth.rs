//! The element nesting depth of an XML text, found in one pass without recursion.
//!
//! roxmltree (0.20) parses an element's content by recursion, one stack frame per level, and has
//! no depth limit: about 20,000 nested elements overflow the stack. [`max_depth`] is run first
//! and follows roxmltree's own reading of markup (comments, CDATA, processing instructions,
//! quoted attribute values that may hold `>` or `/`), so it never counts fewer levels than
//! roxmltree would recurse into. Where the text is malformed it keeps going (counting an
//! unclosed tag as open): roxmltree stops at the first error, so counting on can only
//! overestimate.

/// The deepest element nesting in `text`, or the depth at which it passed `limit` (whichever
/// comes first; the scan stops there).
pub fn max_depth(text: &str, limit: usize) -> usize {
    let b = text.as_bytes();
    let (mut i, mut depth, mut max) = (0usize, 0usize, 0usize);
    while let Some(off) = b[i..].iter().position(|&c| c == b'<') {
        i += off;
        let rest = &b[i..];
        if rest.starts_with(b"<!--") {
            i = skip_past(b, i + 4, b"-->");
        } else if rest.starts_with(b"<![CDATA[") {
            i = skip_past(b, i + 9, b"]]>");
        } else if rest.starts_with(b"<?") {
            i = skip_past(b, i + 2, b"?>");
        } else if rest.starts_with(b"</") {
            depth = depth.saturating_sub(1);
            i = skip_past(b, i + 2, b">");
        } else if rest.starts_with(b"<!") {
            // A DOCTYPE or other declaration: no element content inside.
            i = skip_past(b, i + 2, b">");
        } else {
            let (end, empty) = tag_end(b, i + 1);
            if !empty {
                depth += 1;
                max = max.max(depth);
                if max > limit {
                    return max;
                }
            }
            i = end;
        }
    }
    max
}

/// The index just past the first `pat` at or after `from` (the end of the text if none).
fn skip_past(b: &[u8], from: usize, pat: &[u8]) -> usize {
    let from = from.min(b.len());
    b[from..].windows(pat.len()).position(|w| w == pat).map_or(b.len(), |p| from + p + pat.len())
}

/// The end of a start tag (just past its `>`), and whether it was empty (`/>`). Quoted
/// attribute values are skipped whole; a `<` inside one ends the scan of the tag (roxmltree
/// stops there with an error, and this scan resumes at that `<`).
fn tag_end(b: &[u8], mut i: usize) -> (usize, bool) {
    let mut prev = 0u8;
    while i < b.len() {
        match b[i] {
            q @ (b'"' | b'\'') => match b[i + 1..].iter().position(|&c| c == q || c == b'<') {
                Some(p) if b[i + 1 + p] == q => {
                    i += p + 2;
                    prev = q;
                    continue;
                }
                Some(p) => return (i + 1 + p, false),
                None => return (b.len(), false),
            },
            b'>' => return (i + 1, prev == b'/'),
            b'<' => return (i, false),
            c => prev = c,
        }
        i += 1;
    }
    (b.len(), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_follows_the_markup() {
        assert_eq!(max_depth("<a><b/><c><d></d></c></a>", 99), 3);
        assert_eq!(max_depth("<?xml version=\"1.0\"?><!-- <x><y> --><a><![CDATA[<p><q>]]></a>", 99), 1);
        // Quoted values may hold '>' and "/>": they are not the tag's end.
        assert_eq!(max_depth("<a x=\"/>\" y='>'><b z=\"a/>b\"></b></a>", 99), 2);
        // Unclosed tags count as open.
        assert_eq!(max_depth("<a><a><a x=\"1\"", 99), 3);
        assert_eq!(max_depth(&"<a>".repeat(100_000), 256), 257);
        assert_eq!(max_depth(&"<a x='/>'>".repeat(1000), 10_000), 1000);
        assert_eq!(max_depth("", 1), 0);
    }
}
