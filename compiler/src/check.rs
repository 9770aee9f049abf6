//! Checks of one object on its own: names, values, required fields, the rules of
//! each application type. Checks across objects are in `refs`.

use crate::load::{Body, Object};
use crate::model::{
    chosen, AppType, ApplicationDoc, BindingDoc, ClusterDoc, Env, GatewayDoc, GroupDoc,
    InstanceDoc, InterfaceDoc, KubernetesDoc, LocalDoc, PlatformDoc, ProbeDoc, ProtocolDoc,
    RestartDoc, StaticDoc, StopDoc,
};
use crate::report::{Reporter, Scope};
use crate::rules;
use std::collections::HashSet;

/// Checks one object.
pub fn object(rep: &mut Reporter<'_>, obj: &Object) {
    let Some(body) = &obj.body else { return };
    let mut s = Scope { rep, obj };
    if !matches!(body, Body::Cluster(_)) {
        s.check("name", rules::name(&obj.name));
    }
    let profiles = match body {
        Body::Application(a) => a.profiles.as_slice(),
        Body::Instance(i) => &i.profiles,
        Body::Group(g) => &g.profiles,
        Body::Gateway(g) => &g.profiles,
        _ => &[],
    };
    let watch = match body {
        Body::Application(a) => a.watch.as_deref(),
        Body::Instance(i) => i.watch.as_deref(),
        Body::Group(g) => g.watch.as_deref(),
        _ => None,
    };
    for (i, w) in watch.unwrap_or(&[]).iter().enumerate() {
        let at = format!("watch[{i}]");
        if let Some(path) = s.require(&format!("{at}.path"), &w.path) {
            if path.is_empty() {
                s.err(&format!("{at}.path"), "path must not be empty");
            }
        }
        for (j, glob) in w.ignore.iter().enumerate() {
            if let Err(e) = globset::Glob::new(glob) {
                let message = format!("invalid glob `{glob}`: {}", e.kind());
                s.err(&format!("{at}.ignore[{j}]"), message);
            }
        }
        s.choice(&format!("{at}.action"), &w.action);
    }
    for (i, profile) in profiles.iter().enumerate() {
        let at = format!("profiles[{i}]");
        s.check(
            &at,
            rules::name(profile).map_err(|e| format!("profile: {e}")),
        );
    }
    match body {
        Body::Cluster(c) => cluster(&mut s, c),
        Body::Application(app) => application(&mut s, app),
        Body::Instance(i) => instance(&mut s, i),
        Body::Group(g) => group(&mut s, g),
        Body::Gateway(g) => gateway(&mut s, g),
        Body::Entrance(e) => {
            s.require("gateway", &e.gateway);
            if let Some(host) = &e.host {
                s.check("host", lcc_core::host::check(host));
            }
            if let Some(tls) = &e.tls {
                entrance_tls(&mut s, e.host.as_deref(), tls);
            }
        }
        Body::Host(h) => crate::hosts::check(&mut s, h),
        Body::Storage(st) => {
            if st.path.as_deref() == Some("") {
                s.err("path", "path must not be empty");
            }
            if let Some(size) = &st.size {
                size_of_claim(&mut s, size);
            }
        }
    }
}

/// Checks an Entrance's `tls`: certificate files, or an ACME account for an exact host.
fn entrance_tls(s: &mut Scope<'_, '_>, host: Option<&str>, tls: &crate::model::EntranceTlsDoc) {
    if host.is_none() {
        s.err(
            "tls",
            "a certificate is served for the entrance's `host`: set one",
        );
    }
    let Some(acme) = &tls.acme else {
        for (field, value) in [("tls.cert", &tls.cert), ("tls.key", &tls.key)] {
            if let Some(path) = s.require(field, value) {
                s.check(field, rules::inside_path(path));
            }
        }
        return;
    };
    if tls.cert.is_some() || tls.key.is_some() {
        s.err(
            "tls.acme",
            "the certificate comes from `acme` or from `cert` and `key` files, not both",
        );
    }
    if let Some(host) = host.filter(|h| h.starts_with("*.")) {
        s.err(
            "tls.acme",
            format!("HTTP-01 cannot prove a wildcard name (`{host}`): use an exact host"),
        );
    }
    if let Some(url) = s.require("tls.acme.directory", &acme.directory) {
        s.check("tls.acme.directory", rules::acme_directory(url));
    }
    if let Some(email) = &acme.email {
        s.check("tls.acme.email", rules::email(email));
    }
    if let Some(ca) = &acme.ca {
        s.check("tls.acme.ca", rules::inside_path(ca));
    }
}

/// Checks an Instance.
fn instance(s: &mut Scope<'_, '_>, i: &InstanceDoc) {
    s.require("app", &i.app);
    if let Some(schedule) = &i.schedule {
        s.check("schedule", rules::schedule(schedule));
    }
    s.choice("state", &i.state);
    let storage = i.storage.as_deref();
    overrides(
        s,
        i.env.as_ref(),
        i.probe.as_ref(),
        i.restart.as_ref(),
        storage,
    );
    if let Some(k) = &i.kubernetes {
        kubernetes(s, k);
    }
}

/// Checks an InstanceGroup.
fn group(s: &mut Scope<'_, '_>, g: &GroupDoc) {
    s.require("app", &g.app);
    if g.replicas.is_some_and(|r| !(0..=10_000).contains(&r)) {
        s.err("replicas", "replicas must be between 0 and 10000");
    }
    let storage = g.storage.as_deref();
    overrides(
        s,
        g.env.as_ref(),
        g.probe.as_ref(),
        g.restart.as_ref(),
        storage,
    );
    if let Some(k) = &g.kubernetes {
        kubernetes(s, k);
    }
}

/// Checks a Gateway on its own (its target and interface are checked in `refs`).
fn gateway(s: &mut Scope<'_, '_>, g: &GatewayDoc) {
    if let Some(port) = s.require("port", &g.port) {
        s.check("port", rules::port(*port));
    }
    s.require("target", &g.target);
    s.require("interface", &g.interface);
    let address = g.address.as_deref();
    if address.is_some_and(|a| a.is_empty() || a.contains(char::is_whitespace)) {
        s.err(
            "address",
            "invalid address: expected a host name or IP address",
        );
    }
    if let Some(t) = &g.timeouts {
        for (key, value) in [
            ("connect", &t.connect),
            ("response", &t.response),
            ("idle", &t.idle),
        ] {
            let Some(value) = value else { continue };
            let at = format!("timeouts.{key}");
            // the bounds proxy.conf accepts: a manifest that passes makes a file the proxy serves
            match s.check(&at, rules::duration(value)) {
                Some(0) => s.err(&at, format!("{key} must be longer than 0")),
                Some(ms) if ms > lcc_core::proxy_config::Timeouts::MAX_MS => {
                    s.err(&at, format!("{key} must be at most a week (168h)"))
                }
                _ => {}
            }
        }
    }
    for (i, cidr) in g.trusted_proxies.iter().flatten().enumerate() {
        if lcc_core::proxy_config::Cidr::parse(cidr).is_err() {
            let message = format!(
                "invalid CIDR `{cidr}`: write IP/PREFIX or an IP, e.g. 10.0.0.0/8, 192.0.2.7 or fd00::/8"
            );
            s.err(&format!("trustedProxies[{i}]"), message);
        }
    }
}

/// Checks `kind: Cluster`.
fn cluster(s: &mut Scope<'_, '_>, c: &ClusterDoc) {
    if let Some(name) = &c.name {
        s.check("name", rules::name(name));
    }
    if let Some(http) = &c.http {
        s.check("http", rules::listen_addr(http));
    }
    if let Some(range) = &c.host_ports {
        s.check("hostPorts", rules::port_range(range));
    }
    if let Some(listen) = c.https.as_ref().and_then(|h| h.listen.as_ref()) {
        s.check("https.listen", rules::listen_addr(listen));
    }
    if let Some(listen) = c.api.as_ref().and_then(|a| a.listen.as_ref()) {
        s.check("api.listen", rules::listen_addr(listen));
    }
    if let Some(port) = c.peers.as_ref().and_then(|p| p.port) {
        s.check("peers.port", rules::port(port));
    }
}

/// Checks an Application.
fn application(s: &mut Scope<'_, '_>, app: &ApplicationDoc) {
    let names = interfaces(s, &app.interfaces);
    let app_type = s.choice("type", &app.app_type);
    sections(s, app);
    match app_type {
        Some(AppType::Local) => {
            if let Some(local) = s.require("local", &app.local) {
                local_app(s, local);
            }
        }
        Some(AppType::Static) => {
            if let Some(site) = s.require("static", &app.static_site) {
                static_app(s, site, &app.interfaces);
            }
        }
        Some(AppType::Remote) => remote_app(s, app),
        // an invalid type was reported by `choice`; only an absent one is missing
        None if app.app_type.is_some() => {}
        None => {
            s.err(
                "type",
                "missing field `type`, expected one of: local, static, remote",
            );
        }
    }
    if let Some(probe) = &app.probe {
        self::probe(s, "probe", probe, Some(&names));
    }
    if let Some(restart) = &app.restart {
        self::restart(s, "restart", restart);
    }
    if let Some(stop) = &app.stop {
        self::stop(s, stop);
    }
    bindings(s, "storage", &app.storage);
    if let Some(k) = &app.kubernetes {
        kubernetes(s, k);
        if app_type == Some(AppType::Remote) {
            remote_kubernetes(s, k);
        }
    }
}

/// Checks a `kubernetes:` section (of an Application, or an override).
fn kubernetes(s: &mut Scope<'_, '_>, k: &KubernetesDoc) {
    if let Some(image) = &k.image {
        s.check("kubernetes.image", rules::image(image));
    }
    if let Some(command) = &k.command {
        if command.first().is_none_or(String::is_empty) {
            s.err("kubernetes.command", "command must not be empty");
        }
    }
    for (key, argv) in [("command", &k.command), ("args", &k.args)] {
        if argv.iter().flatten().any(|a| a.contains('\0')) {
            let message = format!("{key} must not contain a NUL character");
            s.err(&format!("kubernetes.{key}"), message);
        }
    }
    let mut seen = HashSet::new();
    for (i, file) in k.files.iter().flatten().enumerate() {
        let at = format!("kubernetes.files[{i}]");
        if s.check(&at, rules::binding_path(file)).is_some() && !seen.insert(file.as_str()) {
            s.err(&at, format!("file `{file}` is listed twice"));
        }
    }
    if let Some(resources) = &k.resources {
        for (key, quantities) in [
            ("requests", &resources.requests),
            ("limits", &resources.limits),
        ] {
            let Some(q) = quantities else { continue };
            for (name, value) in [("cpu", &q.cpu), ("memory", &q.memory)] {
                if let Some(value) = value {
                    let at = format!("kubernetes.resources.{key}.{name}");
                    s.check(&at, rules::quantity(value));
                }
            }
        }
    }
    s.choice("kubernetes.serviceType", &k.service_type);
}

/// A remote application runs no container: only `serviceType` applies to it.
fn remote_kubernetes(s: &mut Scope<'_, '_>, k: &KubernetesDoc) {
    let container_fields = [
        ("image", k.image.is_some()),
        ("command", k.command.is_some()),
        ("args", k.args.is_some()),
        ("files", k.files.is_some()),
        ("resources", k.resources.is_some()),
    ];
    for (field, present) in container_fields {
        if present {
            s.err_key(
                &format!("kubernetes.{field}"),
                format!("a remote application runs no container: `kubernetes.{field}` does not apply (only `serviceType` does)"),
            );
        }
    }
}

/// Checks a Storage's claim size: a quantity above zero.
fn size_of_claim(s: &mut Scope<'_, '_>, size: &str) {
    if s.check("size", rules::quantity(size)).is_some()
        && size
            .bytes()
            .all(|b| b == b'0' || b == b'.' || b.is_ascii_alphabetic())
    {
        s.err("size", "size must be larger than 0");
    }
}

/// Rejects the settings section of another application type.
fn sections(s: &mut Scope<'_, '_>, app: &ApplicationDoc) {
    let present = [
        ("local", app.local.is_some(), AppType::Local),
        ("static", app.static_site.is_some(), AppType::Static),
        ("remote", app.remote.is_some(), AppType::Remote),
    ];
    for (section, is_present, owner) in present {
        if is_present && chosen(&app.app_type).is_some_and(|t| t != owner) {
            s.err_key(
                section,
                format!("`{section}` is only allowed in an application of type {section}"),
            );
        }
    }
}

/// Checks interfaces; returns their names.
fn interfaces(s: &mut Scope<'_, '_>, list: &[InterfaceDoc]) -> Vec<String> {
    let mut seen = HashSet::new();
    for (i, iface) in list.iter().enumerate() {
        let at = format!("interfaces[{i}]");
        s.check(&format!("{at}.name"), rules::name(&iface.name));
        if !seen.insert(iface.name.as_str()) {
            s.err(
                &format!("{at}.name"),
                format!("duplicate interface `{}`", iface.name),
            );
        }
        if iface.protocol.is_none() {
            s.err(
                &format!("{at}.protocol"),
                "missing field `protocol`, expected one of: http, tcp",
            );
        }
        s.choice(&format!("{at}.protocol"), &iface.protocol);
        if let Some(port) = iface.port {
            s.check(&format!("{at}.port"), rules::port(port));
        }
    }
    list.iter().map(|i| i.name.clone()).collect()
}

/// Checks `local:`.
fn local_app(s: &mut Scope<'_, '_>, local: &LocalDoc) {
    if local.platforms.is_empty() {
        s.err(
            "local.platforms",
            "a local application needs at least one platform",
        );
    }
    for (i, platform) in local.platforms.iter().enumerate() {
        self::platform(s, &format!("local.platforms[{i}]"), platform);
    }
    env(s, "local.env", &local.env);
}

/// Checks one platform.
fn platform(s: &mut Scope<'_, '_>, at: &str, p: &PlatformDoc) {
    if let Some(os) = s.require(&format!("{at}.os"), &p.os) {
        s.check(&format!("{at}.os"), rules::one_of("os", os, rules::OSES));
    }
    for (i, arch) in p.arch.0.iter().enumerate() {
        s.check(
            &format!("{at}.arch[{i}]"),
            rules::one_of("arch", arch, rules::ARCHES),
        );
    }
    match (&p.command, &p.shell) {
        (Some(_), Some(_)) => s.err_key(
            &format!("{at}.shell"),
            "give either `command` or `shell`, not both",
        ),
        (None, None) => s.err(
            at,
            "missing field `command` (an argv list) or `shell` (a script)",
        ),
        (Some(argv), None) if argv.is_empty() || argv[0].is_empty() => {
            s.err(&format!("{at}.command"), "command must not be empty")
        }
        (None, Some(script)) if script.trim().is_empty() => {
            s.err(&format!("{at}.shell"), "shell must not be empty")
        }
        _ => {}
    }
    let nul = p
        .command
        .iter()
        .flatten()
        .chain(&p.shell)
        .any(|a| a.contains('\0'));
    if nul {
        s.err(at, "a command must not contain a NUL character");
    }
}

/// Checks `static:` and that the app has exactly one http interface.
fn static_app(s: &mut Scope<'_, '_>, site: &StaticDoc, ifaces: &[InterfaceDoc]) {
    match site.archive.as_deref() {
        None => {
            s.require("static.archive", &site.archive);
        }
        Some("") => s.err("static.archive", "archive must not be empty"),
        Some(_) => {}
    }
    if let Some(sha) = &site.sha256 {
        s.check("static.sha256", rules::sha256(sha));
    }
    if let Some(root) = &site.root {
        s.check("static.root", rules::inner_path(root));
    }
    let one_http = ifaces.len() == 1 && chosen(&ifaces[0].protocol) != Some(ProtocolDoc::Tcp);
    if !one_http {
        s.err(
            "interfaces",
            "a static application has exactly one interface, of protocol http",
        );
    }
}

/// Checks a remote application.
fn remote_app(s: &mut Scope<'_, '_>, app: &ApplicationDoc) {
    if let Some(remote) = s.require("remote", &app.remote) {
        match remote.host.as_deref() {
            None => {
                s.require("remote.host", &remote.host);
            }
            Some(h) if h.is_empty() || h.contains(char::is_whitespace) => s.err(
                "remote.host",
                "invalid host: expected a host name or IP address",
            ),
            Some(_) => {}
        }
    }
    for (i, iface) in app.interfaces.iter().enumerate() {
        if iface.port.is_none() {
            let msg = format!(
                "interface `{}` of a remote application needs a fixed port",
                iface.name
            );
            s.err(&format!("interfaces[{i}]"), msg);
        }
    }
    if app.interfaces.is_empty() {
        s.err(
            "interfaces",
            "a remote application needs at least one interface",
        );
    }
    if !app.storage.is_empty() {
        s.err_key(
            "storage",
            "a remote application runs elsewhere: it cannot bind storage",
        );
    }
}

/// Checks env names and values.
pub fn env(s: &mut Scope<'_, '_>, at: &str, env: &Env) {
    // Repeated keys were already reported (and dropped) while reading the mapping.
    for (name, value) in &env.0 {
        let field = format!("{at}.{name}");
        s.check(&field, rules::env_name(name));
        if value.contains('\0') {
            s.err(
                &field,
                format!("environment variable `{name}` must not contain a NUL character"),
            );
        }
    }
}

/// Checks a probe. With `interfaces`, also that it names one of them (an override's
/// interfaces are checked against its app in `refs`).
pub fn probe(s: &mut Scope<'_, '_>, at: &str, p: &ProbeDoc, interfaces: Option<&[String]>) {
    let actions = [p.http.is_some(), p.tcp.is_some(), p.exec.is_some()];
    match actions.iter().filter(|a| **a).count() {
        0 => s.err(at, "a probe needs one of `http`, `tcp` or `exec`"),
        1 => {}
        _ => s.err(at, "a probe has exactly one of `http`, `tcp` or `exec`"),
    }
    if let Some(http) = &p.http {
        if http
            .path
            .as_deref()
            .is_some_and(|path| !path.starts_with('/'))
        {
            s.err(&format!("{at}.http.path"), "path must start with `/`");
        }
    }
    if p.exec
        .as_ref()
        .is_some_and(|argv| argv.is_empty() || argv[0].is_empty())
    {
        s.err(&format!("{at}.exec"), "exec must not be empty");
    }
    if let (Some(names), Some((field, iface))) = (interfaces, probe_interface(at, p)) {
        if !names.iter().any(|n| n == iface) {
            s.err(&field, no_interface_message(iface, names));
        }
    }
    for (key, value) in [
        ("initialDelay", &p.initial_delay),
        ("period", &p.period),
        ("timeout", &p.timeout),
    ] {
        if let Some(value) = value {
            let ms = s.check(&format!("{at}.{key}"), rules::duration(value));
            if ms == Some(0) && key != "initialDelay" {
                s.err(
                    &format!("{at}.{key}"),
                    format!("{key} must be longer than 0"),
                );
            }
        }
    }
    if p.failure_threshold
        .is_some_and(|n| !(1..=1000).contains(&n))
    {
        s.err(
            &format!("{at}.failureThreshold"),
            "failureThreshold must be between 1 and 1000",
        );
    }
}

/// The interface a probe names, with its field path.
pub fn probe_interface<'p>(at: &str, p: &'p ProbeDoc) -> Option<(String, &'p str)> {
    match (&p.http, &p.tcp) {
        (Some(http), _) => Some((format!("{at}.http.interface"), &http.interface)),
        (None, Some(tcp)) => Some((format!("{at}.tcp.interface"), &tcp.interface)),
        _ => None,
    }
}

/// "no interface x (it has: a, b)".
pub fn no_interface_message(iface: &str, names: &[String]) -> String {
    if names.is_empty() {
        format!("no interface `{iface}`: the application has no interfaces")
    } else {
        format!(
            "no interface `{iface}`, expected one of: {}",
            names.join(", ")
        )
    }
}

/// Checks a restart policy.
fn restart(s: &mut Scope<'_, '_>, at: &str, r: &RestartDoc) {
    s.choice(&format!("{at}.policy"), &r.policy);
    if r.max_retries.is_some_and(|n| !(0..=1_000_000).contains(&n)) {
        s.err(
            &format!("{at}.maxRetries"),
            "maxRetries must be between 0 and 1000000",
        );
    }
    let Some(backoff) = &r.backoff else { return };
    let initial = backoff
        .initial
        .as_ref()
        .and_then(|v| s.check(&format!("{at}.backoff.initial"), rules::duration(v)));
    let max = backoff
        .max
        .as_ref()
        .and_then(|v| s.check(&format!("{at}.backoff.max"), rules::duration(v)));
    if let (Some(initial), Some(max)) = (initial, max) {
        if initial > max {
            s.err(
                &format!("{at}.backoff.max"),
                "backoff max must not be shorter than initial",
            );
        }
    }
}

/// Checks `stop:`.
fn stop(s: &mut Scope<'_, '_>, stop: &StopDoc) {
    if let Some(signal) = &stop.signal {
        s.check(
            "stop.signal",
            rules::one_of("signal", signal, rules::SIGNALS),
        );
    }
    if let Some(timeout) = &stop.timeout {
        s.check("stop.timeout", rules::duration(timeout));
    }
}

/// Checks storage bindings on their own (the storages' existence is in `refs`): plain
/// paths, none at or inside another (the pod would link the second through the first,
/// into that storage's data).
fn bindings(s: &mut Scope<'_, '_>, at: &str, list: &[BindingDoc]) {
    let mut seen: Vec<&BindingDoc> = Vec::new();
    for (i, b) in list.iter().enumerate() {
        s.check(&format!("{at}[{i}].storage"), rules::name(&b.storage));
        let path = format!("{at}[{i}].path");
        if s.check(&path, rules::binding_path(&b.path)).is_none() {
            continue;
        }
        let nested = |a: &str, b: &str| a.strip_prefix(b).is_some_and(|r| r.starts_with('/'));
        if let Some(other) = seen.iter().find(|o| o.path == b.path) {
            let msg = format!(
                "two storage bindings at path `{}` (storages `{}` and `{}`)",
                b.path, other.storage, b.storage
            );
            s.err(&path, msg);
        } else if let Some(other) = seen.iter().find(|o| nested(&b.path, &o.path)) {
            let msg = format!(
                "binding path `{}` is inside binding `{}` (storage `{}`): bindings must not nest",
                b.path, other.path, other.storage
            );
            s.err(&path, msg);
        } else if let Some(other) = seen.iter().find(|o| nested(&o.path, &b.path)) {
            let msg = format!(
                "binding path `{}` holds binding `{}` (storage `{}`): bindings must not nest",
                b.path, other.path, other.storage
            );
            s.err(&path, msg);
        } else {
            seen.push(b);
        }
    }
}

/// Checks the overrides of an Instance or InstanceGroup.
fn overrides(
    s: &mut Scope<'_, '_>,
    env_: Option<&Env>,
    probe_: Option<&ProbeDoc>,
    restart_: Option<&RestartDoc>,
    storage: Option<&[BindingDoc]>,
) {
    if let Some(e) = env_ {
        env(s, "env", e);
    }
    if let Some(p) = probe_ {
        probe(s, "probe", p, None);
    }
    if let Some(r) = restart_ {
        restart(s, "restart", r);
    }
    if let Some(b) = storage {
        bindings(s, "storage", b);
    }
}
