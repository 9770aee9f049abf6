//! Collecting diagnostics while checking: turns "this field of this object is wrong"
//! into a [`Diagnostic`] with file, line, column and the source line.

use crate::diag::Diagnostic;
use crate::load::{Object, Source};
use crate::model::Choice;
use crate::yaml::Pos;

/// Collects every problem found in a set of sources.
#[derive(Debug)]
pub struct Reporter<'a> {
    /// The manifest files, indexed by `Object::file`.
    sources: &'a [Source],
    /// Problems so far.
    pub errors: Vec<Diagnostic>,
}

impl<'a> Reporter<'a> {
    /// A reporter over `sources`.
    pub fn new(sources: &'a [Source]) -> Self {
        Reporter {
            sources,
            errors: Vec::new(),
        }
    }

    /// Records a problem at a place of a file.
    pub fn at(
        &mut self,
        file: usize,
        pos: Option<Pos>,
        object: Option<String>,
        field: Option<String>,
        message: impl Into<String>,
    ) {
        let source = &self.sources[file];
        let source_line = pos.and_then(|p| source.line(p.line)).map(str::to_string);
        self.errors.push(Diagnostic {
            file: source.path.clone(),
            line: pos.map(|p| p.line),
            col: pos.map(|p| p.col),
            object,
            field,
            message: message.into(),
            source_line,
        });
    }

    /// Records a problem with the value at `field` of `obj` (or the deepest part of
    /// that path that exists, for a missing field).
    pub fn field(&mut self, obj: &Object, field: &str, message: impl Into<String>) {
        let pos = obj.root.locate(field).pos;
        self.at(obj.file, Some(pos), obj.label(), non_empty(field), message);
    }

    /// Records a problem with the key of `field` (a field that should not be there).
    pub fn key(&mut self, obj: &Object, field: &str, message: impl Into<String>) {
        let pos = obj
            .root
            .key_pos(field)
            .unwrap_or(obj.root.locate(field).pos);
        self.at(obj.file, Some(pos), obj.label(), non_empty(field), message);
    }

    /// Where an object's field is, as `file:line:col`, to cite in another message.
    pub fn place(&self, obj: &Object, field: &str) -> String {
        let pos = obj.root.locate(field).pos;
        format!(
            "{}:{}:{}",
            self.sources[obj.file].path.display(),
            pos.line,
            pos.col
        )
    }
}

/// `None` for the empty path (the whole object).
fn non_empty(field: &str) -> Option<String> {
    (!field.is_empty()).then(|| field.to_string())
}

/// Checks of one object: a reporter bound to the object.
#[derive(Debug)]
pub struct Scope<'r, 'a> {
    /// Where problems go.
    pub rep: &'r mut Reporter<'a>,
    /// The object being checked.
    pub obj: &'r Object,
}

impl Scope<'_, '_> {
    /// Records a problem with the value at `field`.
    pub fn err(&mut self, field: &str, message: impl Into<String>) {
        self.rep.field(self.obj, field, message);
    }

    /// Records a problem with the key at `field` (a field that should not be there).
    pub fn err_key(&mut self, field: &str, message: impl Into<String>) {
        self.rep.key(self.obj, field, message);
    }

    /// Records a rule's error at `field`; passes its value on.
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        result.map_err(|message| self.err(field, message)).ok()
    }

    /// Reports a choice whose text is not one of its values; passes the value on.
    pub fn choice<T: Copy>(&mut self, field: &str, choice: &Option<Choice<T>>) -> Option<T> {
        let choice = choice.as_ref()?;
        if let Err(message) = &choice.value {
            self.err(field, message.clone());
        }
        choice.get()
    }

    /// Reports a missing required field; passes the value on.
    pub fn require<'v, T>(&mut self, field: &str, value: &'v Option<T>) -> Option<&'v T> {
        if value.is_none() {
            let name = field.rsplit('.').next().unwrap_or(field);
            self.err(field, format!("missing field `{name}`"));
        }
        value.as_ref()
    }
}
