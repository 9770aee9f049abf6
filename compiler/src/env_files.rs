//! `envFile:` read at load time: each file of an Application, Instance or InstanceGroup
//! becomes `KEY=VALUE` pairs of its pod's environment. A missing file is an error at
//! its item (file:line:col) unless the item says `required: false`; so is a file that
//! does not parse or a name the environment does not allow.

use crate::load::{read_env_file, Body, Object, Source};
use crate::model::EnvFileDoc;
use crate::report::Reporter;
use crate::rules;
use std::collections::HashMap;
use std::path::Path;

/// The variables of each object's `envFile:` list, by `Kind/name`, in file order.
pub type EnvFiles = HashMap<String, Vec<(String, String)>>;

/// Reads the env files of every object that lists some.
pub fn read(rep: &mut Reporter<'_>, sources: &[Source], objects: &[Object]) -> EnvFiles {
    let mut read = EnvFiles::new();
    for obj in objects {
        let list = match &obj.body {
            Some(Body::Application(a)) => &a.env_file,
            Some(Body::Instance(i)) => &i.env_file,
            Some(Body::Group(g)) => &g.env_file,
            _ => continue,
        };
        if list.is_empty() {
            continue;
        }
        let dir = &sources[obj.file].dir;
        let mut vars = Vec::new();
        for (i, item) in list.iter().enumerate() {
            vars.extend(one(rep, obj, dir, &format!("envFile[{i}]"), item));
        }
        read.insert(obj.label().unwrap_or_default(), vars);
    }
    read
}

/// Reads one item, reporting its problems at `field`.
fn one(
    rep: &mut Reporter<'_>,
    obj: &Object,
    dir: &Path,
    field: &str,
    item: &EnvFileDoc,
) -> Vec<(String, String)> {
    let Some(path) = &item.path else {
        rep.field(obj, field, "missing field `path`");
        return Vec::new();
    };
    let at = if obj.root.locate(field).get("path").is_some() {
        format!("{field}.path")
    } else {
        field.to_string()
    };
    if path.is_empty() {
        rep.field(obj, &at, "path must not be empty");
        return Vec::new();
    }
    let file = dir.join(path);
    if !file.exists() {
        if item.required {
            let message =
                format!("env file `{path}` does not exist (`required: false` allows that)");
            rep.field(obj, &at, message);
        }
        return Vec::new();
    }
    let vars = match read_env_file(&file) {
        Ok(vars) => vars,
        Err(message) => {
            rep.field(obj, &at, format!("env file `{path}`: {message}"));
            return Vec::new();
        }
    };
    let mut good = Vec::new();
    for (name, value) in vars {
        if let Err(message) = rules::env_name(&name) {
            rep.field(obj, &at, format!("env file `{path}`: {message}"));
        } else if value.contains('\0') {
            let message =
                format!("env file `{path}`: variable `{name}` must not contain a NUL character");
            rep.field(obj, &at, message);
        } else {
            good.push((name, value));
        }
    }
    good
}
