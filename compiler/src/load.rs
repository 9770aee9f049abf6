//! Loading a cluster: find the manifest files, parse every document with positions,
//! read each into the type of its `kind`, check everything, then plan.

use crate::de::from_node;
use crate::diag::{Diagnostic, Diagnostics};
use crate::hosts::HostSpec;
use crate::interpolate::{self, Vars};
use crate::model::{
    ApplicationDoc, ClusterDoc, EntranceDoc, GatewayDoc, GroupDoc, InstanceDoc, StorageDoc,
};
use crate::plan::Plan;
use crate::profiles::{self, Selection};
use crate::report::Reporter;
use crate::yaml::{self, Node, Pos};
use crate::{check, env_files, host_files, planner, refs, storage, watch};
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The kinds of object, as written in `kind:`.
pub const KINDS: &[&str] = &[
    "Cluster",
    "Application",
    "Instance",
    "InstanceGroup",
    "Gateway",
    "Entrance",
    "Storage",
    "Host",
];

/// One manifest file.
#[derive(Debug, Clone)]
pub struct Source {
    /// The path as given or found (shown in errors).
    pub path: PathBuf,
    /// Absolute directory of the file (relative archive paths start there).
    pub dir: PathBuf,
    /// Its text.
    pub text: String,
}

impl Source {
    /// The text of a 1-based line.
    pub fn line(&self, n: usize) -> Option<&str> {
        // YAML breaks lines at `\r\n`, `\n` and a lone `\r`; so do line numbers.
        let index = n.checked_sub(1)?;
        self.text.split('\n').flat_map(split_cr).nth(index)
    }
}

/// Splits at lone `\r` line breaks (a `\r` that ends the piece is part of `\r\n`).
fn split_cr(piece: &str) -> impl Iterator<Item = &str> {
    piece.strip_suffix('\r').unwrap_or(piece).split('\r')
}

/// One document of a manifest file.
#[derive(Debug, Clone)]
pub struct Object {
    /// Index of its file in the sources.
    pub file: usize,
    /// The document with positions.
    pub root: Node,
    /// Its `kind` (empty if missing).
    pub kind: String,
    /// Its `name` (empty if missing).
    pub name: String,
    /// The typed document, unless reading it failed.
    pub body: Option<Body>,
}

impl Object {
    /// `Kind/name` for messages.
    pub fn label(&self) -> Option<String> {
        match (self.kind.is_empty(), self.name.is_empty()) {
            (true, _) => None,
            (false, true) => Some(self.kind.clone()),
            (false, false) => Some(format!("{}/{}", self.kind, self.name)),
        }
    }
}

/// A typed document.
#[derive(Debug, Clone)]
pub enum Body {
    /// `kind: Cluster`.
    Cluster(ClusterDoc),
    /// `kind: Application`.
    Application(Box<ApplicationDoc>),
    /// `kind: Instance`.
    Instance(Box<InstanceDoc>),
    /// `kind: InstanceGroup`.
    Group(Box<GroupDoc>),
    /// `kind: Gateway`.
    Gateway(GatewayDoc),
    /// `kind: Entrance`.
    Entrance(EntranceDoc),
    /// `kind: Storage`.
    Storage(StorageDoc),
    /// `kind: Host`.
    Host(crate::model::HostDoc),
}

/// What a load takes besides the manifest files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// `lcc up --env-file F`: variables for interpolation, below the shell's
    /// environment and above the cluster directory's `.env`.
    pub env_file: Option<PathBuf>,
    /// What `lcc up` brings up; `None`: everything (`lcc validate`, `compile`, ...).
    pub select: Option<Select>,
}

/// `lcc up --profile P... [NAME...]`: which objects the plan holds ([`crate::profiles`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Select {
    /// Active profiles.
    pub profiles: Vec<String>,
    /// Instances and groups named on the command line (none: all that profiles allow).
    pub names: Vec<String>,
}

/// The file of variables read from the cluster directory, if it exists.
pub const DOTENV: &str = ".env";

/// Loads the cluster in `dir`: every `*.yaml` and `*.yml` file in it (sorted, not
/// recursive, hidden files skipped).
pub fn load_cluster(dir: &Path) -> Result<Plan, Diagnostics> {
    load_cluster_with(dir, &LoadOptions::default())
}

/// [`load_cluster`] with options.
pub fn load_cluster_with(dir: &Path, options: &LoadOptions) -> Result<Plan, Diagnostics> {
    let files = manifest_files(dir).map_err(|msg| io_error(dir, msg))?;
    load_counted(dir, &files, options).map(|(plan, _)| plan)
}

/// Loads manifest files and/or cluster directories as one cluster. The cluster
/// directory (for storage paths and the default name) is the first directory given,
/// else the directory of the first file.
pub fn load_files(paths: &[PathBuf]) -> Result<Plan, Diagnostics> {
    load_files_counted(paths).map(|(plan, _)| plan)
}

/// [`load_files`], also counting what was read.
pub fn load_files_counted(paths: &[PathBuf]) -> Result<(Plan, Counts), Diagnostics> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            files.extend(manifest_files(path).map_err(|msg| io_error(path, msg))?);
        } else {
            files.push(path.clone());
        }
    }
    let cluster_dir = match paths.iter().find(|p| p.is_dir()) {
        Some(dir) => dir.clone(),
        None => parent_dir(
            paths
                .first()
                .map(PathBuf::as_path)
                .unwrap_or(Path::new(".")),
        ),
    };
    load_counted(&cluster_dir, &files, &LoadOptions::default())
}

/// The manifests of a cluster directory.
pub fn manifest_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read directory: {e}"))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let yaml = name.ends_with(".yaml") || name.ends_with(".yml");
            yaml && !name.starts_with('.') && p.is_file()
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Summary counts of a successful load, for `lcc validate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Objects (non-empty documents).
    pub objects: usize,
    /// Files read.
    pub files: usize,
}

/// Loads files into a plan, also counting what was read.
pub fn load_counted(
    cluster_dir: &Path,
    files: &[PathBuf],
    options: &LoadOptions,
) -> Result<(Plan, Counts), Diagnostics> {
    let vars = variables(cluster_dir, options.env_file.as_deref()).map_err(Diagnostics::new)?;
    let (sources, read_errors) = read_sources(files);
    let mut rep = Reporter::new(&sources);
    rep.errors.extend(read_errors);
    let (objects, clean) = parse_objects(&sources, &vars, &mut rep);
    for obj in &objects {
        check::object(&mut rep, obj);
    }
    if clean {
        refs::check(&mut rep, &objects);
    }
    let absolute = absolute_dir(cluster_dir);
    if let (true, Ok(dir)) = (clean, &absolute) {
        let manifests: Vec<PathBuf> = sources.iter().map(|s| s.path.clone()).collect();
        storage::check(&mut rep, &objects, dir, &manifests);
        watch::check(&mut rep, &objects, &sources, dir);
    }
    let env_files = env_files::read(&mut rep, &sources, &objects);
    if !rep.errors.is_empty() {
        return Err(Diagnostics::new(rep.errors));
    }
    let selection =
        match &options.select {
            Some(select) => Some(selection(&objects, select).map_err(|unknown| {
                let message =
                    format!(
                "nothing to bring up named {}: not an Instance or InstanceGroup of the cluster",
                unknown.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
            );
                io_error(cluster_dir, message)
            })?),
            None => None,
        };
    let cluster_dir = absolute.map_err(|msg| io_error(cluster_dir, msg))?;
    let counts = Counts {
        objects: objects.len(),
        files: sources.len(),
    };
    let mut plan = planner::plan(
        &cluster_dir,
        &sources,
        &objects,
        &env_files,
        selection.as_ref(),
    );
    plan.this_host = this_host(&cluster_dir, &plan.hosts)?;
    plan.host_files = host_files::host_files(&plan, &objects, &sources, &cluster_dir);
    Ok((plan, counts))
}

/// Which of `hosts` this machine is: the name `lcc receive --host` recorded in the
/// cluster directory, else the `local` Host; `None` when it is none of them.
fn this_host(cluster_dir: &Path, hosts: &[HostSpec]) -> Result<Option<String>, Diagnostics> {
    if hosts.is_empty() {
        return Ok(None);
    }
    let file = lcc_core::layout::Layout::new(cluster_dir).sync_host();
    let recorded = match std::fs::read_to_string(&file) {
        Ok(text) => text.trim().to_string(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(hosts.iter().find(|h| h.is_local()).map(|h| h.name.clone()));
        }
        Err(e) => return Err(io_error(&file, format!("cannot read: {e}"))),
    };
    if hosts.iter().any(|h| h.name == recorded) {
        return Ok(Some(recorded));
    }
    let names: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
    let message = format!(
        "this directory was synced as host `{recorded}`, which is no Host of the cluster (the hosts are: {})",
        names.join(", ")
    );
    Err(io_error(&file, message))
}

/// What comes up of `objects` ([`profiles::select`]); `Err`: names that are no service.
fn selection(objects: &[Object], select: &Select) -> Result<Selection, Vec<String>> {
    let app_profiles: HashMap<&str, &[String]> = objects
        .iter()
        .filter_map(|o| match &o.body {
            Some(Body::Application(a)) => Some((o.name.as_str(), a.profiles.as_slice())),
            _ => None,
        })
        .collect();
    let own_or_app = |own: &'_ [String], app: &Option<String>| -> Vec<String> {
        if own.is_empty() {
            app.as_deref()
                .and_then(|a| app_profiles.get(a))
                .map(|p| p.to_vec())
                .unwrap_or_default()
        } else {
            own.to_vec()
        }
    };
    let mut profiles_of = Vec::new();
    for obj in objects {
        match &obj.body {
            Some(Body::Instance(i)) => profiles_of.push((obj, own_or_app(&i.profiles, &i.app))),
            Some(Body::Group(g)) => profiles_of.push((obj, own_or_app(&g.profiles, &g.app))),
            _ => {}
        }
    }
    let index = crate::refs::Index::for_plan(objects);
    let services: Vec<profiles::Service<'_>> = profiles_of
        .iter()
        .map(|(obj, profiles)| profiles::Service {
            name: &obj.name,
            profiles,
            depends_on: crate::depends::effective(&index, obj)
                .map(|(_, list)| list.iter().filter_map(|d| d.target.as_deref()).collect())
                .unwrap_or_default(),
        })
        .collect();
    let gateways: Vec<profiles::Gateway<'_>> = objects
        .iter()
        .filter_map(|o| match &o.body {
            Some(Body::Gateway(g)) => Some(profiles::Gateway {
                name: &o.name,
                profiles: &g.profiles,
                target: g.target.as_deref().unwrap_or(""),
            }),
            _ => None,
        })
        .collect();
    profiles::select(&services, &gateways, &select.profiles, &select.names)
}

/// The variables for interpolation: the shell's environment (names and values that
/// are UTF-8), then `env_file`, then the cluster directory's `.env` if there is one.
pub(crate) fn variables(
    cluster_dir: &Path,
    env_file: Option<&Path>,
) -> Result<Vars, Vec<Diagnostic>> {
    let mut errors = Vec::new();
    let mut read = |path: &Path| match read_env_file(path) {
        Ok(vars) => vars,
        Err(message) => {
            errors.push(*file_error(path, message));
            Vec::new()
        }
    };
    let from_file = env_file.map(&mut read).unwrap_or_default();
    let dotenv_path = cluster_dir.join(DOTENV);
    let dotenv = if dotenv_path.exists() {
        read(&dotenv_path)
    } else {
        Vec::new()
    };
    let shell = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
    let vars = Vars::layered(shell, &from_file, &dotenv);
    if errors.is_empty() {
        Ok(vars)
    } else {
        Err(errors)
    }
}

/// The `KEY=VALUE` lines of an env file (dotenv syntax: comments, quotes, `export`).
pub(crate) fn read_env_file(path: &Path) -> Result<Vec<(String, String)>, String> {
    let describe = |e: dotenvy::Error| match e {
        dotenvy::Error::Io(e) => format!("cannot read env file: {e}"),
        dotenvy::Error::LineParse(line, at) => {
            format!(
                "invalid env file: cannot parse `{line}` at character {}",
                at + 1
            )
        }
        other => format!("invalid env file: {other}"),
    };
    dotenvy::from_path_iter(path)
        .map_err(describe)?
        .map(|item| item.map_err(describe))
        .collect()
}

/// A problem with a whole file.
fn file_error(path: &Path, message: String) -> Box<Diagnostic> {
    Box::new(Diagnostic {
        file: path.to_path_buf(),
        line: None,
        col: None,
        object: None,
        field: None,
        message,
        source_line: None,
    })
}

/// The absolute, canonical form of a directory.
fn absolute_dir(dir: &Path) -> Result<PathBuf, String> {
    std::fs::canonicalize(dir).map_err(|e| format!("cannot open cluster directory: {e}"))
}

/// The directory of a file (`.` for a bare file name).
fn parent_dir(file: &Path) -> PathBuf {
    match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Where `reference` stands on the line of a value that starts at `value`, so that the
/// caret points at it; the value's start when it is not there as written (a block
/// scalar, an escape in a quoted one).
fn reference_pos(text: &str, value: Pos, reference: &str) -> Pos {
    let Some(line) = text.lines().nth(value.line.saturating_sub(1)) else {
        return value;
    };
    let from = line
        .char_indices()
        .nth(value.col.saturating_sub(1))
        .map_or(line.len(), |(i, _)| i);
    match line[from..].find(reference) {
        Some(at) => Pos {
            line: value.line,
            col: line[..from + at].chars().count() + 1,
        },
        None => value,
    }
}

/// A problem with a path as a whole.
pub(crate) fn io_error(path: &Path, message: String) -> Diagnostics {
    Diagnostics::new(vec![crate::diag::Diagnostic {
        file: path.to_path_buf(),
        line: None,
        col: None,
        object: None,
        field: None,
        message,
        source_line: None,
    }])
}

/// Reads each file; unreadable ones become diagnostics.
pub(crate) fn read_sources(files: &[PathBuf]) -> (Vec<Source>, Vec<Diagnostic>) {
    let mut sources = Vec::new();
    let mut errors = Vec::new();
    for path in files {
        match read_source(path) {
            Ok(source) => sources.push(source),
            Err(diag) => errors.push(*diag),
        }
    }
    (sources, errors)
}

/// Reads one manifest file; text that is not UTF-8 is refused at its first bad byte.
fn read_source(path: &Path) -> Result<Source, Box<Diagnostic>> {
    let fail = |message: String, line: Option<usize>, col: Option<usize>| {
        Box::new(Diagnostic {
            file: path.to_path_buf(),
            line,
            col,
            object: None,
            field: None,
            message,
            source_line: None,
        })
    };
    let bytes =
        std::fs::read(path).map_err(|e| fail(format!("cannot read file: {e}"), None, None))?;
    let text = String::from_utf8(bytes).map_err(|e| not_utf8(path, e))?;
    let dir = absolute_dir(&parent_dir(path)).map_err(|m| fail(m, None, None))?;
    Ok(Source {
        path: path.to_path_buf(),
        dir,
        text,
    })
}

/// The error for a file that is not UTF-8: at its first bad byte, with the line
/// shown (bad bytes and control characters as `?`, so the caret stays aligned).
fn not_utf8(path: &Path, e: std::string::FromUtf8Error) -> Box<Diagnostic> {
    let bytes = e.as_bytes();
    let good = String::from_utf8_lossy(&bytes[..e.utf8_error().valid_up_to()]);
    let line = good.matches('\n').count() + 1;
    let col = good.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    let shown = String::from_utf8_lossy(bytes)
        .lines()
        .nth(line - 1)
        .map(|l| {
            let printable = |c: char| !c.is_control() && c != char::REPLACEMENT_CHARACTER;
            l.chars()
                .map(|c| if printable(c) || c == '\t' { c } else { '?' })
                .collect()
        });
    Box::new(Diagnostic {
        file: path.to_path_buf(),
        line: Some(line),
        col: Some(col),
        object: None,
        field: None,
        message: "invalid UTF-8: a manifest must be UTF-8 text".to_string(),
        source_line: shown,
    })
}

/// Parses every document of every source into objects. The flag is false when a
/// syntax or structure error means some objects may be missing, so that checks
/// across objects would only add noise.
pub(crate) fn parse_objects(
    sources: &[Source],
    vars: &Vars,
    rep: &mut Reporter<'_>,
) -> (Vec<Object>, bool) {
    let mut roots = Vec::new();
    let mut clean = true;
    for (file, source) in sources.iter().enumerate() {
        let parsed = yaml::parse(&source.text);
        if let Some(err) = parsed.error {
            rep.at(
                file,
                Some(err.pos),
                None,
                None,
                format!("invalid YAML: {}", err.message),
            );
            clean = false;
        }
        roots.extend(
            parsed
                .documents
                .into_iter()
                .flatten()
                .map(|root| (file, root)),
        );
    }
    let ctx = interpolate::Context {
        vars: vars.clone(),
        gateways: interpolate::gateways(roots.iter().map(|(_, root)| root), vars),
    };
    let mut objects = Vec::new();
    for (file, mut root) in roots {
        let label = match (
            root.get("kind").and_then(Node::as_str),
            root.get("name").and_then(Node::as_str),
        ) {
            (Some(kind), Some(name)) => Some(format!("{kind}/{name}")),
            (Some(kind), None) => Some(kind.to_string()),
            _ => None,
        };
        for failure in interpolate::document(&mut root, &ctx) {
            let field = (!failure.field.is_empty()).then_some(failure.field);
            let pos = reference_pos(&sources[file].text, failure.pos, &failure.reference);
            rep.at(
                file,
                Some(pos),
                label.clone(),
                field,
                failure.error.to_string(),
            );
            clean = false;
        }
        match read_object(file, root, rep) {
            Some(obj) => objects.push(obj),
            None => clean = false,
        }
    }
    (objects, clean)
}

/// Reads one document: its kind, name and typed body.
fn read_object(file: usize, root: Node, rep: &mut Reporter<'_>) -> Option<Object> {
    if !matches!(root.value, yaml::Value::Map(_)) {
        let message = "a manifest document must be a mapping with a `kind`";
        rep.at(file, Some(root.pos), None, None, message);
        return None;
    }
    let kind = root
        .get("kind")
        .and_then(Node::as_str)
        .unwrap_or("")
        .to_string();
    let name = root
        .get("name")
        .and_then(Node::as_str)
        .unwrap_or("")
        .to_string();
    let mut obj = Object {
        file,
        root,
        kind,
        name,
        body: None,
    };
    if obj.kind.is_empty() && obj.root.get("kind").is_some_and(|k| !k.is_null()) {
        let message = format!("`kind` must be one of: {}", KINDS.join(", "));
        rep.field(&obj, "kind", message);
        return None;
    }
    if obj.kind.is_empty() {
        let message = format!(
            "missing field `kind`, expected one of: {}",
            KINDS.join(", ")
        );
        rep.field(&obj, "", message);
        return None;
    }
    if !KINDS.contains(&obj.kind.as_str()) {
        let message = match crate::rules::suggest(&obj.kind, KINDS.iter().copied()) {
            Some(kind) => format!("unknown kind `{}`; did you mean `{kind}`?", obj.kind),
            None => format!(
                "unknown kind `{}`, expected one of: {}",
                obj.kind,
                KINDS.join(", ")
            ),
        };
        rep.field(&obj, "kind", message);
        return None;
    }
    obj.body = read_body(&obj, rep);
    Some(obj)
}

/// Reads the typed body of an object of a known kind.
fn read_body(obj: &Object, rep: &mut Reporter<'_>) -> Option<Body> {
    Some(match obj.kind.as_str() {
        "Cluster" => Body::Cluster(typed(obj, rep)?),
        "Application" => Body::Application(Box::new(typed(obj, rep)?)),
        "Instance" => Body::Instance(Box::new(typed(obj, rep)?)),
        "InstanceGroup" => Body::Group(Box::new(typed(obj, rep)?)),
        "Gateway" => Body::Gateway(typed(obj, rep)?),
        "Entrance" => Body::Entrance(typed(obj, rep)?),
        "Host" => Body::Host(typed(obj, rep)?),
        _ => Body::Storage(typed(obj, rep)?),
    })
}

/// Deserializes a document, reporting every problem serde meets.
fn typed<T: DeserializeOwned>(obj: &Object, rep: &mut Reporter<'_>) -> Option<T> {
    let (value, errors) = from_node::<T>(&obj.root);
    for err in errors {
        let field = (!err.path.is_empty()).then_some(err.path);
        rep.at(obj.file, err.pos, obj.label(), field, err.message);
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_reference_is_pointed_at_where_it_stands() {
        let pos = |line, col| Pos { line, col };
        let text = "a: x ${A}\nb: \"q ${B:?no}\"\nc: |\n  ${C}\nd: é ${D}\n";
        let cases = [
            (pos(1, 4), "${A}", pos(1, 6)),
            (pos(2, 4), "${B:?no}", pos(2, 7)),
            // a block scalar starts on the line of `|`: its value's start it is
            (pos(3, 4), "${C}", pos(3, 4)),
            // columns count characters, not bytes
            (pos(5, 4), "${D}", pos(5, 6)),
            (pos(9, 1), "${E}", pos(9, 1)),
        ];
        for (value, reference, want) in cases {
            assert_eq!(reference_pos(text, value, reference), want, "{reference}");
        }
    }
    use proptest::prelude::*;

    /// Loads one manifest text as a cluster of one file.
    fn load_text(text: &str) -> Result<Plan, Diagnostics> {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("c.yaml");
        std::fs::write(&file, text).expect("write manifest");
        load_files(&[file])
    }

    const VALID: &str = "kind: Application\nname: a\ntype: local\nlocal:\n  platforms: [{os: linux, command: [x]}]\ninterfaces: [{name: http, protocol: http, port: 9000}]\n---\nkind: Instance\nname: a\napp: a\n---\nkind: Gateway\nname: g\nport: 9001\ntarget: a\ninterface: http\n";

    #[test]
    fn valid_text_loads() {
        let plan = load_text(VALID).unwrap_or_else(|d| panic!("{d}"));
        assert_eq!(plan.instances.len(), 1);
        assert_eq!(plan.gateways[0].port, 9001);
    }

    #[test]
    fn every_diagnostic_has_a_position_inside_the_file() {
        let text = "kind: Gateway\nname: G\nport: x\n";
        let diags = load_text(text).expect_err("invalid");
        for d in &diags.errors {
            assert!(d.line.is_some_and(|l| (1..=3).contains(&l)), "{d}");
        }
    }

    #[test]
    fn an_unknown_app_type_is_one_error_not_also_a_missing_one() {
        let text = "kind: Application\nname: a\ntype: docker\n";
        let diags = load_text(text).expect_err("invalid");
        let messages: Vec<&str> = diags.errors.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            messages,
            ["unknown application type `docker`, expected one of: local, static, remote"]
        );
    }

    #[test]
    fn a_scalar_where_a_section_belongs_asks_for_a_mapping() {
        let text = "kind: Application\nname: a\ntype: local\nlocal: 5\n";
        let diags = load_text(text).expect_err("invalid");
        assert_eq!(
            diags.errors[0].message,
            "invalid type: string \"5\", expected a mapping"
        );
    }

    #[test]
    fn text_that_is_not_utf8_is_refused_at_its_first_bad_byte() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("c.yaml");
        std::fs::write(&file, b"kind: Storage\nname: caf\xe9\n").expect("write");
        let diags = load_files(&[file]).expect_err("not UTF-8");
        let d = &diags.errors[0];
        assert_eq!((d.line, d.col), (Some(2), Some(10)));
        assert_eq!(d.source_line.as_deref(), Some("name: caf?"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Any text gives a plan or diagnostics, never a panic.
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
            let _ = load_text(&text);
        }

        /// A valid manifest with one character replaced gives a plan or diagnostics,
        /// and every diagnostic names a line of the file.
        #[test]
        fn mutated_manifest_never_panics(at in 0..VALID.len(), c in proptest::char::any()) {
            let mut text: Vec<char> = VALID.chars().collect();
            let at = at.min(text.len() - 1);
            text[at] = c;
            let text: String = text.into_iter().collect();
            if let Err(diags) = load_text(&text) {
                let lines = text.split(['\n', '\r']).count() + 1;
                for d in &diags.errors {
                    prop_assert!(d.line.is_none_or(|l| l <= lines), "{}", d);
                }
            }
        }
    }
}
