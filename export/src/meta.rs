//! What every object shares: the checked options, the cluster's labels and the
//! `metadata` block, and lookups of the plan's objects by name.

use crate::error::Error;
use crate::names;
use crate::Options;
use lcc_compiler::{KubeSpec, Plan, PodSpec};
use serde_json::{json, Map, Value};

/// The Gateway HTTPRoutes attach to when `--gateway` is not given.
pub const DEFAULT_GATEWAY: &str = "lcc";

/// The plan and options, checked.
#[derive(Debug)]
pub struct Ctx<'a> {
    /// The plan.
    pub plan: &'a Plan,
    /// The options.
    pub options: &'a Options,
    /// The Gateway the HTTPRoutes attach to.
    pub gateway: &'a str,
}

/// An Instance or group as a target of a gateway.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// Its spec (a group's template).
    pub spec: &'a PodSpec,
    /// Its Kubernetes settings.
    pub kube: &'a KubeSpec,
}

impl<'a> Ctx<'a> {
    /// Checks the options and the cluster's name against Kubernetes' rules.
    pub fn new(plan: &'a Plan, options: &'a Options) -> Result<Self, Error> {
        names::label_value("cluster name", &plan.name)?;
        if let Some(ns) = &options.namespace {
            names::dns_label("namespace", ns)?;
        }
        let gateway = options.gateway.as_deref().unwrap_or(DEFAULT_GATEWAY);
        names::dns_subdomain("gateway name", gateway)?;
        for (what, class) in [
            ("gateway class", &options.gateway_class),
            ("ingress class", &options.ingress_class),
            ("storage class", &options.storage_class),
        ] {
            if let Some(class) = class {
                names::dns_subdomain(what, class)?;
            }
        }
        for (app, image) in &options.images {
            let known = plan
                .instances
                .iter()
                .map(|i| &i.spec.app)
                .chain(plan.groups.iter().map(|g| &g.template.app))
                .any(|a| a == app);
            if !known {
                return Err(Error::ImageOption(format!(
                    "{app}={image}: no Instance or InstanceGroup runs an application `{app}`"
                )));
            }
            lcc_compiler::rules::image(image)
                .map_err(|e| Error::ImageOption(format!("{app}={image}: {e}")))?;
        }
        Ok(Ctx {
            plan,
            options,
            gateway,
        })
    }

    /// The four `app.kubernetes.io/*` labels of an object.
    pub fn labels(&self, app: &str, instance: &str) -> Value {
        json!({
            "app.kubernetes.io/name": app,
            "app.kubernetes.io/instance": instance,
            "app.kubernetes.io/part-of": self.plan.name,
            "app.kubernetes.io/managed-by": "lcc",
        })
    }

    /// The labels that select the pods of an Instance or group: its name is unique
    /// among the cluster's Instances and groups, the cluster's name among clusters.
    pub fn selector(&self, instance: &str) -> Value {
        json!({
            "app.kubernetes.io/instance": instance,
            "app.kubernetes.io/part-of": self.plan.name,
        })
    }

    /// `metadata` of an object: name, namespace if given, labels.
    pub fn metadata(&self, name: &str, app: &str, instance: &str) -> Value {
        let mut meta = Map::new();
        meta.insert("name".into(), json!(name));
        if let Some(ns) = &self.options.namespace {
            meta.insert("namespace".into(), json!(ns));
        }
        meta.insert("labels".into(), self.labels(app, instance));
        Value::Object(meta)
    }

    /// The Instance or group of this name.
    pub fn target(&self, name: &str) -> Option<Target<'a>> {
        let plan = self.plan;
        let instance = plan.instances.iter().find(|i| i.spec.instance == name);
        let group = plan.groups.iter().find(|g| g.name == name);
        match (instance, group) {
            (Some(i), _) => Some(Target {
                spec: &i.spec,
                kube: &i.kubernetes,
            }),
            (None, Some(g)) => Some(Target {
                spec: &g.template,
                kube: &g.kubernetes,
            }),
            (None, None) => None,
        }
    }
}
