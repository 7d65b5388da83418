//! Problems found in a manifest, each pointing at its place in the source.

use std::fmt;
use std::ops::Range;

/// One problem in a manifest: where it is, what is wrong, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Byte range in the source.
    pub span: Range<usize>,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when there is something useful to say.
    pub hint: Option<String>,
}

impl Diagnostic {
    pub(crate) fn new(span: Range<usize>, message: impl Into<String>) -> Self {
        Self {
            span,
            message: message.into(),
            hint: None,
        }
    }

    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// Every problem found in one manifest, with the source needed to show them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics {
    /// The manifest's name as shown in messages (usually its path).
    pub file: String,
    /// The manifest's text.
    pub source: String,
    /// The problems, in source order.
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// 1-based line and column (in characters) of byte `offset`.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.source.len());
        let before = &self.source[..floor_char_boundary(&self.source, offset)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        (line, before[line_start..].chars().count() + 1)
    }

    /// The problems as `file:line:col: message` lines (no source excerpts), for tests and logs.
    pub fn summary(&self) -> Vec<String> {
        self.items
            .iter()
            .map(|d| {
                let (line, col) = self.line_col(d.span.start);
                format!("{}:{line}:{col}: {}", self.file, d.message)
            })
            .collect()
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl fmt::Display for Diagnostics {
    /// Renders every problem as rustc does, with `annotate-snippets`: message, `--> file:line:col`, the
    /// source line, a caret under the offending text, and the hint.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use annotate_snippets::{AnnotationKind, Level, Renderer, Snippet};

        let renderer = Renderer::plain();
        for (i, d) in self.items.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            let span = clamp_span(&self.source, &d.span);
            let mut group = Level::ERROR.primary_title(d.message.as_str()).element(
                Snippet::source(self.source.as_str())
                    .path(self.file.as_str())
                    .fold(true)
                    .annotation(AnnotationKind::Primary.span(span)),
            );
            if let Some(hint) = &d.hint {
                group = group.element(Level::HELP.with_name("hint").message(hint.as_str()));
            }
            writeln!(f, "{}", renderer.render(&[group]))?;
        }
        let n = self.items.len();
        write!(
            f,
            "{n} error{} in {}",
            if n == 1 { "" } else { "s" },
            self.file
        )
    }
}

/// `span` within `source`, on character boundaries, at least one character wide when the source allows it
/// (an empty span shows a caret at its place).
fn clamp_span(source: &str, span: &Range<usize>) -> Range<usize> {
    let start = floor_char_boundary(source, span.start.min(source.len()));
    let mut end = floor_char_boundary(source, span.end.min(source.len())).max(start);
    if end == start {
        end = source[start..]
            .chars()
            .next()
            .filter(|c| *c != '\n')
            .map_or(start, |c| start + c.len_utf8());
    }
    start..end
}

impl std::error::Error for Diagnostics {}

/// The closest of `candidates` to `name`, when it is close enough to be a likely typo.
pub(crate) fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let lower = name.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (levenshtein(&lower, &c.to_ascii_lowercase()), c))
        .filter(|(d, c)| *d <= (c.len().max(name.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(cur).min(row[j])
            };
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_with_caret_and_hint() {
        let d = Diagnostics {
            file: "iomod.toml".into(),
            source: "[iomod]\ncoordinates = \"Bad\"\n".into(),
            items: vec![Diagnostic::new(22..27, "bad coordinates").hint("use org.ns.name")],
        };
        let text = d.to_string();
        assert!(text.contains(" --> iomod.toml:2:15\n"), "{text}");
        assert!(text.contains("2 | coordinates = \"Bad\"\n"), "{text}");
        assert!(text.contains("  |               ^^^^^\n"), "{text}");
        assert!(text.contains("  = hint: use org.ns.name"), "{text}");
        assert_eq!(d.summary(), ["iomod.toml:2:15: bad coordinates"]);
    }

    #[test]
    fn suggestions() {
        assert_eq!(
            did_you_mean("AtributeValue", ["AttributeValue", "Key"]),
            Some("AttributeValue")
        );
        assert_eq!(did_you_mean("strng", ["string", "bytes"]), Some("string"));
        assert_eq!(did_you_mean("Completely", ["AttributeValue"]), None);
    }
}
