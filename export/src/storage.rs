//! Storages -> PersistentVolumeClaims named after the Storage, `size` requested
//! (default 1Gi), `--storage-class` if given.
//!
//! A Storage is one directory shared by every instance that binds it, and the export
//! keeps that meaning: one claim, mounted by every pod. The access mode follows from
//! who binds it: a group (whose replicas, and whose rolling update, run pods side by
//! side) or several Instances and groups need `ReadWriteMany`; a Storage bound by at
//! most one Instance is `ReadWriteOnce` (that Instance's Deployment recreates, never
//! overlaps). Per-replica data (a StatefulSet with a volumeClaimTemplate) would split
//! what lcc shares, so it is not produced.

use crate::error::Error;
use crate::meta::Ctx;
use crate::names;
use crate::{Builder, Phase};
use serde_json::{json, Map, Value};

/// Adds a claim per Storage.
pub fn add(ctx: &Ctx<'_>, out: &mut Builder) -> Result<(), Error> {
    let plan = ctx.plan;
    for storage in &plan.storages {
        names::dns_subdomain("storage name", &storage.name)?;
        let binds =
            |spec: &lcc_compiler::PodSpec| spec.storage.iter().any(|b| b.storage == storage.name);
        let groups = plan.groups.iter().filter(|g| binds(&g.template)).count();
        let instances = plan.instances.iter().filter(|i| binds(&i.spec)).count();
        let mode = if groups > 0 || instances > 1 {
            "ReadWriteMany"
        } else {
            "ReadWriteOnce"
        };
        let mut spec = Map::new();
        spec.insert("accessModes".into(), json!([mode]));
        spec.insert(
            "resources".into(),
            json!({"requests": {"storage": storage.size}}),
        );
        if let Some(class) = &ctx.options.storage_class {
            spec.insert("storageClassName".into(), json!(class));
        }
        let claim = json!({
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": ctx.metadata(&storage.name, &storage.name, &storage.name),
            "spec": Value::Object(spec),
        });
        out.push(Phase::Claim, "PersistentVolumeClaim", &storage.name, claim);
    }
    Ok(())
}
