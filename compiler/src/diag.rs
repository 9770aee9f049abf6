//! Diagnostics: every problem found in a set of manifests, with its place, printed
//! like a compiler error (message, `file:line:col`, the source line and a caret).
//!
//! The exact format of one error (documented in docs/manifests.md, asserted by tests):
//!
//! ```text
//! error: port 70000 is out of range 1-65535
//!   --> cluster/hello.yaml:12:9
//!    |
//! 12 |   port: 70000
//!    |         ^
//!    = in Gateway/hello, field port
//! ```
//!
//! The gutter is as wide as the line number. Without a line, only `--> file` is shown;
//! without an object, the `= in` line is left out. Errors are separated by a blank line.

use lcc_core::visible::visible_line;
use std::fmt;
use std::path::PathBuf;

/// One problem in the manifests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The manifest file (as given or found in the cluster directory).
    pub file: PathBuf,
    /// 1-based line, when the parser could tell.
    pub line: Option<usize>,
    /// 1-based column (in characters), when the parser could tell.
    pub col: Option<usize>,
    /// `Kind/name` of the object concerned, e.g. `Gateway/hello`.
    pub object: Option<String>,
    /// Field path inside the object, e.g. `interfaces[0].port`.
    pub field: Option<String>,
    /// What is wrong, in one line.
    pub message: String,
    /// The text of the source line, for the excerpt.
    pub source_line: Option<String>,
}

/// Every problem found; its `Display` lists them all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Diagnostics {
    /// The problems, sorted by file, line and column.
    pub errors: Vec<Diagnostic>,
}

impl Diagnostics {
    /// Wraps a list of problems, sorted by place (stable for equal places).
    pub fn new(mut errors: Vec<Diagnostic>) -> Diagnostics {
        errors.sort_by(|a, b| {
            (&a.file, a.line.unwrap_or(0), a.col.unwrap_or(0)).cmp(&(
                &b.file,
                b.line.unwrap_or(0),
                b.col.unwrap_or(0),
            ))
        });
        Diagnostics { errors }
    }

    /// How many problems there are.
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Diagnostic {
    /// Every part that may quote a manifest is shown with its hidden characters escaped
    /// ([`visible_line`]): a name holding a right-to-left override is not reordered.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let line_no = self.line.map(|l| l.to_string()).unwrap_or_default();
        let pad = " ".repeat(line_no.len().max(1));
        write!(
            f,
            "error: {}\n{pad}--> {}",
            visible_line(&self.message),
            visible_line(&self.file.display().to_string())
        )?;
        if let Some(line) = self.line {
            let col = self.col.unwrap_or(1);
            write!(f, ":{line}:{col}")?;
            if let Some(text) = &self.source_line {
                // the caret goes under the column as shown, escapes included
                let before: String = text.chars().take(col.saturating_sub(1)).collect();
                let caret_pad: String = visible_line(&before)
                    .chars()
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                let text = visible_line(text);
                write!(f, "\n{pad} |\n{line_no} | {text}\n{pad} | {caret_pad}^")?;
            }
        }
        let (object, field) = (
            self.object.as_deref().map(visible_line),
            self.field.as_deref().map(visible_line),
        );
        match (object, field) {
            (Some(object), Some(field)) => write!(f, "\n{pad} = in {object}, field {field}"),
            (Some(object), None) => write!(f, "\n{pad} = in {object}"),
            (None, Some(field)) => write!(f, "\n{pad} = field {field}"),
            (None, None) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Diagnostic {
        Diagnostic {
            file: PathBuf::from("c/hello.yaml"),
            line: Some(12),
            col: Some(9),
            object: Some("Gateway/hello".into()),
            field: Some("port".into()),
            message: "port 70000 is out of range 1-65535".into(),
            source_line: Some("  port: 70000".into()),
        }
    }

    #[test]
    fn full_error_is_printed_like_a_compiler() {
        let expected = "error: port 70000 is out of range 1-65535\n  --> c/hello.yaml:12:9\n   |\n12 |   port: 70000\n   |         ^\n   = in Gateway/hello, field port";
        assert_eq!(sample().to_string(), expected);
    }

    #[test]
    fn error_without_place_shows_only_the_file() {
        let d = Diagnostic {
            line: None,
            col: None,
            object: None,
            field: None,
            ..sample()
        };
        assert_eq!(
            d.to_string(),
            "error: port 70000 is out of range 1-65535\n --> c/hello.yaml"
        );
    }

    #[test]
    fn errors_are_sorted_and_all_listed() {
        let a = sample();
        let b = Diagnostic {
            line: Some(3),
            col: Some(1),
            ..sample()
        };
        let all = Diagnostics::new(vec![a, b]);
        assert_eq!(all.errors[0].line, Some(3));
        assert_eq!(all.to_string().matches("error: ").count(), 2);
    }

    #[test]
    fn a_right_to_left_override_is_shown_escaped_with_the_caret_under_it() {
        let d = Diagnostic {
            message: "invalid name `ab\u{202e}cd`: use 1-63 lowercase letters".into(),
            col: Some(13),
            source_line: Some("name: ab\u{202e}cd x".into()),
            object: Some("Application/ab\u{202e}cd".into()),
            field: Some("name".into()),
            ..sample()
        };
        let expected = "error: invalid name `ab\\u{202e}cd`: use 1-63 lowercase letters\n  --> c/hello.yaml:12:13\n   |\n12 | name: ab\\u{202e}cd x\n   |                    ^\n   = in Application/ab\\u{202e}cd, field name";
        assert_eq!(d.to_string(), expected);
    }
}
