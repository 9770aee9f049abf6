//! Text from a manifest, a command line or a file name, made safe to print on a
//! terminal: control characters and the invisible ones that reorder or hide text
//! (Unicode bidirectional controls, zero-width characters) become `\u{...}` escapes.
//! An error then shows a name as it is stored, instead of a line the terminal reordered
//! (the "Trojan Source" trick, CVE-2021-42574) or cut.

use std::borrow::Cow;

/// `text` with every hidden character escaped; new lines and tabs are kept (a
/// message of several lines stays one).
pub fn visible(text: &str) -> Cow<'_, str> {
    escape(text, |c| hidden(c) && c != '\n' && c != '\t')
}

/// [`visible`] for what must stay on one line: new lines are escaped too.
pub fn visible_line(text: &str) -> Cow<'_, str> {
    escape(text, |c| hidden(c) && c != '\t')
}

fn escape(text: &str, escaped: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(&escaped) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match escaped(c) {
            true => out.extend(c.escape_unicode()),
            false => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Control characters, and the format characters that change how the text around them
/// shows: bidirectional marks, embeddings, overrides and isolates, zero-width spaces
/// and joiners, word joiners, the byte order mark.
fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200b}'..='\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2060}'..='\u{2069}'
                | '\u{feff}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_characters_are_escaped_and_the_rest_kept() {
        let table = [
            ("web-1", "web-1"),
            ("café ünïcode", "café ünïcode"),
            ("a\u{202e}gnp.exe", "a\\u{202e}gnp.exe"),
            ("x\u{2066}y\u{2069}", "x\\u{2066}y\\u{2069}"),
            ("zero\u{200b}width", "zero\\u{200b}width"),
            ("esc\u{1b}[31m", "esc\\u{1b}[31m"),
            ("two\nlines\tand a tab", "two\nlines\tand a tab"),
            ("bell\u{7}", "bell\\u{7}"),
        ];
        for (text, shown) in table {
            assert_eq!(visible(text), shown, "{text:?}");
        }
        assert_eq!(visible_line("a\nb\r"), "a\\u{a}b\\u{d}");
        assert!(matches!(visible("plain"), Cow::Borrowed(_)));
    }
}
