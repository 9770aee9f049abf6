//! `lcc export kubernetes`: load the cluster, export it (lcc-export), then write the
//! YAML stream to stdout or one file per object into a directory. Nothing is written
//! unless the whole export succeeded.

use crate::cli::{IngressArg, KubernetesArgs};
use anyhow::Context;
use lcc_export::{IngressMode, Options};
use std::path::Path;
use std::process::ExitCode;

/// `lcc export kubernetes [DIR] [-o OUT_DIR | -] ...`.
pub fn kubernetes(cluster_dir: &Path, args: KubernetesArgs) -> anyhow::Result<ExitCode> {
    let dir = args.dir.as_deref().unwrap_or(cluster_dir);
    let plan = match lcc_compiler::load_cluster(dir) {
        Ok(plan) => plan,
        Err(diags) => return Ok(super::manifest::report(&diags, "; nothing written")),
    };
    let options = Options {
        namespace: args.namespace,
        ingress: match args.ingress {
            IngressArg::GatewayApi => IngressMode::GatewayApi,
            IngressArg::Ingress => IngressMode::Ingress,
            IngressArg::None => IngressMode::None,
        },
        gateway: args.gateway,
        gateway_class: args.gateway_class,
        ingress_class: args.ingress_class,
        storage_class: args.storage_class,
        images: args.image.into_iter().collect(),
    };
    let export = match lcc_export::export(&plan, &options) {
        Ok(export) => export,
        Err(err) => {
            eprintln!("lcc: {err}; nothing written");
            return Ok(ExitCode::from(1));
        }
    };
    for warning in &export.warnings {
        eprintln!("warning: {warning}");
    }
    match args.output.as_deref() {
        None | Some("-") => {
            use std::io::Write;
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(export.to_yaml().as_bytes())
                .and_then(|()| stdout.flush())
                .context("cannot write to stdout")?;
        }
        Some(out_dir) => {
            let out_dir = Path::new(out_dir);
            std::fs::create_dir_all(out_dir)
                .with_context(|| format!("cannot create {}", out_dir.display()))?;
            for object in &export.objects {
                let path = out_dir.join(object.file_name());
                write_file(&path, object.to_yaml().as_bytes())
                    .with_context(|| format!("cannot write {}", path.display()))?;
                println!("{}", path.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes one object's file, without fsync (the export can be made again). An old
/// file is removed first rather than truncated or renamed over: ext4 (`auto_da_alloc`)
/// flushes a file that replaces another that way, a sync per object (bench/RESULTS.md).
fn write_file(path: &Path, data: &[u8]) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    std::fs::write(path, data)
}
