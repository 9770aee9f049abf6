//! Instances and groups -> Deployments, Jobs and CronJobs: the pod template (one
//! container with named ports, env, probes, resources, mounts) and the rollout.
//!
//! - a group: `replicas`, rolling update with maxUnavailable 0 and maxSurge 1, as the
//!   daemon rolls a group (one new replica Ready before an old one goes);
//! - an Instance: 1 replica (0 when `state: stopped`), `Recreate`, since the daemon
//!   never runs two copies of one Instance;
//! - storage bindings stay one directory shared by every replica (a claim per Storage,
//!   see `storage`), so a bound group stays a Deployment, not a StatefulSet;
//! - an Instance that is not restarted after every exit (`restart: never` or
//!   `on-failure`) is a job: a `Job` with that `restartPolicy` (`backoffLimit` 0 for
//!   never, maxRetries for on-failure), and with a `schedule` a `CronJob`
//!   (`concurrencyPolicy: Forbid`: never two runs at once, as the daemon runs it).
//!   `state: stopped` suspends it.

use crate::error::Error;
use crate::meta::Ctx;
use crate::vars::{argv_item, literal, seconds, MANIFEST_MOUNT, WORK_DIR};
use crate::{files, names, static_site, Builder, Phase};
use lcc_compiler::interpolate::GatewayAddr;
use lcc_compiler::podspec::{AppKind, Command, Probe, ProbeAction, RestartPolicy};
use lcc_compiler::{discovery, GroupSpec, InstancePlan, KubeSpec, PodSpec, MANIFEST_DIR_VAR};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The first container port given to an interface whose port lcc allocates at run
/// time (fixed ports are kept).
pub const FIRST_PORT: u16 = 8080;

/// An Instance or a group, as one Deployment.
#[derive(Debug, Clone, Copy)]
pub struct Workload<'a> {
    /// Instance or group name: the Deployment's name.
    pub name: &'a str,
    /// The spec (a group's template).
    pub spec: &'a PodSpec,
    /// Its Kubernetes settings.
    pub kube: &'a KubeSpec,
    /// Desired replicas.
    pub replicas: u32,
    /// A group (rolling update) or an Instance (recreate).
    pub group: bool,
    /// An Instance's cron schedule.
    pub schedule: Option<&'a str>,
    /// What it waits for under lcc.
    pub depends_on: &'a [lcc_compiler::Dependency],
}

/// The Kubernetes object a workload becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Kept running: restarted after every exit, rolled on change.
    Deployment,
    /// Run to completion, restarted per its policy.
    Job,
    /// A Job at each time of a schedule.
    CronJob,
}

impl<'a> Workload<'a> {
    /// A group's Deployment.
    pub fn group(g: &'a GroupSpec) -> Self {
        Workload {
            name: &g.name,
            spec: &g.template,
            kube: &g.kubernetes,
            replicas: g.replicas,
            group: true,
            schedule: None,
            depends_on: &g.depends_on,
        }
    }

    /// An Instance's Deployment.
    pub fn instance(i: &'a InstancePlan) -> Self {
        Workload {
            name: &i.spec.instance,
            spec: &i.spec,
            kube: &i.kubernetes,
            replicas: u32::from(i.running),
            group: false,
            schedule: i.schedule.as_deref(),
            depends_on: &i.depends_on,
        }
    }

    /// What it becomes: a group is always a Deployment (its replicas are kept up).
    pub fn kind(&self) -> Kind {
        if self.group {
            Kind::Deployment
        } else if self.schedule.is_some() {
            Kind::CronJob
        } else if self.spec.restart.policy == RestartPolicy::Always {
            Kind::Deployment
        } else {
            Kind::Job
        }
    }

    /// `InstanceGroup/x` or `Instance/x`, for messages.
    pub fn owner(&self) -> String {
        let kind = if self.group {
            "InstanceGroup"
        } else {
            "Instance"
        };
        format!("{kind}/{}", self.name)
    }
}

/// The container port of each interface: its fixed port, else the next free one from
/// [`FIRST_PORT`]; keyed by interface name.
pub fn container_ports(spec: &PodSpec) -> BTreeMap<String, u16> {
    let fixed: Vec<u16> = spec.interfaces.iter().filter_map(|i| i.port).collect();
    let mut next = FIRST_PORT;
    let mut ports = BTreeMap::new();
    for iface in &spec.interfaces {
        let port = iface.port.unwrap_or_else(|| {
            while fixed.contains(&next) || ports.values().any(|p| *p == next) {
                next += 1;
            }
            next
        });
        ports.insert(iface.name.clone(), port);
    }
    ports
}

/// Adds the Deployment of a workload (and its ConfigMaps); a remote app has none.
pub fn add(ctx: &Ctx<'_>, w: &Workload<'_>, out: &mut Builder) -> Result<(), Error> {
    let spec = w.spec;
    if spec.kind == AppKind::Remote {
        return Ok(());
    }
    names::dns_label(&format!("name of {}", w.owner()), w.name)?;
    for iface in &spec.interfaces {
        names::port_name(&format!("interface name of {}", w.owner()), &iface.name)?;
    }
    let ports = container_ports(spec);
    let mut pod = PodParts::default();
    let mut container = Map::new();
    container.insert("name".into(), json!(spec.app));
    match spec.kind {
        AppKind::Static => static_site::add(ctx, w, &ports, &mut pod, &mut container, out)?,
        _ => local_container(ctx, w, &ports, &mut container)?,
    }
    container.insert("workingDir".into(), json!(WORK_DIR));
    container.insert("env".into(), Value::Array(env(ctx, spec, &ports)));
    let port_list: Vec<Value> = spec
        .interfaces
        .iter()
        .map(|i| json!({"name": i.name, "containerPort": ports[&i.name], "protocol": "TCP"}))
        .collect();
    if !port_list.is_empty() {
        container.insert("ports".into(), Value::Array(port_list));
    }
    if let Some(probe) = &spec.probe {
        probes(w, probe, &mut container, out);
    }
    if let Some(resources) = resources(w.kube) {
        container.insert("resources".into(), resources);
    }
    if let Some((volume, mount)) = files::add(ctx, w, out)? {
        pod.volumes.push(volume);
        pod.mounts.push(mount);
    }
    for (i, binding) in spec.storage.iter().enumerate() {
        let volume = format!("storage-{i}");
        pod.volumes.push(json!({
            "name": volume,
            "persistentVolumeClaim": {"claimName": binding.storage},
        }));
        pod.mounts.push(json!({
            "name": volume,
            "mountPath": format!("{WORK_DIR}/{}", binding.path),
        }));
    }
    if !pod.mounts.is_empty() {
        container.insert("volumeMounts".into(), Value::Array(pod.mounts));
    }
    warnings(w, out);
    let mut pod_spec = Map::new();
    pod_spec.insert("containers".into(), json!([Value::Object(container)]));
    if !pod.init.is_empty() {
        pod_spec.insert("initContainers".into(), Value::Array(pod.init));
    }
    pod_spec.insert(
        "terminationGracePeriodSeconds".into(),
        json!(seconds(spec.stop.timeout_ms)),
    );
    if !pod.volumes.is_empty() {
        pod_spec.insert("volumes".into(), Value::Array(pod.volumes));
    }
    let template = json!({
        "metadata": {"labels": ctx.labels(&spec.app, w.name)},
        "spec": Value::Object(pod_spec),
    });
    let (kind, object) = match w.kind() {
        Kind::Deployment => ("Deployment", deployment(ctx, w, template)),
        Kind::Job => ("Job", job(ctx, w, template)),
        Kind::CronJob => ("CronJob", cron_job(ctx, w, template)?),
    };
    out.push(Phase::Workload, kind, w.name, object);
    Ok(())
}

fn deployment(ctx: &Ctx<'_>, w: &Workload<'_>, template: Value) -> Value {
    let strategy = if w.group {
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}})
    } else {
        json!({"type": "Recreate"})
    };
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": ctx.metadata(w.name, &w.spec.app, w.name),
        "spec": {
            "replicas": w.replicas,
            "selector": {"matchLabels": ctx.selector(w.name)},
            "strategy": strategy,
            "template": template,
        },
    })
}

/// A Job's spec: the pod restarted per the Instance's policy, `backoffLimit` its
/// retries (none for never).
fn job_spec(w: &Workload<'_>, mut template: Value) -> Value {
    let restart = &w.spec.restart;
    let (policy, retries) = match restart.policy {
        // maxRetries counts every failed run; backoffLimit, the runs after the first.
        RestartPolicy::OnFailure => ("OnFailure", restart.max_retries.max(1) - 1),
        _ => ("Never", 0),
    };
    template["spec"]["restartPolicy"] = json!(policy);
    json!({"backoffLimit": retries, "template": template})
}

fn job(ctx: &Ctx<'_>, w: &Workload<'_>, template: Value) -> Value {
    let mut spec = job_spec(w, template);
    if w.replicas == 0 {
        spec["suspend"] = json!(true);
    }
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": ctx.metadata(w.name, &w.spec.app, w.name),
        "spec": spec,
    })
}

fn cron_job(ctx: &Ctx<'_>, w: &Workload<'_>, template: Value) -> Result<Value, Error> {
    let schedule = w.schedule.unwrap_or_default();
    if schedule.split_whitespace().count() != 5 {
        return Err(Error::Schedule {
            instance: w.name.to_string(),
            schedule: schedule.to_string(),
        });
    }
    let mut spec = json!({
        "schedule": schedule,
        "concurrencyPolicy": "Forbid",
        "jobTemplate": {"spec": job_spec(w, template)},
    });
    if w.replicas == 0 {
        spec["suspend"] = json!(true);
    }
    Ok(json!({
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": ctx.metadata(w.name, &w.spec.app, w.name),
        "spec": spec,
    }))
}

/// What the pod template gathers besides the main container.
#[derive(Debug, Default)]
pub struct PodParts {
    /// Init containers.
    pub init: Vec<Value>,
    /// Pod volumes.
    pub volumes: Vec<Value>,
    /// The main container's mounts.
    pub mounts: Vec<Value>,
}

/// The image of a workload: `--image APP=IMAGE`, else `kubernetes.image`.
pub fn image<'a>(ctx: &'a Ctx<'_>, w: &'a Workload<'_>) -> Option<&'a str> {
    let app = &w.spec.app;
    ctx.options
        .images
        .get(app)
        .map(String::as_str)
        .or(w.kube.image.as_deref())
}

/// The `kubernetes.command`/`args` of the workload into `container`, with the variables
/// the pod knows expanded; false when it sets neither (the app's own command is used).
pub(crate) fn kube_argv(
    w: &Workload<'_>,
    ports: &BTreeMap<String, u16>,
    container: &mut Map<String, Value>,
) -> bool {
    if w.kube.command.is_none() && w.kube.args.is_none() {
        return false;
    }
    let vars = known_vars(w.spec, ports);
    let translate = |argv: &[String]| -> Value {
        Value::Array(argv.iter().map(|a| json!(argv_item(a, &vars))).collect())
    };
    if let Some(command) = &w.kube.command {
        container.insert("command".into(), translate(command));
    }
    if let Some(args) = &w.kube.args {
        container.insert("args".into(), translate(args));
    }
    true
}

/// Image, command and args of a local app's container.
fn local_container(
    ctx: &Ctx<'_>,
    w: &Workload<'_>,
    ports: &BTreeMap<String, u16>,
    container: &mut Map<String, Value>,
) -> Result<(), Error> {
    let app = &w.spec.app;
    let image = image(ctx, w).ok_or_else(|| Error::NoImage { app: app.clone() })?;
    container.insert("image".into(), json!(image));
    if kube_argv(w, ports, container) {
        return Ok(());
    }
    let vars = known_vars(w.spec, ports);
    let translate = |argv: &[String]| -> Value {
        Value::Array(argv.iter().map(|a| json!(argv_item(a, &vars))).collect())
    };
    let linux = w.spec.platforms.iter().find(|p| p.os == "linux");
    let platform = linux.ok_or_else(|| Error::NoLinuxCommand { app: app.clone() })?;
    let command = match &platform.run {
        Command::Argv(argv) => translate(argv),
        // `sh` expands the script's own variables at run time, as the pod's `sh -c` does.
        Command::Shell(script) => json!(["sh", "-c", literal(script)]),
    };
    container.insert("command".into(), command);
    Ok(())
}

/// `LCC_PORT_<IFACE>` -> container port.
fn port_vars(spec: &PodSpec, ports: &BTreeMap<String, u16>) -> BTreeMap<String, u16> {
    spec.interfaces
        .iter()
        .map(|i| (i.env_name(), ports[&i.name]))
        .collect()
}

/// The variables whose value the export fixes, for command items: the ports, and
/// `LCC_MANIFEST_DIR` of a local app.
pub fn known_vars(spec: &PodSpec, ports: &BTreeMap<String, u16>) -> BTreeMap<String, String> {
    let mut vars: BTreeMap<String, String> = port_vars(spec, ports)
        .into_iter()
        .map(|(name, port)| (name, port.to_string()))
        .collect();
    if spec.env.iter().any(|v| v.name == MANIFEST_DIR_VAR) {
        vars.insert(MANIFEST_DIR_VAR.to_string(), MANIFEST_MOUNT.to_string());
    }
    vars
}

/// The container's environment: the spec's (values passed as they are,
/// `LCC_MANIFEST_DIR` pointing at the files mount), then what the pod adds: the
/// instance and app from the downward API, the cluster, the ports.
fn env(ctx: &Ctx<'_>, spec: &PodSpec, ports: &BTreeMap<String, u16>) -> Vec<Value> {
    let mut list = Vec::new();
    // A gateway is reached at its Service in Kubernetes, named after it.
    let discovery: BTreeMap<String, String> = ctx
        .plan
        .gateways
        .iter()
        .flat_map(|g| {
            let addr = GatewayAddr {
                host: g.name.clone(),
                port: g.port.to_string(),
            };
            discovery::vars(&g.name, &addr)
        })
        .map(|v| (v.name, v.value))
        .collect();
    for var in &spec.env {
        let value = if var.name == MANIFEST_DIR_VAR {
            MANIFEST_MOUNT.to_string()
        } else if let Some(service) = discovery.get(&var.name) {
            service.clone()
        } else {
            literal(&var.value)
        };
        list.push(json!({"name": var.name, "value": value}));
    }
    list.push(json!({
        "name": "LCC_INSTANCE",
        "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
    }));
    list.push(json!({
        "name": "LCC_APP",
        "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app.kubernetes.io/name']"}},
    }));
    list.push(json!({"name": "LCC_CLUSTER", "value": ctx.plan.name}));
    // the address an app binds to be reached (docs/hosts.md): the pod's own
    list.push(json!({
        "name": "LCC_HOST_ADDRESS",
        "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}},
    }));
    for (name, port) in port_vars(spec, ports) {
        list.push(json!({"name": name, "value": port.to_string()}));
    }
    list
}

/// The probe as a readinessProbe (one miss and the pod leaves its Services, as an
/// instance leaves its gateways) and a livenessProbe (`failureThreshold` misses in a
/// row and the container restarts).
fn probes(w: &Workload<'_>, probe: &Probe, container: &mut Map<String, Value>, out: &mut Builder) {
    let (key, handler) = match &probe.action {
        ProbeAction::Http { interface, path } => {
            ("httpGet", json!({"path": path, "port": interface}))
        }
        ProbeAction::Tcp { interface } => ("tcpSocket", json!({"port": interface})),
        ProbeAction::Exec { command } => {
            let argv: Vec<String> = command.iter().map(|a| literal(a)).collect();
            ("exec", json!({"command": argv}))
        }
    };
    for (field, ms) in [
        ("initialDelay", probe.initial_delay_ms),
        ("period", probe.period_ms),
        ("timeout", probe.timeout_ms),
    ] {
        if ms % 1000 != 0 {
            out.warn(format!(
                "{}: probe {field} {ms}ms is rounded up to {}s (Kubernetes counts whole seconds)",
                w.owner(),
                seconds(ms)
            ));
        }
    }
    let make = |failure_threshold: u32| {
        let mut p = Map::new();
        p.insert(key.into(), handler.clone());
        p.insert(
            "initialDelaySeconds".into(),
            json!(seconds(probe.initial_delay_ms)),
        );
        p.insert(
            "periodSeconds".into(),
            json!(seconds(probe.period_ms).max(1)),
        );
        p.insert(
            "timeoutSeconds".into(),
            json!(seconds(probe.timeout_ms).max(1)),
        );
        p.insert("successThreshold".into(), json!(1));
        p.insert("failureThreshold".into(), json!(failure_threshold));
        Value::Object(p)
    };
    container.insert("readinessProbe".into(), make(1));
    container.insert("livenessProbe".into(), make(probe.failure_threshold));
}

/// `resources` from `kubernetes.resources`, if any.
fn resources(kube: &KubeSpec) -> Option<Value> {
    let mut map = Map::new();
    if !kube.requests.is_empty() {
        map.insert("requests".into(), json!(kube.requests));
    }
    if !kube.limits.is_empty() {
        map.insert("limits".into(), json!(kube.limits));
    }
    (!map.is_empty()).then_some(Value::Object(map))
}

/// What a Deployment cannot say about restarts (a job's policy carries over), and what
/// Kubernetes cannot say about stopping.
fn warnings(w: &Workload<'_>, out: &mut Builder) {
    let spec = w.spec;
    let policy = match spec.restart.policy {
        RestartPolicy::Always => None,
        RestartPolicy::OnFailure => Some("on-failure"),
        RestartPolicy::Never => Some("never"),
    };
    if let Some(policy) = policy.filter(|_| w.kind() == Kind::Deployment) {
        out.warn(format!(
            "{}: restart policy `{policy}` cannot carry over: a Deployment restarts its container after every exit",
            w.owner()
        ));
    }
    if !w.depends_on.is_empty() {
        let on: Vec<&str> = w.depends_on.iter().map(|d| d.target.as_str()).collect();
        out.warn(format!(
            "{}: dependsOn ({}) cannot carry over: Kubernetes starts pods in any order",
            w.owner(),
            on.join(", ")
        ));
    }
    if spec.stop.signal != "TERM" {
        out.warn(format!(
            "{}: stop signal {} cannot carry over: Kubernetes stops a container with TERM, then KILL after terminationGracePeriodSeconds",
            w.owner(),
            spec.stop.signal
        ));
    }
}
