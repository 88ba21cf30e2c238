//! Self-contained HTML pages: no scripts, no network. Plots are inline SVG; pictures are
//! embedded as small thumbnails (data URIs) that link to the full-size files written next to
//! the page. Every figure has a caption. Tables may group their columns under a spanning
//! header.

use std::fmt::Write as _;

use base64::Engine as _;

pub use super::figure::esc;

const STYLE: &str = "body{font-family:'DejaVu Sans',Verdana,Arial,sans-serif;margin:2em auto;max-width:75em;\
padding:0 1em;color:#222;line-height:1.45}h1{font-size:1.6em}h2{margin-top:2em;border-bottom:2px solid #ddd;\
padding-bottom:.2em}h3{margin-top:1.5em}nav ul{columns:2}table{border-collapse:collapse;margin:1em 0;\
font-size:.92em}caption{caption-side:top;text-align:left;color:#444;padding:.3em 0}td,th{border:1px solid #d4d4d4;\
padding:.3em .6em;text-align:right;white-space:nowrap}th{background:#f0f0f0}td.text,th.row{text-align:left}\
tbody tr:nth-child(even){background:#fafafa}.bad{color:#b00;font-weight:bold}.good{color:#060}\
figure{margin:1.5em 0}figure img,figure svg{max-width:100%;height:auto;border:1px solid #e4e4e4}\
figcaption{color:#444;max-width:60em;margin-top:.4em}.scroll{overflow-x:auto}.links{font-size:.9em}";

/// A table cell.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    html: String,
    class: Option<&'static str>,
}

impl Cell {
    /// Plain text, left-aligned.
    pub fn text(s: &str) -> Cell {
        Cell { html: esc(s), class: Some("text") }
    }
    /// A number or short figure, right-aligned.
    pub fn num(s: &str) -> Cell {
        Cell { html: esc(s), class: None }
    }
    /// A figure flagged as bad (red, bold).
    pub fn bad(s: &str) -> Cell {
        Cell { html: esc(s), class: Some("bad") }
    }
    /// Already-escaped HTML.
    pub fn html(s: String) -> Cell {
        Cell { html: s, class: Some("text") }
    }
}

/// A table: optional column groups (a label spanning n columns), the column headers, rows
/// whose first cell is a row header.
#[derive(Clone, Debug, Default)]
pub struct Table {
    pub caption: String,
    pub groups: Vec<(String, usize)>,
    pub header: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    fn render(&self, out: &mut String) {
        out.push_str("<div class=\"scroll\"><table>");
        if !self.caption.is_empty() {
            let _ = write!(out, "<caption>{}</caption>", esc(&self.caption));
        }
        out.push_str("<thead>");
        if !self.groups.is_empty() {
            out.push_str("<tr>");
            for (label, span) in &self.groups {
                let _ = write!(out, "<th colspan=\"{span}\">{}</th>", esc(label));
            }
            out.push_str("</tr>");
        }
        out.push_str("<tr>");
        for h in &self.header {
            let _ = write!(out, "<th>{}</th>", esc(h));
        }
        out.push_str("</tr></thead><tbody>");
        for row in &self.rows {
            out.push_str("<tr>");
            for (i, c) in row.iter().enumerate() {
                let tag = if i == 0 { "th" } else { "td" };
                let class = match (i, c.class) {
                    (0, _) => " class=\"row\"".to_string(),
                    (_, Some(k)) => format!(" class=\"{k}\""),
                    _ => String::new(),
                };
                let _ = write!(out, "<{tag}{class}>{}</{tag}>", c.html);
            }
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table></div>");
    }
}

/// A link under a figure: (label, relative path).
pub type Link = (String, String);

/// A page under construction.
pub struct Page {
    title: String,
    intro: String,
    toc: Vec<(String, String)>,
    body: String,
}

fn links_html(links: &[Link]) -> String {
    if links.is_empty() {
        return String::new();
    }
    let items: Vec<String> =
        links.iter().map(|(label, href)| format!("<a href=\"{}\">{}</a>", esc(href), esc(label))).collect();
    format!(" <span class=\"links\">Full size: {}.</span>", items.join(", "))
}

impl Page {
    pub fn new(title: &str) -> Page {
        Page { title: title.to_string(), intro: String::new(), toc: Vec::new(), body: String::new() }
    }

    /// Text under the title, before the table of contents (already-escaped HTML).
    pub fn intro(&mut self, html: &str) {
        self.intro.push_str(html);
    }

    /// A top-level section, listed in the table of contents.
    pub fn section(&mut self, id: &str, title: &str) {
        self.toc.push((id.to_string(), title.to_string()));
        let _ = write!(self.body, "<h2 id=\"{}\">{}</h2>", esc(id), esc(title));
    }

    pub fn subsection(&mut self, title: &str) {
        let _ = write!(self.body, "<h3>{}</h3>", esc(title));
    }

    /// A paragraph of already-escaped HTML.
    pub fn html(&mut self, html: &str) {
        let _ = write!(self.body, "<p>{html}</p>");
    }

    /// A paragraph of plain text.
    pub fn text(&mut self, s: &str) {
        self.html(&esc(s));
    }

    pub fn table(&mut self, t: &Table) {
        t.render(&mut self.body);
    }

    /// An inline SVG plot with its caption and links to its files.
    pub fn svg(&mut self, svg: &str, caption: &str, links: &[Link]) {
        let svg = svg.trim_start_matches(|c: char| c != '<');
        let svg = match svg.strip_prefix("<?xml") {
            Some(rest) => rest.split_once("?>").map_or(rest, |(_, s)| s),
            None => svg,
        };
        let _ =
            write!(self.body, "<figure>{svg}<figcaption>{}{}</figcaption></figure>", esc(caption), links_html(links));
    }

    /// An embedded thumbnail (`mime` bytes) linking to the full-size file `links[0]`.
    pub fn thumbnail(&mut self, bytes: &[u8], mime: &str, caption: &str, links: &[Link]) {
        let uri = format!("data:{mime};base64,{}", base64::engine::general_purpose::STANDARD.encode(bytes));
        let img = format!("<img src=\"{uri}\" alt=\"{}\">", esc(caption));
        let img = match links.first() {
            Some((_, href)) => format!("<a href=\"{}\">{img}</a>", esc(href)),
            None => img,
        };
        let _ =
            write!(self.body, "<figure>{img}<figcaption>{}{}</figcaption></figure>", esc(caption), links_html(links));
    }

    /// The finished document.
    pub fn finish(self) -> String {
        let mut h = String::with_capacity(self.body.len() + 4096);
        let _ = write!(
            h,
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
             content=\"width=device-width,initial-scale=1\"><title>{t}</title><style>{STYLE}</style></head><body><h1>{t}</h1>",
            t = esc(&self.title)
        );
        h.push_str(&self.intro);
        if self.toc.len() > 1 {
            h.push_str("<nav><ul>");
            for (id, title) in &self.toc {
                let _ = write!(h, "<li><a href=\"#{}\">{}</a></li>", esc(id), esc(title));
            }
            h.push_str("</ul></nav>");
        }
        h.push_str(&self.body);
        h.push_str("</body></html>\n");
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_escape_text_group_columns_and_link_full_sizes() {
        let mut p = Page::new("a <b> report");
        p.intro("<p>intro</p>");
        p.section("s1", "Summary");
        p.section("s2", "cnv");
        p.table(&Table {
            caption: "accuracy".into(),
            groups: vec![(String::new(), 1), ("generalization".into(), 2)],
            header: vec!["model".into(), "glasses".into(), "face paint".into()],
            rows: vec![vec![Cell::text("cnv"), Cell::num("93%"), Cell::bad("40%")]],
        });
        p.svg("<?xml version=\"1.0\"?><svg></svg>", "a plot", &[("SVG".into(), "plot.svg".into())]);
        p.thumbnail(&[1, 2, 3], "image/jpeg", "grid & labels", &[("PNG".into(), "g.png".into())]);
        let h = p.finish();
        assert!(h.contains("<title>a &lt;b&gt; report</title>"));
        assert!(h.contains("<th colspan=\"2\">generalization</th>") && h.contains("<td class=\"bad\">40%</td>"));
        assert!(h.contains("<figure><svg></svg><figcaption>a plot") && !h.contains("<?xml"));
        assert!(h.contains("<a href=\"g.png\"><img src=\"data:image/jpeg;base64,AQID\" alt=\"grid &amp; labels\">"));
        assert!(h.contains("<a href=\"#s2\">cnv</a>"));
        assert!(!h.contains("http://") && !h.contains("https://") && !h.contains("<script"));
    }
}
