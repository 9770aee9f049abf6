//! YAML with positions: the documents of one file as trees whose every node and
//! mapping key carries its line and column, built from saphyr-parser's event stream.
//!
//! serde_yaml only gives positions for its own errors; this tree lets every later
//! check (unknown field, bad port, dangling reference) point at the exact place.

use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use std::collections::HashMap;

/// A 1-based line and column (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub col: usize,
}

/// One YAML node and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Where the node starts.
    pub pos: Pos,
    /// Its content.
    pub value: Value,
}

/// The content of a node.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A scalar; `plain` is false for quoted and block scalars (always strings).
    Scalar {
        /// The scalar's text.
        text: String,
        /// Whether it was written unquoted (so `8080`, `true`, `~` are typed).
        plain: bool,
    },
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping with scalar keys, in document order.
    Map(Vec<Entry>),
}

/// A mapping entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The key's text.
    pub key: String,
    /// Where the key starts.
    pub key_pos: Pos,
    /// The value.
    pub value: Node,
}

/// A YAML syntax error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Where the parser stopped.
    pub pos: Pos,
    /// The parser's explanation.
    pub message: String,
}

/// What parsing one file gives: the documents read before any syntax error, and the error.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    /// The documents, in order (empty documents are kept as `None`).
    pub documents: Vec<Option<Node>>,
    /// The first syntax error, if any; parsing stops there.
    pub error: Option<SyntaxError>,
}

impl Node {
    /// How many nodes this tree has.
    pub fn size(&self) -> usize {
        match &self.value {
            Value::Scalar { .. } => 1,
            Value::Seq(items) => 1 + items.iter().map(Node::size).sum::<usize>(),
            Value::Map(entries) => 1 + entries.iter().map(|e| e.value.size()).sum::<usize>(),
        }
    }

    /// Whether this is a plain null (`~`, `null`, or nothing).
    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar { text, plain: true } if is_null_text(text))
    }

    /// The value under `key`, if this is a mapping that has it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|e| &e.value)
    }

    /// The entry under `key`, if this is a mapping that has it.
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|e| e.key == key),
            _ => None,
        }
    }

    /// The scalar text, if this is a non-null scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } if !self.is_null() => Some(text),
            _ => None,
        }
    }

    /// The node at a field path like `interfaces[0].port`, or the deepest node on the
    /// way there (so a missing field points at the mapping that lacks it).
    pub fn locate(&self, path: &str) -> &Node {
        let mut node = self;
        for step in path_steps(path) {
            let next = match step {
                Step::Key(key) => node.get(key),
                Step::Index(i) => match &node.value {
                    Value::Seq(items) => items.get(i),
                    _ => None,
                },
            };
            match next {
                Some(n) => node = n,
                None => break,
            }
        }
        node
    }

    /// Where the key of the last step of `path` is written, if it exists as a key.
    pub fn key_pos(&self, path: &str) -> Option<Pos> {
        let (parent, key) = match path.rfind('.') {
            Some(i) => (&path[..i], &path[i + 1..]),
            None => ("", path),
        };
        self.locate(parent).entry(key).map(|e| e.key_pos)
    }
}

/// One step of a field path.
enum Step<'a> {
    /// `.key`
    Key(&'a str),
    /// `[i]`
    Index(usize),
}

/// Splits `a.b[2].c` into steps.
fn path_steps(path: &str) -> Vec<Step<'_>> {
    let mut steps = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (key, rest) = part.split_at(part.find('[').unwrap_or(part.len()));
        if !key.is_empty() {
            steps.push(Step::Key(key));
        }
        for index in rest.split('[').filter(|s| !s.is_empty()) {
            if let Ok(i) = index.trim_end_matches(']').parse() {
                steps.push(Step::Index(i));
            }
        }
    }
    steps
}

/// Whether plain text means null in YAML 1.2's core schema.
pub fn is_null_text(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

/// Parses every document of one file.
pub fn parse(text: &str) -> Parsed {
    let mut builder = Builder::default();
    for event in Parser::new_from_str(text) {
        match event {
            Ok((event, span)) => {
                if let Err(message) = builder.event(event, span) {
                    let pos = Pos {
                        line: span.start.line(),
                        col: span.start.col() + 1,
                    };
                    builder.parsed.error = Some(SyntaxError { pos, message });
                    break;
                }
            }
            Err(err) => {
                let mark = err.marker();
                builder.parsed.error = Some(SyntaxError {
                    pos: Pos {
                        line: mark.line(),
                        col: mark.col() + 1,
                    },
                    message: err.info().to_string(),
                });
                break;
            }
        }
    }
    builder.parsed
}

/// A node under construction.
enum Open {
    /// A sequence and its items so far.
    Seq(Pos, usize, Vec<Node>),
    /// A mapping, its entries so far and the key awaiting its value.
    Map(Pos, usize, Vec<Entry>, Option<(String, Pos)>),
}

/// Turns the event stream into trees.
#[derive(Default)]
struct Builder {
    /// Result so far.
    parsed: Parsed,
    /// Collections being built, innermost last.
    stack: Vec<Open>,
    /// Anchored nodes, for aliases.
    anchors: HashMap<usize, Node>,
    /// Whether the current document got a root node.
    has_root: bool,
    /// Nodes copied by aliases so far.
    expanded: usize,
}

/// Deepest nesting of collections accepted (manifests need fewer than ten; the
/// parser itself stops flow sequences at the same depth).
const MAX_DEPTH: usize = 256;

/// Most nodes that aliases may copy in one file.
const MAX_ALIAS_NODES: usize = 100_000;

impl Builder {
    /// Handles one event; refuses nesting deeper than [`MAX_DEPTH`] and aliases that
    /// expand to more than [`MAX_ALIAS_NODES`] nodes (a "billion laughs" file).
    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), String> {
        let pos = Pos {
            line: span.start.line(),
            col: span.start.col() + 1,
        };
        match event {
            Event::DocumentStart(_) => self.has_root = false,
            Event::DocumentEnd if !self.has_root => self.parsed.documents.push(None),
            Event::Scalar(text, style, anchor, tag) => {
                let is_str_tag = tag.is_some_and(|t| t.suffix == "str");
                let plain = style == ScalarStyle::Plain && !is_str_tag;
                let value = Value::Scalar {
                    text: text.into_owned(),
                    plain,
                };
                self.finish(Node { pos, value }, anchor);
            }
            Event::Alias(id) => {
                let size = self.anchors.get(&id).map_or(1, Node::size);
                self.expanded += size;
                if self.expanded > MAX_ALIAS_NODES {
                    return Err(format!(
                        "aliases expand to more than {MAX_ALIAS_NODES} nodes"
                    ));
                }
                let node = self.anchors.get(&id).cloned().unwrap_or(Node {
                    pos,
                    value: null_value(),
                });
                self.finish(node, 0);
            }
            Event::SequenceStart(..) | Event::MappingStart(..) if self.stack.len() >= MAX_DEPTH => {
                return Err(format!("nesting deeper than {MAX_DEPTH} levels"));
            }
            Event::SequenceStart(anchor, _) => self.stack.push(Open::Seq(pos, anchor, Vec::new())),
            Event::MappingStart(anchor, _) => {
                self.stack.push(Open::Map(pos, anchor, Vec::new(), None))
            }
            Event::SequenceEnd | Event::MappingEnd => self.close(),
            _ => {}
        }
        Ok(())
    }

    /// Ends the innermost collection.
    fn close(&mut self) {
        match self.stack.pop() {
            Some(Open::Seq(pos, anchor, items)) => self.finish(
                Node {
                    pos,
                    value: Value::Seq(items),
                },
                anchor,
            ),
            Some(Open::Map(pos, anchor, entries, _)) => self.finish(
                Node {
                    pos,
                    value: Value::Map(entries),
                },
                anchor,
            ),
            None => {}
        }
    }

    /// Places a complete node into its parent, or makes it the document's root.
    fn finish(&mut self, node: Node, anchor: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            Some(Open::Seq(_, _, items)) => items.push(node),
            Some(Open::Map(_, _, entries, pending)) => match pending.take() {
                Some((key, key_pos)) => entries.push(Entry {
                    key,
                    key_pos,
                    value: node,
                }),
                None => *pending = Some((key_text(&node), node.pos)),
            },
            None => {
                self.has_root = true;
                let empty = node.is_null();
                self.parsed.documents.push((!empty).then_some(node));
            }
        }
    }
}

/// A null scalar.
fn null_value() -> Value {
    Value::Scalar {
        text: String::new(),
        plain: true,
    }
}

/// The text of a mapping key (complex keys are shown in a short form, and then
/// rejected as unknown fields).
fn key_text(node: &Node) -> String {
    match &node.value {
        Value::Scalar { text, .. } => text.clone(),
        Value::Seq(_) => "[...]".to_string(),
        Value::Map(_) => "{...}".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_and_positions() {
        let parsed = parse("kind: A\nname: x\n---\n# only a comment\n---\nlist:\n  - {port: 80}\n");
        assert!(parsed.error.is_none());
        assert_eq!(parsed.documents.len(), 3);
        assert!(parsed.documents[1].is_none());
        let doc = parsed.documents[2].as_ref().expect("third document");
        let port = doc.locate("list[0].port");
        assert_eq!(port.pos, Pos { line: 7, col: 12 });
        assert_eq!(port.as_str(), Some("80"));
        assert_eq!(doc.key_pos("list"), Some(Pos { line: 6, col: 1 }));
    }

    #[test]
    fn missing_path_points_at_deepest_existing_node() {
        let parsed = parse("a:\n  b: 1\n");
        let doc = parsed.documents[0].as_ref().expect("doc");
        assert_eq!(doc.locate("a.c").pos, Pos { line: 2, col: 3 });
    }

    #[test]
    fn syntax_error_has_position() {
        let parsed = parse("a: [1, 2\nb: c\n");
        let err = parsed.error.expect("syntax error");
        assert!(err.pos.line >= 1, "{err:?}");
    }

    #[test]
    fn deep_nesting_and_alias_bombs_are_refused() {
        // The parser's own limit usually answers first; ours is the backstop.
        let deep: String = (0..300).map(|i| format!("{}a:\n", " ".repeat(i))).collect();
        let err = parse(&deep).error.expect("too deep");
        let refused = ["recursion limit exceeded", "nesting deeper than 256 levels"];
        assert!(refused.contains(&err.message.as_str()), "{err:?}");
        assert!(err.pos.line > 200, "{err:?}");
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 0..8 {
            let prev = if i == 0 {
                "a".to_string()
            } else {
                format!("b{}", i - 1)
            };
            let refs = vec![format!("*{prev}"); 10].join(", ");
            bomb.push_str(&format!("b{i}: &b{i} [{refs}]\n"));
        }
        let err = parse(&bomb).error.expect("bomb refused");
        assert_eq!(err.message, "aliases expand to more than 100000 nodes");
    }

    #[test]
    fn aliases_copy_the_anchored_node() {
        let parsed = parse("a: &x {p: 1}\nb: *x\n");
        let doc = parsed.documents[0].as_ref().expect("doc");
        assert_eq!(doc.locate("b.p").as_str(), Some("1"));
    }
}
