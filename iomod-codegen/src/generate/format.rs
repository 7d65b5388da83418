//! Generated Rust laid out like hand-written Rust: each file is parsed with `syn` and printed by
//! `prettyplease`, so that lines stay short and the output does not depend on whether (or which) rustfmt
//! is installed where the generator runs. Long string literals (JSON Schemas, contracts, messages) are
//! broken into lines with `\` continuations, which leave their value as it was.

use std::io::Write;
use std::process::{Command, Stdio};
use std::str::FromStr;

use proc_macro2::{Group, Literal, TokenStream, TokenTree};
use syn::visit_mut::{self, VisitMut};

use crate::generate::GenerateError;

/// The most characters of a string literal's text on one line.
const PIECE: usize = 64;

/// `source` (a whole Rust file) printed by `prettyplease`. The leading `//` comment lines (the
/// `@generated` header) are kept as they are: a printer of syntax trees has no place for plain comments.
pub(crate) fn rust(file: &str, source: &str) -> Result<String, GenerateError> {
    let (header, body) = split_header(source);
    let mut tree = syn::parse_file(body).map_err(|e| GenerateError::Format {
        file: file.to_owned(),
        message: e.to_string(),
    })?;
    BreakLongStrings.visit_file_mut(&mut tree);
    Ok(format!("{header}{}", prettyplease::unparse(&tree)))
}

/// `source` laid out by rustfmt (edition 2024), or `None` when rustfmt is not installed. The `generate`
/// and `check` commands pass the Rust files they write or compare through it, so that checked-in generated
/// crates pass `rustfmt --check`; the rustfmt to run is `$RUSTFMT`, else `rustfmt` on `PATH`.
pub fn rustfmt(source: &str) -> Result<Option<String>, String> {
    let rustfmt = std::env::var_os("RUSTFMT").unwrap_or_else(|| "rustfmt".into());
    let child = Command::new(&rustfmt)
        .args(["--edition", "2024", "--emit", "stdout"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("running rustfmt: {e}")),
    };
    let mut stdin = child.stdin.take().ok_or("rustfmt has no stdin")?;
    let text = source.to_owned();
    let writer = std::thread::spawn(move || stdin.write_all(text.as_bytes()));
    let output = child
        .wait_with_output()
        .map_err(|e| format!("running rustfmt: {e}"))?;
    let written = writer.join().map_err(|_| "writing to rustfmt failed")?;
    if !output.status.success() || written.is_err() {
        return Err(format!(
            "rustfmt failed on generated code: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    String::from_utf8(output.stdout)
        .map(Some)
        .map_err(|_| "rustfmt wrote text that is not UTF-8".to_owned())
}

/// Breaks every long string literal, in code and inside macro invocations.
struct BreakLongStrings;

impl VisitMut for BreakLongStrings {
    fn visit_lit_str_mut(&mut self, lit: &mut syn::LitStr) {
        if let Some(token) = broken(&lit.token(), false)
            && let syn::Lit::Str(new) = syn::Lit::new(token)
        {
            *lit = new;
        }
    }

    fn visit_macro_mut(&mut self, mac: &mut syn::Macro) {
        mac.tokens = break_tokens(std::mem::take(&mut mac.tokens));
        visit_mut::visit_macro_mut(self, mac);
    }
}

fn break_tokens(tokens: TokenStream) -> TokenStream {
    tokens
        .into_iter()
        .map(|token| match token {
            TokenTree::Literal(lit) => TokenTree::Literal(broken(&lit, true).unwrap_or(lit)),
            TokenTree::Group(group) => {
                let mut new = Group::new(group.delimiter(), break_tokens(group.stream()));
                new.set_span(group.span());
                TokenTree::Group(new)
            }
            other => other,
        })
        .collect()
}

/// `lit` written over several lines, when it is a plain string literal longer than a line. In a macro's
/// tokens (`in_macro`) the literal may be a format string: it is not broken inside a `{...}` placeholder.
fn broken(lit: &Literal, in_macro: bool) -> Option<Literal> {
    let repr = lit.to_string();
    if !repr.starts_with('"') || repr.len() <= PIECE + 2 || repr.contains("\\\n") {
        return None;
    }
    let value = syn::parse_str::<syn::LitStr>(&repr).ok()?.value();
    let mut text = String::from("\"");
    let mut width = 0;
    let mut placeholder = false;
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        let escaped = escape(c);
        // A continuation skips the whitespace that starts the next line: never break before a space.
        if width > 0 && width + escaped.len() > PIECE && !c.is_whitespace() && !placeholder {
            text.push_str("\\\n    ");
            width = 0;
        }
        text.push_str(&escaped);
        width += escaped.len();
        if in_macro {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    text.push('{');
                    width += 1;
                }
                '{' => placeholder = true,
                '}' => placeholder = false,
                _ => {}
            }
        }
    }
    text.push('"');
    let mut new = Literal::from_str(&text).ok()?;
    new.set_span(lit.span());
    Some(new)
}

/// `c` as it is written in a string literal: quotes, backslashes and control characters escaped,
/// everything else as it is.
fn escape(c: char) -> String {
    match c {
        '"' => "\\\"".to_owned(),
        '\\' => "\\\\".to_owned(),
        '\n' => "\\n".to_owned(),
        '\r' => "\\r".to_owned(),
        '\t' => "\\t".to_owned(),
        c if c.is_control() => c.escape_unicode().to_string(),
        c => c.to_string(),
    }
}

/// The leading plain comments and blank lines of `source` (with a blank line after them when there
/// are any), and the rest.
fn split_header(source: &str) -> (String, &str) {
    let mut end = 0;
    for line in source.split_inclusive('\n') {
        let text = line.trim();
        let plain_comment =
            text.starts_with("//") && !text.starts_with("///") && !text.starts_with("//!");
        if !(plain_comment || text.is_empty()) {
            break;
        }
        end += line.len();
    }
    let header = source[..end].trim_end();
    let header = if header.is_empty() {
        String::new()
    } else {
        format!("{header}\n\n")
    };
    (header, &source[end..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_header_and_breaks_long_lines() {
        let source = "// @generated\n// Do not edit.\n\n//! Docs.\npub fn f(a: u32, b: u32, c: u32, d: u32, e: u32, f: u32, g: u32, h: u32, i: u32, j: u32) -> u32 { a + b + c + d + e + f + g + h + i + j }\n";
        let out = rust("lib.rs", source).unwrap();
        assert!(
            out.starts_with("// @generated\n// Do not edit.\n\n//! Docs.\n"),
            "{out}"
        );
        assert!(out.lines().all(|l| l.len() <= 100), "{out}");
    }

    #[test]
    fn long_strings_keep_their_value() {
        // The text of a literal: escaped quotes and backslash, a tab, an emoji, long runs of words.
        let value = format!(
            r#"{{\"$defs\":{{}}, \"a\": \"{} \\n\t\u{{1F600}}\"}}"#,
            "word ".repeat(60)
        );
        let source = format!(
            "pub const A: &str = \"{value}\";\npub fn f() -> String {{ format!(\"{value}{{}}\", 1) }}\n"
        );
        let out = rust("lib.rs", &source).unwrap();
        assert!(out.lines().all(|l| l.len() <= 100), "{out}");
        let tree = syn::parse_file(&out).unwrap();
        let syn::Item::Const(constant) = &tree.items[0] else {
            panic!("{out}")
        };
        let syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(text),
            ..
        }) = &*constant.expr
        else {
            panic!("{out}")
        };
        let expected = syn::parse_str::<syn::LitStr>(&format!("\"{value}\"")).unwrap();
        assert_eq!(text.value(), expected.value());
    }

    #[test]
    fn invalid_rust_names_the_file() {
        let error = rust("guest/src/lib.rs", "// header\n\nfn f( {\n").unwrap_err();
        let message = error.to_string();
        assert!(message.contains("guest/src/lib.rs"), "{message}");
    }
}
