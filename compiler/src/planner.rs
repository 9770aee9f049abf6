//! Planning: turns checked objects into a [`Plan`], building each [`PodSpec`] from its
//! application's settings, the defaults, and the Instance's or group's overrides.

use crate::env_files::EnvFiles;
use crate::interpolate::GatewayAddr;
use crate::load::{Body, Object, Source};
use crate::model::StateDoc;
use crate::model::{
    chosen, AppType, ApplicationDoc, BindingDoc, Env, PolicyDoc, ProbeDoc, ProtocolDoc, RestartDoc,
};
use crate::model::{KubernetesDoc, QuantitiesDoc, ServiceTypeDoc, WatchDoc};
use crate::plan::{
    AcmeSpec, EntranceSpec, GatewaySpec, GroupSpec, HttpsSpec, InstancePlan, KubeFile, KubeSpec,
    Plan, ServiceType, StorageSpec, DEFAULT_CLAIM_SIZE, DEFAULT_HTTPS,
};
use crate::podspec::{
    AppKind, Command, EnvVar, Interface, Platform, PodSpec, Probe, ProbeAction, Protocol, Remote,
    Restart, RestartPolicy, Site, Stop, StorageBinding,
};
use crate::ports::DEFAULT_HTTP;
use crate::profiles::Selection;
use crate::refs::{is_referenced, protocol_of, Index};
use crate::rules;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// Default range of run-time ports.
pub const DEFAULT_HOST_PORTS: (u16, u16) = (30000, 31999);

/// The variable that tells a local app where its manifest file is.
pub const MANIFEST_DIR_VAR: &str = "LCC_MANIFEST_DIR";

/// What the planner needs to know about the cluster.
struct Ctx<'a> {
    /// The manifest files.
    sources: &'a [Source],
    /// Objects by name.
    index: Index<'a>,
    /// Storage name -> absolute directory.
    storage_dirs: HashMap<String, String>,
    /// The cluster's name.
    cluster: String,
    /// The variables of each object's `envFile:`.
    env_files: &'a EnvFiles,
    /// Every Gateway's discovery variables, in manifest order.
    discovery: Vec<EnvVar>,
    /// What comes up (`lcc up --profile`, names); `None`: everything.
    selection: Option<&'a Selection>,
    /// The cluster directory.
    cluster_dir: &'a Path,
}

/// Builds the plan of checked objects.
pub fn plan(
    cluster_dir: &Path,
    sources: &[Source],
    objects: &[Object],
    env_files: &EnvFiles,
    selection: Option<&Selection>,
) -> Plan {
    let storages = storages(cluster_dir, objects);
    let storage_dirs = storages
        .iter()
        .map(|s| (s.name.clone(), s.dir.clone()))
        .collect();
    let index = Index::for_plan(objects);
    let cluster = cluster_name(cluster_dir, objects);
    let ctx = Ctx {
        sources,
        index,
        storage_dirs,
        cluster: cluster.clone(),
        env_files,
        discovery: discovery(objects),
        selection,
        cluster_dir,
    };
    let mut plan = Plan {
        name: cluster,
        http: DEFAULT_HTTP.to_string(),
        host_ports: DEFAULT_HOST_PORTS,
        api_listen: None,
        peer_port: crate::plan::DEFAULT_PEER_PORT,
        https: None,
        instances: Vec::new(),
        groups: Vec::new(),
        unreferenced_apps: Vec::new(),
        gateways: Vec::new(),
        entrances: Vec::new(),
        storages,
        hosts: crate::hosts::specs(cluster_dir, objects),
        placements: Vec::new(),
        this_host: None,
        host_files: BTreeMap::new(),
    };
    plan.placements = crate::placement::placements(&plan.hosts, objects);
    for obj in objects {
        add(&ctx, &mut plan, objects, obj);
    }
    plan
}

/// Adds one object to the plan.
fn add(ctx: &Ctx<'_>, plan: &mut Plan, objects: &[Object], obj: &Object) {
    match &obj.body {
        Some(Body::Cluster(c)) => {
            if let Some(http) = &c.http {
                plan.http = http.clone();
            }
            plan.api_listen = c.api.as_ref().and_then(|a| a.listen.clone());
            if let Some(port) = c.peers.as_ref().and_then(|p| p.port) {
                plan.peer_port = rules::port(port).unwrap_or(crate::plan::DEFAULT_PEER_PORT);
            }
            plan.https = c.https.as_ref().map(|h| HttpsSpec {
                listen: h
                    .listen
                    .clone()
                    .unwrap_or_else(|| DEFAULT_HTTPS.to_string()),
                redirect: h.redirect.unwrap_or(false),
            });
            if let Some(range) = c
                .host_ports
                .as_deref()
                .and_then(|r| rules::port_range(r).ok())
            {
                plan.host_ports = range;
            }
        }
        Some(Body::Application(app)) if !is_referenced(objects, &obj.name) => {
            let ov = Overrides::default();
            plan.unreferenced_apps
                .push(pod_spec(ctx, obj, app, &obj.name, None, &ov));
        }
        Some(Body::Instance(_) | Body::Group(_)) if !ctx.service_up(&obj.name) => {}
        Some(Body::Gateway(_)) if !ctx.gateway_up(&obj.name) => {}
        Some(Body::Entrance(e)) if !ctx.gateway_up(e.gateway.as_deref().unwrap_or("")) => {}
        Some(Body::Instance(i)) => {
            let ov = Overrides {
                env_file: ctx.env_file(obj),
                env: i.env.as_ref(),
                probe: i.probe.as_ref(),
                restart: i.restart.as_ref(),
                storage: i.storage.as_deref(),
            };
            if let Some((app_obj, app)) = app_of(ctx, i.app.as_deref()) {
                let mut spec = pod_spec(ctx, app_obj, app, &obj.name, None, &ov);
                // A job runs once per time of its schedule: unless told otherwise, a run
                // that ends is not restarted.
                if i.schedule.is_some() && i.restart.is_none() && app.restart.is_none() {
                    spec.restart.policy = RestartPolicy::Never;
                }
                plan.instances.push(InstancePlan {
                    running: chosen(&i.state) != Some(StateDoc::Stopped),
                    depends_on: depends_on(ctx, obj),
                    schedule: i.schedule.clone(),
                    watch: watch(ctx, obj, i.watch.as_deref(), i.app.as_deref()),
                    spec,
                    kubernetes: kube_spec(ctx, app_obj, app, obj, i.kubernetes.as_ref()),
                });
            }
        }
        Some(Body::Group(g)) => {
            let ov = Overrides {
                env_file: ctx.env_file(obj),
                env: g.env.as_ref(),
                probe: g.probe.as_ref(),
                restart: g.restart.as_ref(),
                storage: g.storage.as_deref(),
            };
            if let Some((app_obj, app)) = app_of(ctx, g.app.as_deref()) {
                let template = pod_spec(ctx, app_obj, app, &obj.name, Some(&obj.name), &ov);
                let replicas = u32::try_from(g.replicas.unwrap_or(1)).unwrap_or(0);
                plan.groups.push(GroupSpec {
                    depends_on: depends_on(ctx, obj),
                    watch: watch(ctx, obj, g.watch.as_deref(), g.app.as_deref()),
                    name: obj.name.clone(),
                    replicas,
                    template,
                    kubernetes: kube_spec(ctx, app_obj, app, obj, g.kubernetes.as_ref()),
                });
            }
        }
        Some(Body::Gateway(g)) => {
            let protocol = match protocol_of(&ctx.index, obj) {
                Some(ProtocolDoc::Tcp) => Protocol::Tcp,
                _ => Protocol::Http,
            };
            plan.gateways.push(GatewaySpec {
                name: obj.name.clone(),
                address: g.address.clone().unwrap_or_else(|| "127.0.0.1".to_string()),
                port: g.port.and_then(|p| u16::try_from(p).ok()).unwrap_or(0),
                protocol,
                target: g.target.clone().unwrap_or_default(),
                interface: g.interface.clone().unwrap_or_default(),
                timeouts: gateway_timeouts(g.timeouts.as_ref()),
                trusted_proxies: g.trusted_proxies.clone().unwrap_or_default(),
            });
        }
        Some(Body::Entrance(e)) => plan.entrances.push(EntranceSpec {
            name: obj.name.clone(),
            gateway: e.gateway.clone().unwrap_or_default(),
            host: e.host.clone(),
            tls: e.tls.as_ref().filter(|t| t.acme.is_none()).map(|t| {
                lcc_core::proxy_config::CertFiles {
                    cert: absolute(ctx.cluster_dir, t.cert.as_deref().unwrap_or_default()),
                    key: absolute(ctx.cluster_dir, t.key.as_deref().unwrap_or_default()),
                }
            }),
            acme: e
                .tls
                .as_ref()
                .and_then(|t| t.acme.as_ref())
                .map(|a| AcmeSpec {
                    directory: a.directory.clone().unwrap_or_default(),
                    email: a.email.clone(),
                    ca: a.ca.as_deref().map(|c| absolute(ctx.cluster_dir, c)),
                }),
        }),
        _ => {}
    }
}

/// `path` (relative to the cluster directory, or absolute) made absolute.
fn absolute(cluster_dir: &Path, path: &str) -> std::path::PathBuf {
    let joined = cluster_dir.join(path);
    std::path::absolute(&joined).unwrap_or(joined)
}

/// A Gateway's `timeouts:` in milliseconds (checked already: a value that does not
/// parse is left out).
fn gateway_timeouts(
    doc: Option<&crate::model::GatewayTimeoutsDoc>,
) -> lcc_core::proxy_config::GatewayTimeouts {
    let ms = |v: &Option<String>| v.as_deref().and_then(|v| rules::duration(v).ok());
    lcc_core::proxy_config::GatewayTimeouts {
        connect_ms: doc.and_then(|d| ms(&d.connect)),
        response_ms: doc.and_then(|d| ms(&d.response)),
        idle_ms: doc.and_then(|d| ms(&d.idle)),
    }
}

/// The application object and document an Instance or group names.
fn app_of<'a>(ctx: &Ctx<'a>, name: Option<&str>) -> Option<(&'a Object, &'a ApplicationDoc)> {
    let obj = ctx.index.get("Application", name?)?;
    match &obj.body {
        Some(Body::Application(app)) => Some((obj, app)),
        _ => None,
    }
}

/// The cluster's name: the Cluster document's, else the directory's.
fn cluster_name(cluster_dir: &Path, objects: &[Object]) -> String {
    let named = objects.iter().find_map(|o| match &o.body {
        Some(Body::Cluster(c)) => c.name.clone(),
        _ => None,
    });
    named.unwrap_or_else(|| {
        let dir = cluster_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned());
        dir.unwrap_or_else(|| "cluster".to_string())
    })
}

/// Every Storage with its absolute directory.
fn storages(cluster_dir: &Path, objects: &[Object]) -> Vec<StorageSpec> {
    let mut list = Vec::new();
    for obj in objects {
        if let Some(Body::Storage(s)) = &obj.body {
            // Validation reported a path that cannot be placed; the plan is not built then.
            let dir = crate::storage::dir_of(cluster_dir, &obj.name, s.path.as_deref())
                .unwrap_or_else(|_| crate::storage::default_dir(cluster_dir, &obj.name));
            list.push(StorageSpec {
                name: obj.name.clone(),
                dir: dir.to_string_lossy().into_owned(),
                size: s
                    .size
                    .clone()
                    .unwrap_or_else(|| DEFAULT_CLAIM_SIZE.to_string()),
            });
        }
    }
    list
}

/// The Kubernetes settings of an Instance or group: its application's `kubernetes:`,
/// each field the Instance or group gives replacing the app's; file paths start at the
/// manifest that lists them.
fn kube_spec(
    ctx: &Ctx<'_>,
    app_obj: &Object,
    app: &ApplicationDoc,
    obj: &Object,
    over: Option<&KubernetesDoc>,
) -> KubeSpec {
    let base = app.kubernetes.as_ref();
    let (files, lister) = either(
        over.map(|k| (k, obj)),
        base.map(|k| (k, app_obj)),
        |(k, lister)| Some((k.files.as_ref()?, lister)),
    )
    .map_or((None, app_obj), |(files, lister)| (Some(files), lister));
    let dir = &ctx.sources[lister.file].dir;
    let resources = either(over, base, |k| k.resources.as_ref());
    let quantities = |q: Option<&QuantitiesDoc>| {
        let mut map = BTreeMap::new();
        if let Some(q) = q {
            for (name, value) in [("cpu", &q.cpu), ("memory", &q.memory)] {
                if let Some(value) = value {
                    map.insert(name.to_string(), value.clone());
                }
            }
        }
        map
    };
    let service_type = either(over, base, |k| chosen(&k.service_type)).map(|t| match t {
        ServiceTypeDoc::ClusterIP => ServiceType::ClusterIP,
        ServiceTypeDoc::NodePort => ServiceType::NodePort,
        ServiceTypeDoc::LoadBalancer => ServiceType::LoadBalancer,
    });
    KubeSpec {
        image: either(over, base, |k| k.image.clone()),
        command: either(over, base, |k| k.command.clone()),
        args: either(over, base, |k| k.args.clone()),
        files: files
            .into_iter()
            .flatten()
            .map(|path| KubeFile {
                path: path.clone(),
                source: dir.join(path).to_string_lossy().into_owned(),
            })
            .collect(),
        requests: quantities(resources.and_then(|r| r.requests.as_ref())),
        limits: quantities(resources.and_then(|r| r.limits.as_ref())),
        service_type,
    }
}

/// A field of the Instance's or group's own value (`over`), else of its application's.
fn either<D: Copy, T>(over: Option<D>, base: Option<D>, get: impl Fn(D) -> Option<T>) -> Option<T> {
    over.and_then(&get).or_else(|| base.and_then(&get))
}

impl Ctx<'_> {
    /// Whether an Instance or group comes up.
    fn service_up(&self, name: &str) -> bool {
        self.selection.is_none_or(|s| s.services.contains(name))
    }

    /// Whether a Gateway comes up.
    fn gateway_up(&self, name: &str) -> bool {
        self.selection.is_none_or(|s| s.gateways.contains(name))
    }

    /// The variables of an object's `envFile:`.
    fn env_file(&self, obj: &Object) -> &[(String, String)] {
        obj.label()
            .and_then(|label| self.env_files.get(&label))
            .map_or(&[], Vec::as_slice)
    }
}

/// What an Instance or group overrides of its application.
#[derive(Debug, Default)]
struct Overrides<'a> {
    /// Its `envFile:` variables, merged by key over the app's env.
    env_file: &'a [(String, String)],
    /// Merged by key over the app's env.
    env: Option<&'a Env>,
    /// Replaces the app's probe.
    probe: Option<&'a ProbeDoc>,
    /// Replaces the app's restart policy.
    restart: Option<&'a RestartDoc>,
    /// Replaces the app's storage bindings.
    storage: Option<&'a [BindingDoc]>,
}

/// Builds the PodSpec of one instance (or template) of an application.
fn pod_spec(
    ctx: &Ctx<'_>,
    app_obj: &Object,
    app: &ApplicationDoc,
    instance: &str,
    group: Option<&str>,
    ov: &Overrides<'_>,
) -> PodSpec {
    let manifest_dir = &ctx.sources[app_obj.file].dir;
    let kind = match chosen(&app.app_type) {
        Some(AppType::Static) => AppKind::Static,
        Some(AppType::Remote) => AppKind::Remote,
        _ => AppKind::Local,
    };
    PodSpec {
        instance: instance.to_string(),
        app: app_obj.name.clone(),
        group: group.map(str::to_string),
        kind,
        platforms: platforms(app),
        env: env(
            kind,
            manifest_dir,
            &ctx.discovery,
            [
                ctx.env_file(app_obj),
                app.local.as_ref().map_or(&[], |l| l.env.0.as_slice()),
                ov.env_file,
                ov.env.map_or(&[], |e| e.0.as_slice()),
            ],
        ),
        interfaces: interfaces(app),
        probe: ov.probe.or(app.probe.as_ref()).map(probe),
        restart: restart(ov.restart.or(app.restart.as_ref())),
        stop: stop(app),
        storage: bindings(ctx, ov.storage.unwrap_or(&app.storage)),
        site: site(app, manifest_dir),
        remote: app
            .remote
            .as_ref()
            .and_then(|r| r.host.clone())
            .map(|host| Remote { host }),
    }
}

/// The platforms of a local app.
fn platforms(app: &ApplicationDoc) -> Vec<Platform> {
    let Some(local) = &app.local else {
        return Vec::new();
    };
    local
        .platforms
        .iter()
        .map(|p| Platform {
            os: p.os.clone().unwrap_or_default(),
            arch: p.arch.0.clone(),
            run: match (&p.command, &p.shell) {
                (Some(argv), _) => Command::Argv(argv.clone()),
                (None, shell) => Command::Shell(shell.clone().unwrap_or_default()),
            },
        })
        .collect()
}

/// Environment: `LCC_MANIFEST_DIR` and the gateways' discovery variables for local
/// apps, then the app's `envFile:` and
/// `env`, then the Instance's or group's (a key already set keeps its place and takes
/// the new value).
fn env(
    kind: AppKind,
    manifest_dir: &Path,
    discovery: &[EnvVar],
    layers: [&[(String, String)]; 4],
) -> Vec<EnvVar> {
    let mut vars: Vec<EnvVar> = Vec::new();
    if kind == AppKind::Local {
        let value = manifest_dir.to_string_lossy().into_owned();
        vars.push(EnvVar {
            name: MANIFEST_DIR_VAR.to_string(),
            value,
        });
        vars.extend(discovery.iter().cloned());
    }
    for (name, value) in layers.into_iter().flatten() {
        match vars.iter_mut().find(|v| &v.name == name) {
            Some(var) => var.value = value.clone(),
            None => vars.push(EnvVar {
                name: name.clone(),
                value: value.clone(),
            }),
        }
    }
    vars
}

/// The `dependsOn` of an Instance or group: its own, else its app's.
fn depends_on(ctx: &Ctx<'_>, obj: &Object) -> Vec<crate::plan::Dependency> {
    crate::depends::effective(&ctx.index, obj)
        .map(|(_, list)| crate::depends::planned(list))
        .unwrap_or_default()
}

/// The `watch` of an Instance or group: its own, else its app's; paths made absolute
/// from the manifest that lists them.
fn watch(
    ctx: &Ctx<'_>,
    obj: &Object,
    own: Option<&[WatchDoc]>,
    app: Option<&str>,
) -> Vec<crate::plan::WatchSpec> {
    let (at, list) = match own {
        Some(list) => (obj, list),
        None => match app_of(ctx, app) {
            Some((app_obj, app)) => match app.watch.as_deref() {
                Some(list) => (app_obj, list),
                None => return Vec::new(),
            },
            None => return Vec::new(),
        },
    };
    let dir = &ctx.sources[at.file].dir;
    list.iter()
        .filter_map(|w| {
            let path = rules::lexical_join(dir, w.path.as_deref()?);
            Some(crate::plan::WatchSpec {
                path: path.to_string_lossy().into_owned(),
                ignore: w.ignore.clone(),
            })
        })
        .collect()
}

/// The discovery variables of every Gateway ([`discovery`](crate::discovery)).
fn discovery(objects: &[Object]) -> Vec<EnvVar> {
    objects
        .iter()
        .filter_map(|obj| match &obj.body {
            Some(Body::Gateway(g)) => {
                let port = g.port.map(|p| p.to_string()).unwrap_or_default();
                let addr = GatewayAddr::new(g.address.as_deref(), &port);
                Some(crate::discovery::vars(&obj.name, &addr))
            }
            _ => None,
        })
        .flatten()
        .collect()
}

/// The interfaces.
fn interfaces(app: &ApplicationDoc) -> Vec<Interface> {
    app.interfaces
        .iter()
        .map(|i| Interface {
            name: i.name.clone(),
            protocol: match chosen(&i.protocol) {
                Some(ProtocolDoc::Tcp) => Protocol::Tcp,
                _ => Protocol::Http,
            },
            port: i.port.and_then(|p| u16::try_from(p).ok()),
        })
        .collect()
}

/// A duration field, or its default.
fn ms(value: Option<&String>, default: u64) -> u64 {
    value
        .and_then(|v| rules::duration(v).ok())
        .unwrap_or(default)
}

/// A probe with defaults: initialDelay 0s, period 2s, timeout 1s, failureThreshold 3.
fn probe(p: &ProbeDoc) -> Probe {
    let action = match (&p.http, &p.tcp, &p.exec) {
        (Some(http), _, _) => ProbeAction::Http {
            interface: http.interface.clone(),
            path: http.path.clone().unwrap_or_else(|| "/".to_string()),
        },
        (None, Some(tcp), _) => ProbeAction::Tcp {
            interface: tcp.interface.clone(),
        },
        (None, None, exec) => ProbeAction::Exec {
            command: exec.clone().unwrap_or_default(),
        },
    };
    Probe {
        action,
        initial_delay_ms: ms(p.initial_delay.as_ref(), 0),
        period_ms: ms(p.period.as_ref(), 2_000),
        timeout_ms: ms(p.timeout.as_ref(), 1_000),
        failure_threshold: p
            .failure_threshold
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(3),
    }
}

/// A restart policy with defaults: always, 5 retries, backoff 1s to 1m.
fn restart(r: Option<&RestartDoc>) -> Restart {
    let policy = match r.and_then(|r| chosen(&r.policy)) {
        Some(PolicyDoc::OnFailure) => RestartPolicy::OnFailure,
        Some(PolicyDoc::Never) => RestartPolicy::Never,
        _ => RestartPolicy::Always,
    };
    let backoff = r.and_then(|r| r.backoff.as_ref());
    Restart {
        policy,
        max_retries: r
            .and_then(|r| r.max_retries)
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(5),
        backoff_initial_ms: ms(backoff.and_then(|b| b.initial.as_ref()), 1_000),
        backoff_max_ms: ms(backoff.and_then(|b| b.max.as_ref()), 60_000),
    }
}

/// How to stop, with defaults: TERM, 10s.
fn stop(app: &ApplicationDoc) -> Stop {
    let stop = app.stop.as_ref();
    Stop {
        signal: stop
            .and_then(|s| s.signal.clone())
            .unwrap_or_else(|| "TERM".to_string()),
        timeout_ms: ms(stop.and_then(|s| s.timeout.as_ref()), 10_000),
    }
}

/// Storage bindings with their directories.
fn bindings(ctx: &Ctx<'_>, list: &[BindingDoc]) -> Vec<StorageBinding> {
    list.iter()
        .map(|b| StorageBinding {
            storage: b.storage.clone(),
            path: b.path.clone(),
            dir: ctx
                .storage_dirs
                .get(&b.storage)
                .cloned()
                .unwrap_or_default(),
            cluster: ctx.cluster.clone(),
        })
        .collect()
}

/// A static app's site; a relative archive path starts at the manifest's directory.
fn site(app: &ApplicationDoc, manifest_dir: &Path) -> Option<Site> {
    let s = app.static_site.as_ref()?;
    let archive = s.archive.clone().unwrap_or_default();
    let archive = if archive.contains("://") || Path::new(&archive).is_absolute() {
        archive
    } else {
        manifest_dir
            .join(archive.trim_start_matches("./"))
            .to_string_lossy()
            .into_owned()
    };
    Some(Site {
        archive,
        sha256: s.sha256.as_ref().map(|h| h.to_ascii_lowercase()),
        root: s.root.clone(),
        spa: s.spa,
    })
}

#[cfg(test)]
mod tests {
    use crate::podspec::{AppKind, Command, ProbeAction, Protocol, RestartPolicy};
    use crate::{load_cluster, load_files, Plan};
    use std::path::{Path, PathBuf};

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/valid")
            .join(name)
    }

    fn load(name: &str) -> (Plan, PathBuf) {
        let dir = fixture(name);
        let plan = load_cluster(&dir).unwrap_or_else(|d| panic!("{d}"));
        (plan, std::fs::canonicalize(dir).expect("fixture dir"))
    }

    #[test]
    fn local_cluster_plan() {
        let (plan, dir) = load("local");
        assert_eq!(plan.name, "shop");
        assert_eq!(plan.http, "127.0.0.1:18080");
        assert_eq!(plan.host_ports, (40000, 40999));
        let storages: Vec<_> = plan
            .storages
            .iter()
            .map(|s| (s.name.as_str(), s.dir.clone()))
            .collect();
        let dir_s = |p: PathBuf| p.to_string_lossy().into_owned();
        assert_eq!(
            storages,
            [
                ("uploads", dir_s(dir.join(".lcc/storage/uploads"))),
                ("cache", dir_s(dir.join("var/cache")))
            ]
        );

        let group = &plan.groups[0];
        assert_eq!((group.name.as_str(), group.replicas), ("web", 1));
        let t = &group.template;
        assert_eq!(
            (t.instance.as_str(), t.app.as_str(), t.group.as_deref()),
            ("web", "web", Some("web"))
        );
        assert_eq!(t.kind, AppKind::Local);
        assert_eq!(t.platforms[0].arch, ["x86_64", "aarch64"]);
        assert!(
            matches!(&t.platforms[0].run, Command::Argv(argv) if argv[3] == "${LCC_PORT_HTTP}")
        );
        assert!(matches!(&t.platforms[1].run, Command::Shell(s) if s.starts_with("exec python3")));
        let env: Vec<_> = t
            .env
            .iter()
            .map(|v| (v.name.as_str(), v.value.as_str()))
            .collect();
        let manifest_dir = dir.to_string_lossy();
        assert_eq!(
            env,
            [
                ("LCC_MANIFEST_DIR", manifest_dir.as_ref()),
                ("LCC_GATEWAY_WEB", "127.0.0.1:19000"),
                ("LCC_GATEWAY_WEB_HOST", "127.0.0.1"),
                ("LCC_GATEWAY_WEB_PORT", "19000"),
                ("GREETING", "hello"),
                ("MODE", "staging"),
                ("EXTRA", "1")
            ]
        );
        assert_eq!(t.interfaces[1].port, Some(18081));
        assert_eq!(t.interfaces[1].protocol, Protocol::Tcp);
        let probe = t.probe.as_ref().expect("probe");
        assert_eq!(
            probe.action,
            ProbeAction::Http {
                interface: "http".into(),
                path: "/health".into()
            }
        );
        assert_eq!(
            (
                probe.initial_delay_ms,
                probe.period_ms,
                probe.timeout_ms,
                probe.failure_threshold
            ),
            (0, 500, 1000, 3)
        );
        assert_eq!(t.restart.policy, RestartPolicy::OnFailure);
        assert_eq!(
            (
                t.restart.max_retries,
                t.restart.backoff_initial_ms,
                t.restart.backoff_max_ms
            ),
            (2, 2000, 60_000)
        );
        assert_eq!((t.stop.signal.as_str(), t.stop.timeout_ms), ("INT", 3000));
        assert_eq!(t.storage[0].path, "data/uploads");
        assert_eq!(t.storage[0].dir, dir_s(dir.join(".lcc/storage/uploads")));

        let worker = &plan.instances[0];
        assert!(!worker.running);
        let w = &worker.spec;
        assert_eq!(
            (w.instance.as_str(), w.app.as_str(), w.group.as_deref()),
            ("worker-debug", "worker", None)
        );
        assert_eq!(
            w.probe.as_ref().map(|p| p.action.clone()),
            Some(ProbeAction::Exec {
                command: vec!["true".into()]
            })
        );
        assert_eq!(
            (
                w.restart.policy,
                w.restart.max_retries,
                w.restart.backoff_initial_ms
            ),
            (RestartPolicy::Always, 5, 1000)
        );
        assert_eq!(
            (w.stop.signal.as_str(), w.stop.timeout_ms),
            ("TERM", 10_000)
        );
        assert_eq!(w.storage[0].storage, "cache");

        let unreferenced: Vec<_> = plan
            .unreferenced_apps
            .iter()
            .map(|s| s.instance.as_str())
            .collect();
        assert_eq!(unreferenced, ["tool"]);
        assert_eq!(plan.gateways[0].protocol, Protocol::Http);
        assert_eq!(
            (plan.gateways[0].address.as_str(), plan.gateways[0].port),
            ("127.0.0.1", 19000)
        );
        assert_eq!(
            (
                plan.entrances[0].name.as_str(),
                plan.entrances[0].gateway.as_str()
            ),
            ("shop", "web")
        );
    }

    #[test]
    fn static_cluster_plan() {
        let (plan, dir) = load("static");
        assert_eq!(plan.name, "static");
        assert_eq!(plan.http, "127.0.0.1:8080");
        assert_eq!(plan.host_ports, (30000, 31999));
        let docs = &plan.instances[0].spec;
        assert_eq!(docs.kind, AppKind::Static);
        assert!(docs.env.is_empty());
        let site = docs.site.as_ref().expect("site");
        assert_eq!(site.archive, dir.join("site.tar.gz").to_string_lossy());
        assert_eq!(
            site.sha256.as_deref(),
            Some("0b968c5e302c1d6f049ef10f043b3f7cd734f272afb5fd955d5a0e49a7da4773")
        );
        assert_eq!((site.root.as_deref(), site.spa), (Some("public"), true));
        let mirror = &plan.unreferenced_apps[0];
        let site = mirror.site.as_ref().expect("site");
        assert_eq!(
            (site.archive.as_str(), site.spa),
            ("https://example.com/site.zip", false)
        );
        assert_eq!(mirror.interfaces[0].port, Some(19101));
    }

    #[test]
    fn remote_cluster_plan() {
        let (plan, _) = load("remote");
        let search = &plan.instances[0].spec;
        assert_eq!(search.kind, AppKind::Remote);
        assert_eq!(
            search.remote.as_ref().map(|r| r.host.as_str()),
            Some("192.0.2.10")
        );
        let protocols: Vec<_> = plan
            .gateways
            .iter()
            .map(|g| (g.name.as_str(), g.protocol, g.address.as_str()))
            .collect();
        assert_eq!(
            protocols,
            [
                ("search", Protocol::Http, "127.0.0.1"),
                ("search-transport", Protocol::Tcp, "0.0.0.0")
            ]
        );
    }

    #[test]
    fn files_use_the_first_file_dir_as_cluster_dir() {
        let file = fixture("remote").join("remote.yaml");
        let plan = load_files(&[file]).unwrap_or_else(|d| panic!("{d}"));
        assert_eq!(plan.name, "remote");
        assert_eq!(plan.instances.len(), 1);
    }

    #[test]
    fn demo_example_plans() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/demo");
        let plan = load_cluster(&dir).unwrap_or_else(|d| panic!("{d}"));
        assert_eq!(plan.name, "demo");
        let groups: Vec<_> = plan
            .groups
            .iter()
            .map(|g| (g.name.as_str(), g.replicas))
            .collect();
        assert_eq!(groups, [("hello", 3), ("notes", 1)]);
        assert_eq!(plan.gateways.len(), 4);
    }
}
