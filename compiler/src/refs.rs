//! Checks across objects: duplicates, references (apps, gateway targets and
//! interfaces, entrance gateways, storages) and port collisions.

use crate::check::{no_interface_message, probe_interface};
use crate::load::{Body, Object};
use crate::model::{chosen, AppType, ApplicationDoc, BindingDoc, ProbeDoc, ProtocolDoc};
use crate::report::Reporter;
use crate::rules;
use std::collections::HashMap;

/// The objects of a cluster by kind and name (first definition wins).
#[derive(Debug, Default)]
pub struct Index<'a> {
    /// `(kind, name)` -> object.
    by_name: HashMap<(&'a str, &'a str), &'a Object>,
}

impl<'a> Index<'a> {
    /// Indexes checked objects (first definition wins), reporting nothing.
    pub fn for_plan(objects: &'a [Object]) -> Self {
        let mut index = Index::default();
        for obj in objects
            .iter()
            .filter(|o| o.kind != "Cluster" && !o.name.is_empty())
        {
            index.by_name.entry((&obj.kind, &obj.name)).or_insert(obj);
        }
        index
    }

    /// Indexes `objects`, reporting duplicates.
    fn build(rep: &mut Reporter<'_>, objects: &'a [Object]) -> Self {
        let mut index = Index::default();
        let mut cluster: Option<&Object> = None;
        for obj in objects {
            if obj.kind == "Cluster" {
                match cluster {
                    Some(first) => {
                        let msg = format!(
                            "only one Cluster document is allowed; the first is at {}",
                            rep.place(first, "")
                        );
                        rep.field(obj, "kind", msg);
                    }
                    None => cluster = Some(obj),
                }
                continue;
            }
            if obj.name.is_empty() {
                continue;
            }
            match index.by_name.get(&(obj.kind.as_str(), obj.name.as_str())) {
                Some(first) => {
                    let msg = format!(
                        "duplicate {} `{}`; the first is at {}",
                        obj.kind,
                        obj.name,
                        rep.place(first, "name")
                    );
                    rep.field(obj, "name", msg);
                }
                None => {
                    index.by_name.insert((&obj.kind, &obj.name), obj);
                }
            }
        }
        index
    }

    /// The object of a kind and name.
    pub fn get(&self, kind: &str, name: &str) -> Option<&'a Object> {
        self.by_name.get(&(kind, name)).copied()
    }

    /// The names of every object of a kind.
    pub fn names<'s>(&'s self, kind: &'s str) -> impl Iterator<Item = &'a str> + 's {
        self.by_name
            .keys()
            .filter(move |(k, _)| *k == kind)
            .map(|(_, n)| *n)
    }

    /// `; did you mean `x`?` among the objects of some kinds, or nothing.
    pub fn hint(&self, word: &str, kinds: &[&str]) -> String {
        let mut names: Vec<&str> = kinds.iter().flat_map(|k| self.names(k)).collect();
        names.sort_unstable();
        rules::did_you_mean(word, names)
    }

    /// The typed Application of a name, if it exists and was read.
    pub fn app(&self, name: &str) -> Option<&'a ApplicationDoc> {
        match self.get("Application", name).and_then(|o| o.body.as_ref()) {
            Some(Body::Application(app)) => Some(app),
            _ => None,
        }
    }

    /// The app name of an Instance or InstanceGroup object.
    pub fn app_name_of(obj: &'a Object) -> Option<&'a str> {
        match obj.body.as_ref()? {
            Body::Instance(i) => i.app.as_deref(),
            Body::Group(g) => g.app.as_deref(),
            _ => None,
        }
    }

    /// The Instance or InstanceGroup called `name` (an Instance first).
    pub fn runner(&self, name: &str) -> Option<&'a Object> {
        self.get("Instance", name)
            .or_else(|| self.get("InstanceGroup", name))
    }
}

/// Runs every check across objects.
pub fn check(rep: &mut Reporter<'_>, objects: &[Object]) {
    let index = Index::build(rep, objects);
    for obj in objects {
        match &obj.body {
            Some(Body::Application(app)) => bindings(rep, &index, obj, "storage", &app.storage),
            Some(Body::Instance(i)) => {
                runner(
                    rep,
                    &index,
                    obj,
                    i.app.as_deref(),
                    i.probe.as_ref(),
                    i.storage.as_deref(),
                );
                env_needs_local(rep, &index, obj, i.app.as_deref(), i.env.is_some());
                replica_names(rep, &index, obj);
            }
            Some(Body::Group(g)) => {
                runner(
                    rep,
                    &index,
                    obj,
                    g.app.as_deref(),
                    g.probe.as_ref(),
                    g.storage.as_deref(),
                );
                env_needs_local(rep, &index, obj, g.app.as_deref(), g.env.is_some());
            }
            Some(Body::Gateway(g)) => {
                let protocol = gateway_protocol(rep, &index, obj);
                let response = g.timeouts.as_ref().and_then(|t| t.response.as_ref());
                if matches!(protocol, Some(ProtocolDoc::Tcp)) && response.is_some() {
                    let message = "a tcp gateway has no responses to time: use `idle`";
                    rep.field(obj, "timeouts.response", message);
                }
            }
            Some(Body::Entrance(e)) => entrance(rep, &index, obj, e.gateway.as_deref()),
            _ => {}
        }
    }
    crate::hosts::check_all(rep, objects);
    crate::placement::check(rep, objects);
    unreferenced_pod_names(rep, &index, objects);
    crate::depends::check(rep, &index, objects);
    entrance_hosts(rep, objects);
    acme_needs_https(rep, objects);
    crate::ports::check(rep, &index, objects);
}

/// Two entrances may not claim the same host rule: the second is reported.
fn entrance_hosts(rep: &mut Reporter<'_>, objects: &[Object]) {
    let mut seen: HashMap<&str, &Object> = HashMap::new();
    for obj in objects {
        let Some(Body::Entrance(e)) = &obj.body else {
            continue;
        };
        let Some(host) = e.host.as_deref() else {
            continue;
        };
        match seen.get(host) {
            Some(first) => {
                let msg = format!(
                    "duplicate host `{host}`; the first is Entrance/{} at {}",
                    first.name,
                    rep.place(first, "host")
                );
                rep.field(obj, "host", msg);
            }
            None => {
                seen.insert(host, obj);
            }
        }
    }
}

/// An ACME certificate is served on the https listener: without `Cluster.https` it
/// would be obtained for nothing.
fn acme_needs_https(rep: &mut Reporter<'_>, objects: &[Object]) {
    let https = objects
        .iter()
        .any(|o| matches!(&o.body, Some(Body::Cluster(c)) if c.https.is_some()));
    if https {
        return;
    }
    for obj in objects {
        if let Some(Body::Entrance(e)) = &obj.body {
            if e.tls.as_ref().is_some_and(|t| t.acme.is_some()) {
                let msg = "an ACME certificate is served on the https listener: set `https` on the Cluster";
                rep.field(obj, "tls.acme", msg);
            }
        }
    }
}

/// Checks the references of an Instance or InstanceGroup.
fn runner(
    rep: &mut Reporter<'_>,
    index: &Index<'_>,
    obj: &Object,
    app: Option<&str>,
    probe: Option<&ProbeDoc>,
    storage: Option<&[BindingDoc]>,
) {
    let Some(app_name) = app else { return };
    if index.get("Application", app_name).is_none() {
        rep.field(
            obj,
            "app",
            format!(
                "no Application named `{app_name}`{}",
                index.hint(app_name, &["Application"])
            ),
        );
        return;
    }
    if let (Some(app), Some(probe)) = (index.app(app_name), probe) {
        let names: Vec<String> = app.interfaces.iter().map(|i| i.name.clone()).collect();
        if let Some((field, iface)) = probe_interface("probe", probe) {
            if !names.iter().any(|n| n == iface) {
                rep.field(obj, &field, no_interface_message(iface, &names));
            }
        }
    }
    if let Some(list) = storage {
        bindings(rep, index, obj, "storage", list);
    }
}

/// Checks that an env override is only given for a local application.
fn env_needs_local(
    rep: &mut Reporter<'_>,
    index: &Index<'_>,
    obj: &Object,
    app: Option<&str>,
    has_env: bool,
) {
    let app_type = app
        .and_then(|a| index.app(a))
        .and_then(|a| chosen(&a.app_type));
    if has_env && app_type.is_some_and(|t| t != AppType::Local) {
        let msg =
            "env is only for local applications: static and remote ones run no program of yours";
        rep.key(obj, "env", msg);
    }
}

/// Checks that an Instance does not take the name of a group or of a group's replica.
fn replica_names(rep: &mut Reporter<'_>, index: &Index<'_>, obj: &Object) {
    if index.get("InstanceGroup", &obj.name).is_some() {
        let msg = format!(
            "an Instance cannot have the name of InstanceGroup `{}`",
            obj.name
        );
        rep.field(obj, "name", msg);
        return;
    }
    let Some((group, n)) = obj.name.rsplit_once('-') else {
        return;
    };
    if n.parse::<u32>().is_ok() && index.get("InstanceGroup", group).is_some() {
        let msg = format!(
            "`{}` is the name of a replica of InstanceGroup `{group}`",
            obj.name
        );
        rep.field(obj, "name", msg);
    }
}

/// Checks that storage bindings name existing Storages.
fn bindings(
    rep: &mut Reporter<'_>,
    index: &Index<'_>,
    obj: &Object,
    at: &str,
    list: &[BindingDoc],
) {
    for (i, b) in list.iter().enumerate() {
        if rules::name(&b.storage).is_ok() && index.get("Storage", &b.storage).is_none() {
            rep.field(
                obj,
                &format!("{at}[{i}].storage"),
                format!(
                    "no Storage named `{}`{}",
                    b.storage,
                    index.hint(&b.storage, &["Storage"])
                ),
            );
        }
    }
}

/// Checks a gateway's target and interface; returns its protocol.
pub fn gateway_protocol(
    rep: &mut Reporter<'_>,
    index: &Index<'_>,
    obj: &Object,
) -> Option<ProtocolDoc> {
    let Some(Body::Gateway(g)) = &obj.body else {
        return None;
    };
    let target = g.target.as_deref()?;
    let Some(runner) = index.runner(target) else {
        rep.field(
            obj,
            "target",
            format!(
                "no InstanceGroup or Instance named `{target}`{}",
                index.hint(target, &["InstanceGroup", "Instance"])
            ),
        );
        return None;
    };
    let app = index.app(Index::app_name_of(runner)?)?;
    let iface = g.interface.as_deref()?;
    match app.interfaces.iter().find(|i| i.name == iface) {
        Some(found) => chosen(&found.protocol),
        None => {
            let names: Vec<String> = app.interfaces.iter().map(|i| i.name.clone()).collect();
            rep.field(obj, "interface", no_interface_message(iface, &names));
            None
        }
    }
}

/// The protocol of a gateway, without reporting anything.
pub fn protocol_of(index: &Index<'_>, gateway: &Object) -> Option<ProtocolDoc> {
    let Some(Body::Gateway(g)) = &gateway.body else {
        return None;
    };
    let runner = index.runner(g.target.as_deref()?)?;
    let app = index.app(Index::app_name_of(runner)?)?;
    let iface = g.interface.as_deref()?;
    chosen(&app.interfaces.iter().find(|i| i.name == iface)?.protocol)
}

/// Checks an entrance's gateway: it exists and speaks http.
fn entrance(rep: &mut Reporter<'_>, index: &Index<'_>, obj: &Object, gateway: Option<&str>) {
    let Some(name) = gateway else { return };
    let Some(gw) = index.get("Gateway", name) else {
        rep.field(
            obj,
            "gateway",
            format!(
                "no Gateway named `{name}`{}",
                index.hint(name, &["Gateway"])
            ),
        );
        return;
    };
    if protocol_of(index, gw) == Some(ProtocolDoc::Tcp) {
        let msg = format!("gateway `{name}` speaks tcp; an entrance needs an http gateway");
        rep.field(obj, "gateway", msg);
    }
}

/// Whether an application is used by some Instance or InstanceGroup.
pub fn is_referenced(objects: &[Object], app: &str) -> bool {
    objects.iter().any(|o| Index::app_name_of(o) == Some(app))
}

/// Checks that the pod of an unreferenced application does not take the name of an
/// Instance's or group's pod.
fn unreferenced_pod_names(rep: &mut Reporter<'_>, index: &Index<'_>, objects: &[Object]) {
    for obj in objects
        .iter()
        .filter(|o| o.kind == "Application" && !o.name.is_empty())
    {
        if is_referenced(objects, &obj.name) {
            continue;
        }
        // A runner whose own app is missing already has its error; the clash would only
        // be a consequence of that.
        let resolved = |o: &&Object| {
            Index::app_name_of(o).is_some_and(|a| index.get("Application", a).is_some())
        };
        if let Some(other) = index.runner(&obj.name).filter(resolved) {
            let msg = format!(
                "Application `{}` is used by no Instance or InstanceGroup, so it gets a pod of its own, but {} `{}` has the same pod name",
                obj.name, other.kind, other.name
            );
            rep.field(obj, "name", msg);
        }
    }
}

/// Whether an application runs on this machine (and so binds its fixed ports here).
pub fn runs_here(app: &ApplicationDoc) -> bool {
    matches!(
        chosen(&app.app_type),
        Some(AppType::Local | AppType::Static)
    )
}
