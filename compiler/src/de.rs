//! A serde deserializer over the positioned YAML tree: errors carry the field path
//! and position of the node they concern, and unknown fields are all collected (with
//! the position of their key) instead of stopping at the first.

use crate::yaml::{is_null_text, Entry, Node, Pos, Value};
use serde::de::{self, DeserializeSeed, IntoDeserializer, Unexpected, Visitor};
use std::cell::RefCell;
use std::fmt;

/// A problem found while reading one document into its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeError {
    /// What is wrong.
    pub message: String,
    /// Field path from the document root, e.g. `interfaces[0].port`.
    pub path: String,
    /// Position of the node (or key) concerned, once known.
    pub pos: Option<Pos>,
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError {
            message: msg.to_string(),
            path: String::new(),
            pos: None,
        }
    }

    // serde names the Rust type it expected (`struct LocalDoc`); users wrote YAML.
    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        let expected = exp.to_string();
        let expected = match expected.strip_prefix("struct ") {
            Some(_) => "a mapping".to_string(),
            None => expected,
        };
        Self::custom(format_args!("invalid type: {unexp}, expected {expected}"))
    }
}

/// Reads a document into `T`. The result is the value (if no hard error stopped it)
/// and every problem found: unknown fields, plus the hard error if any.
pub fn from_node<T: de::DeserializeOwned>(node: &Node) -> (Option<T>, Vec<DeError>) {
    let sink = RefCell::new(Vec::new());
    let result = T::deserialize(De {
        node,
        path: String::new(),
        sink: &sink,
    });
    let mut errors = sink.into_inner();
    match result {
        Ok(value) => (Some(value), errors),
        Err(err) => {
            errors.push(err);
            (None, errors)
        }
    }
}

/// The deserializer for one node.
struct De<'a> {
    /// The node.
    node: &'a Node,
    /// Its field path.
    path: String,
    /// Where unknown fields are reported.
    sink: &'a RefCell<Vec<DeError>>,
}

/// Joins a field path and a key.
fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

impl<'a> De<'a> {
    /// Gives an error raised for this node its path and position.
    fn locate<T>(&self, result: Result<T, DeError>) -> Result<T, DeError> {
        result.map_err(|mut err| {
            if err.pos.is_none() {
                err.pos = Some(self.node.pos);
                err.path = self.path.clone();
            }
            err
        })
    }

    /// What serde should call this node in a type error.
    fn unexpected(&self) -> Unexpected<'a> {
        match &self.node.value {
            Value::Seq(_) => Unexpected::Seq,
            Value::Map(_) => Unexpected::Map,
            Value::Scalar { .. } if self.node.is_null() => Unexpected::Unit,
            Value::Scalar { text, plain: true } if text == "true" || text == "false" => {
                Unexpected::Bool(text == "true")
            }
            Value::Scalar { text, .. } => Unexpected::Str(text),
        }
    }

    /// A type error for this node.
    fn invalid<T>(&self, expected: &dyn de::Expected) -> Result<T, DeError> {
        self.locate(Err(de::Error::invalid_type(self.unexpected(), expected)))
    }

    /// Reports the keys of a mapping that the struct does not have.
    fn report_unknown(&self, entries: &[Entry], fields: &'static [&'static str]) {
        for entry in entries.iter().filter(|e| !fields.contains(&e.key.as_str())) {
            let message = match crate::rules::suggest(&entry.key, fields.iter().copied()) {
                Some(field) => format!("unknown field `{}`; did you mean `{field}`?", entry.key),
                None => format!(
                    "unknown field `{}`, expected one of: {}",
                    entry.key,
                    fields.join(", ")
                ),
            };
            self.sink.borrow_mut().push(DeError {
                message,
                path: child(&self.path, &entry.key),
                pos: Some(entry.key_pos),
            });
        }
    }
}

/// Visits a plain scalar with its YAML 1.2 core-schema type.
fn visit_plain<'de, V: Visitor<'de>>(text: &str, visitor: V) -> Result<V::Value, DeError> {
    if is_null_text(text) {
        return visitor.visit_unit();
    }
    match text {
        "true" | "True" | "TRUE" => return visitor.visit_bool(true),
        "false" | "False" | "FALSE" => return visitor.visit_bool(false),
        _ => {}
    }
    if let Ok(n) = text.parse::<u64>() {
        return visitor.visit_u64(n);
    }
    if let Ok(n) = text.parse::<i64>() {
        return visitor.visit_i64(n);
    }
    let looks_numeric = text.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '.');
    match text.parse::<f64>() {
        Ok(x) if looks_numeric => visitor.visit_f64(x),
        _ => visitor.visit_str(text),
    }
}

impl<'de> de::Deserializer<'de> for De<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let result = match &self.node.value {
            Value::Scalar { text, plain: true } => visit_plain(text, visitor),
            Value::Scalar { text, plain: false } => visitor.visit_str(text),
            Value::Seq(items) => visitor.visit_seq(Seq {
                de: &self,
                items,
                next: 0,
            }),
            Value::Map(entries) => visitor.visit_map(Map::new(&self, entries.iter().collect())),
        };
        self.locate(result)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        // Plain `8080` or `true` are accepted where text is expected: YAML users
        // rarely quote env values or hashes, and the text is exactly what they wrote.
        match &self.node.value {
            Value::Scalar { text, .. } if !self.node.is_null() => {
                let result = visitor.visit_str(text);
                self.locate(result)
            }
            _ => self.invalid(&visitor),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let result = if self.node.is_null() {
            visitor.visit_none()
        } else {
            let path = self.path.clone();
            visitor.visit_some(De {
                node: self.node,
                path,
                sink: self.sink,
            })
        };
        self.locate(result)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let path = self.path.clone();
        let result = visitor.visit_newtype_struct(De {
            node: self.node,
            path,
            sink: self.sink,
        });
        self.locate(result)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::Seq(items) => {
                let result = visitor.visit_seq(Seq {
                    de: &self,
                    items,
                    next: 0,
                });
                self.locate(result)
            }
            _ => self.invalid(&visitor),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::Map(entries) => {
                let result = visitor.visit_map(Map::new(&self, entries.iter().collect()));
                self.locate(result)
            }
            _ => self.invalid(&visitor),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::Map(entries) => {
                self.report_unknown(entries, fields);
                let known = entries
                    .iter()
                    .filter(|e| fields.contains(&e.key.as_str()))
                    .collect();
                let result = visitor.visit_map(Map::new(&self, known));
                self.locate(result)
            }
            _ => self.invalid(&visitor),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::Scalar { text, .. } if !self.node.is_null() => {
                let result = visitor.visit_enum(text.as_str().into_deserializer());
                self.locate(result)
            }
            _ => self.invalid(&visitor),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf
        unit unit_struct tuple tuple_struct
    }
}

/// Access to a sequence's items.
struct Seq<'a, 'b> {
    /// The sequence's deserializer.
    de: &'b De<'a>,
    /// Its items.
    items: &'a [Node],
    /// Index of the next item.
    next: usize,
}

impl<'de> de::SeqAccess<'de> for Seq<'_, '_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let Some(node) = self.items.get(self.next) else {
            return Ok(None);
        };
        let path = format!("{}[{}]", self.de.path, self.next);
        self.next += 1;
        seed.deserialize(De {
            node,
            path,
            sink: self.de.sink,
        })
        .map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len() - self.next)
    }
}

/// Access to a mapping's entries.
struct Map<'a, 'b> {
    /// The mapping's deserializer.
    de: &'b De<'a>,
    /// The entries to visit.
    entries: Vec<&'a Entry>,
    /// Index of the next entry.
    next: usize,
}

impl<'a, 'b> Map<'a, 'b> {
    /// Access to `entries` of the mapping `de`; a repeated key is reported and
    /// skipped (the first one counts).
    fn new(de: &'b De<'a>, entries: Vec<&'a Entry>) -> Self {
        let mut unique: Vec<&'a Entry> = Vec::with_capacity(entries.len());
        for entry in entries {
            match unique.iter().find(|e| e.key == entry.key) {
                Some(first) => de.sink.borrow_mut().push(DeError {
                    message: format!(
                        "duplicate key `{}`; the first is at line {}",
                        entry.key, first.key_pos.line
                    ),
                    path: child(&de.path, &entry.key),
                    pos: Some(entry.key_pos),
                }),
                None => unique.push(entry),
            }
        }
        Map {
            de,
            entries: unique,
            next: 0,
        }
    }
}

impl<'de> de::MapAccess<'de> for Map<'_, '_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some(entry) = self.entries.get(self.next) else {
            return Ok(None);
        };
        let key: de::value::StrDeserializer<'_, DeError> = entry.key.as_str().into_deserializer();
        seed.deserialize(key).map(Some).map_err(|mut err| {
            err.pos = Some(entry.key_pos);
            err.path = child(&self.de.path, &entry.key);
            err
        })
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let Some(entry) = self.entries.get(self.next).copied() else {
            return Err(de::Error::custom("a value was asked for without its key"));
        };
        self.next += 1;
        let path = child(&self.de.path, &entry.key);
        seed.deserialize(De {
            node: &entry.value,
            path,
            sink: self.de.sink,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len() - self.next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Iface {
        #[allow(dead_code)]
        name: String,
        port: Option<u16>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        name: String,
        interfaces: Vec<Iface>,
    }

    fn read<T: de::DeserializeOwned>(text: &str) -> (Option<T>, Vec<DeError>) {
        let parsed = parse(text);
        from_node(parsed.documents[0].as_ref().expect("doc"))
    }

    #[test]
    fn reads_typed_values() {
        let (doc, errors) =
            read::<Doc>("name: 123\ninterfaces: [{name: a, port: 80}, {name: b}]\n");
        assert!(errors.is_empty(), "{errors:?}");
        let doc = doc.expect("value");
        assert_eq!(doc.name, "123");
        assert_eq!(doc.interfaces[0].port, Some(80));
        assert_eq!(doc.interfaces[1].port, None);
    }

    #[test]
    fn every_unknown_field_is_reported_with_its_key_position() {
        let (doc, errors) = read::<Doc>("name: x\nfoo: 1\ninterfaces:\n  - name: a\n    bar: 2\n");
        assert!(doc.is_some());
        let places: Vec<_> = errors.iter().map(|e| (e.path.as_str(), e.pos)).collect();
        assert_eq!(
            places,
            vec![
                ("foo", Some(Pos { line: 2, col: 1 })),
                ("interfaces[0].bar", Some(Pos { line: 5, col: 5 }))
            ]
        );
    }

    #[test]
    fn type_error_points_at_the_value() {
        let (doc, errors) = read::<Doc>("name: x\ninterfaces:\n  - {name: a, port: [1]}\n");
        assert!(doc.is_none());
        assert_eq!(errors[0].path, "interfaces[0].port");
        assert_eq!(errors[0].pos, Some(Pos { line: 3, col: 21 }));
        assert_eq!(errors[0].message, "invalid type: sequence, expected u16");
    }

    #[test]
    fn duplicate_keys_are_reported_and_the_first_counts() {
        let (doc, errors) = read::<Doc>("name: x\ninterfaces: []\nname: y\n");
        assert_eq!(doc.map(|d| d.name), Some("x".to_string()));
        assert_eq!(
            errors[0].message,
            "duplicate key `name`; the first is at line 1"
        );
        assert_eq!(errors[0].pos, Some(Pos { line: 3, col: 1 }));
    }

    #[test]
    fn missing_field_points_at_the_mapping() {
        let (_, errors) = read::<Doc>("name: x\ninterfaces:\n  - {port: 1}\n");
        assert_eq!(errors[0].message, "missing field `name`");
        assert_eq!(errors[0].path, "interfaces[0]");
    }
}
