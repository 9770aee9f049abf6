//! Writing the objects as YAML that every Kubernetes tool reads back as written.
//!
//! `kubectl` (sigs.k8s.io/yaml over go-yaml) and most validators (PyYAML) read YAML
//! 1.1, where a plain `on`, `off`, `yes`, `no`, `y`, `n`, `1_000` or `1:20` is not a
//! string. serde_yaml writes YAML 1.2 and leaves those plain, so an Instance named
//! `off` or an env value `yes` would turn into a boolean (the validator test caught
//! it). This writer quotes every string unless it is plainly a string under both
//! versions. Block style and sorted keys (serde_json's map is ordered) keep the output
//! readable and the same bytes for the same objects; multi-line text becomes a
//! literal block (`|`), anything else that needs it a double-quoted scalar with
//! escapes.

use serde_json::Value;

/// One object as a YAML document (no `---`).
pub fn document(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => write_map(&mut out, map, 0),
        Value::Array(items) if !items.is_empty() => write_seq(&mut out, items, 0),
        other => {
            write_scalar(&mut out, other, 0);
        }
    }
    out
}

/// `indent` spaces.
fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

/// The entries of a mapping, each on its own line at `indent`.
fn write_map(out: &mut String, map: &serde_json::Map<String, Value>, indent: usize) {
    for (key, value) in map {
        pad(out, indent);
        write_entry(out, key, value, indent);
    }
}

/// `key: value`, the cursor already at the key's column `indent`.
fn write_entry(out: &mut String, key: &str, value: &Value, indent: usize) {
    out.push_str(&inline_string(key));
    out.push(':');
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            write_map(out, map, indent + 2);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            write_seq(out, items, indent);
        }
        other => {
            out.push(' ');
            write_scalar(out, other, indent + 2);
        }
    }
}

/// The items of a sequence, `- ` at `indent`.
fn write_seq(out: &mut String, items: &[Value], indent: usize) {
    for item in items {
        pad(out, indent);
        out.push('-');
        match item {
            Value::Object(map) if !map.is_empty() => {
                for (i, (key, value)) in map.iter().enumerate() {
                    if i == 0 {
                        out.push(' ');
                    } else {
                        pad(out, indent + 2);
                    }
                    write_entry(out, key, value, indent + 2);
                }
            }
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                write_seq(out, inner, indent + 2);
            }
            other => {
                out.push(' ');
                write_scalar(out, other, indent + 2);
            }
        }
    }
}

/// A scalar (or an empty collection) and its line end; a literal block's lines go
/// at `indent`.
fn write_scalar(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) if literal_block_fits(s) => {
            write_literal_block(out, s, indent);
            return;
        }
        Value::String(s) => out.push_str(&inline_string(s)),
        Value::Array(_) => out.push_str("[]"),
        Value::Object(_) => out.push_str("{}"),
    }
    out.push('\n');
}

/// Whether `s` is multi-line text a literal block keeps byte for byte: printable, no
/// `\r` and no line break other than `\n`, no tab or space ending a line before a
/// break-only tail, and something besides line breaks.
fn literal_block_fits(s: &str) -> bool {
    s.contains('\n')
        && !s.trim_matches('\n').is_empty()
        && s.chars().all(|c| c == '\n' || c == '\t' || (is_printable(c) && !is_break(c)))
        // A block's first line may not start with a line break or space ambiguity
        // beyond what the indentation indicator handles; a tab-indented first line is
        // not allowed as indentation.
        && !s.starts_with('\t')
}

/// Writes `s` as `|`, `|-` or `|+` (and an indentation indicator when its first line
/// starts with a space), its lines at `indent`.
fn write_literal_block(out: &mut String, s: &str, indent: usize) {
    out.push('|');
    let first = s.lines().find(|l| !l.is_empty()).unwrap_or("");
    if first.starts_with(' ') || s.starts_with('\n') {
        out.push('2');
    }
    let body = s.trim_end_matches('\n');
    let trailing = s.len() - body.len();
    match trailing {
        0 => out.push('-'),
        1 => {}
        _ => out.push('+'),
    }
    out.push('\n');
    for line in body.split('\n') {
        if !line.is_empty() {
            pad(out, indent);
            out.push_str(line);
        }
        out.push('\n');
    }
    for _ in 1..trailing {
        out.push('\n');
    }
}

/// A string on one line: plain when YAML 1.1 and 1.2 both read it as this string,
/// else double-quoted.
fn inline_string(s: &str) -> String {
    if is_plain_safe(s) {
        s.to_string()
    } else {
        double_quoted(s)
    }
}

/// Plain only for a conservative alphabet, starting with a letter, `/` or `_`, and
/// never a word YAML 1.1 reads as a boolean or null.
fn is_plain_safe(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "y", "yes", "n", "no", "true", "false", "on", "off", "null", "nan", "inf",
    ];
    let allowed = |c: char| c.is_ascii_alphanumeric() || "._/-@%+$()".contains(c);
    let colon_ok = !s.contains(": ") && !s.ends_with(':');
    s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '/' || c == '_')
        && s.chars().all(|c| allowed(c) || c == ':')
        && colon_ok
        && !WORDS.contains(&s.to_ascii_lowercase().as_str())
}

/// `"..."` with YAML escapes: `\"`, `\\`, `\n`, `\t`, `\r`, and `\uXXXX` for every
/// other character YAML does not allow as it is or reads as a line break.
fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if !is_printable(c) || is_break(c) || c == '\u{feff}' => {
                out.push_str(&format!("\\u{:04X}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// YAML's printable set (`c-printable`), without the tab and line feed handled apart.
fn is_printable(c: char) -> bool {
    matches!(u32::from(c), 0x20..=0x7E | 0x85 | 0xA0..=0xD7FF | 0xE000..=0xFFFD | 0x10000..)
}

/// Line breaks of YAML 1.1 besides `\n` (NEL, LS, PS).
fn is_break(c: char) -> bool {
    matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Writes and reads back.
    fn round_trip(value: &Value) -> Value {
        serde_yaml::from_str(&document(value)).expect("valid YAML")
    }

    #[test]
    fn yaml_1_1_words_and_numbers_stay_strings() {
        for s in [
            "off", "On", "YES", "n", "y", "null", "~", "1_000", "1:20", "0x1f", ".5", "+1", "1e3",
            "8080", "=", "<<", "-", "- x", "a: b", "#x", " lead", "", ".inf", "NaN",
        ] {
            let value = json!({"k": s, "l": [s]});
            let text = document(&value);
            assert!(
                !text.contains(&format!("k: {s}\n")) || s.is_empty(),
                "{text}"
            );
            assert_eq!(round_trip(&value), value, "{text}");
        }
    }

    #[test]
    fn plain_where_safe_and_blocks_for_text() {
        let value = json!({
            "apiVersion": "apps/v1",
            "image": "python:3.13-slim",
            "list": [{"a": 1, "b": [true, null]}, "x", []],
            "text": "line 1\n  line 2\n",
            "lead": "  indented\nnext",
            "tail": "x\n\n\n",
            "odd": "tab\there \u{2028} \u{7f} \"q\" \\",
            "empty": {},
        });
        let text = document(&value);
        assert!(text.contains("apiVersion: apps/v1\n"), "{text}");
        assert!(text.contains("image: python:3.13-slim\n"), "{text}");
        assert!(text.contains("text: |\n  line 1\n    line 2\n"), "{text}");
        assert_eq!(round_trip(&value), value, "{text}");
    }
}
