//! lcc-export: turns a cluster's [`Plan`] into the Kubernetes objects an operator would
//! write by hand (docs/kubernetes.md is the mapping, field by field).
//!
//! [`export`] builds every object in memory, or fails with an [`Error`] before anything
//! is written; [`Export`] then gives one YAML stream or one document per object, the
//! same bytes for the same input, plus the warnings about what cannot carry over.

mod error;
mod files;
mod meta;
mod names;
mod route;
mod service;
mod static_site;
mod storage;
mod vars;
mod workload;
mod yaml;

pub use error::Error;

use lcc_compiler::Plan;
use serde_json::Value;
use std::collections::BTreeMap;

/// How entrances become routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IngressMode {
    /// `HTTPRoute` objects of the Gateway API (gateway.networking.k8s.io/v1).
    #[default]
    GatewayApi,
    /// `Ingress` objects (networking.k8s.io/v1).
    Ingress,
    /// No route objects.
    None,
}

/// What the command line adds to the plan.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Namespace of every object, if any (else the one `kubectl` uses).
    pub namespace: Option<String>,
    /// How entrances become routes.
    pub ingress: IngressMode,
    /// The Gateway the HTTPRoutes attach to (default `lcc`).
    pub gateway: Option<String>,
    /// With a class, that Gateway is exported too.
    pub gateway_class: Option<String>,
    /// `ingressClassName` of the Ingress objects.
    pub ingress_class: Option<String>,
    /// `storageClassName` of the claims.
    pub storage_class: Option<String>,
    /// Application -> image, over the manifests' `kubernetes.image`.
    pub images: BTreeMap<String, String>,
}

/// One Kubernetes object.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    /// `kind`, e.g. `Deployment`.
    pub kind: &'static str,
    /// `metadata.name`.
    pub name: String,
    /// The whole object.
    pub value: Value,
}

impl Object {
    /// The object as one YAML document (keys sorted, so the same object gives the same
    /// bytes; strings quoted so that YAML 1.1 readers such as kubectl keep them).
    pub fn to_yaml(&self) -> String {
        yaml::document(&self.value)
    }

    /// The file name of the object in an output directory: `<kind>-<name>.yaml`.
    pub fn file_name(&self) -> String {
        format!("{}-{}.yaml", self.kind.to_ascii_lowercase(), self.name)
    }
}

/// The result of an export.
#[derive(Debug, Clone, PartialEq)]
pub struct Export {
    /// The objects, in the order `kubectl apply` should meet them: config maps and
    /// claims, then workloads, services, endpoint slices, gateway and routes.
    pub objects: Vec<Object>,
    /// What could not carry over, one sentence each.
    pub warnings: Vec<String>,
}

impl Export {
    /// Every object as one YAML stream, documents separated by `---`.
    pub fn to_yaml(&self) -> String {
        let docs: Vec<String> = self.objects.iter().map(Object::to_yaml).collect();
        docs.join("---\n")
    }
}

/// Exports a plan. Checks every name Kubernetes would refuse and every input the
/// export needs (images, files, archives) before building anything.
pub fn export(plan: &Plan, options: &Options) -> Result<Export, Error> {
    let ctx = meta::Ctx::new(plan, options)?;
    let mut out = Builder::default();
    for group in &plan.groups {
        let workload = workload::Workload::group(group);
        workload::add(&ctx, &workload, &mut out)?;
    }
    for instance in &plan.instances {
        let workload = workload::Workload::instance(instance);
        workload::add(&ctx, &workload, &mut out)?;
    }
    storage::add(&ctx, &mut out)?;
    service::add(&ctx, &mut out)?;
    route::add(&ctx, &mut out)?;
    Ok(out.finish())
}

/// Where the mapping rules put their objects and warnings.
#[derive(Debug, Default)]
pub(crate) struct Builder {
    /// Objects by phase (see [`Phase`]), each list in plan order.
    objects: BTreeMap<Phase, Vec<Object>>,
    /// Warnings, in the order found.
    warnings: Vec<String>,
}

/// The apply order of the objects: what a pod mounts exists before the pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Phase {
    /// ConfigMaps.
    Config,
    /// PersistentVolumeClaims.
    Claim,
    /// Deployments.
    Workload,
    /// Services.
    Service,
    /// EndpointSlices.
    Endpoints,
    /// The Gateway.
    Gateway,
    /// HTTPRoutes and Ingresses.
    Route,
}

impl Builder {
    /// Adds an object.
    pub(crate) fn push(&mut self, phase: Phase, kind: &'static str, name: &str, value: Value) {
        self.objects.entry(phase).or_default().push(Object {
            kind,
            name: name.to_string(),
            value,
        });
    }

    /// Adds a warning.
    pub(crate) fn warn(&mut self, message: String) {
        self.warnings.push(message);
    }

    /// The export, objects in phase order.
    fn finish(self) -> Export {
        Export {
            objects: self.objects.into_values().flatten().collect(),
            warnings: self.warnings,
        }
    }
}
