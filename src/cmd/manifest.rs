//! `lcc validate` and `lcc compile`: load manifests, print every error, write pods.

use anyhow::Context;
use lcc_compiler::{Diagnostics, PodSpec};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `lcc validate [PATH...]`: exit 0 with a summary, or 1 with every error.
pub fn validate(cluster_dir: &Path, paths: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let paths = if paths.is_empty() {
        vec![cluster_dir.to_path_buf()]
    } else {
        paths.to_vec()
    };
    match lcc_compiler::load_files_counted(&paths) {
        Ok((_, counts)) => {
            println!(
                "ok: {} in {}",
                plural(counts.objects, "object"),
                plural(counts.files, "file")
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(diags) => Ok(report(&diags, "")),
    }
}

/// `lcc compile FILE... -o DIR`: one pod per Instance, per InstanceGroup (its
/// template) and per Application nothing references. Nothing is written unless
/// every manifest is valid.
pub fn compile(files: &[PathBuf], output: &Path) -> anyhow::Result<ExitCode> {
    let plan = match lcc_compiler::load_files(files) {
        Ok(plan) => plan,
        Err(diags) => return Ok(report(&diags, "; nothing written")),
    };
    let lcc_bin = std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .context("cannot find the path of the lcc binary")?;
    let specs: Vec<&PodSpec> = plan
        .instances
        .iter()
        .map(|i| &i.spec)
        .chain(plan.groups.iter().map(|g| &g.template))
        .chain(&plan.unreferenced_apps)
        .collect();
    let results = write_all(&specs, output, &lcc_bin);
    for (spec, result) in specs.iter().zip(results) {
        let pod_dir = output.join(&spec.instance);
        result.with_context(|| format!("cannot write the pod in {}", pod_dir.display()))?;
        println!("{}", pod_dir.join("pod").display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Threads that write pods at once: each write waits on fsync, so overlapping them
/// is what makes compiling a thousand pods fast.
const WRITERS: usize = 32;

/// Writes every pod, several at a time; one result per spec, in order.
fn write_all(specs: &[&PodSpec], output: &Path, lcc_bin: &Path) -> Vec<anyhow::Result<()>> {
    let chunk = specs.len().div_ceil(WRITERS).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = specs
            .chunks(chunk)
            .map(|part| {
                let writer = scope.spawn(move || {
                    let write =
                        |spec: &&PodSpec| write_pod(&output.join(&spec.instance), spec, lcc_bin);
                    part.iter().map(write).collect::<Vec<_>>()
                });
                (part.len(), writer)
            })
            .collect();
        let mut results = Vec::with_capacity(specs.len());
        for (len, writer) in workers {
            match writer.join() {
                Ok(part) => results.extend(part),
                Err(_) => {
                    results.extend((0..len).map(|_| Err(anyhow::anyhow!("a pod writer panicked"))))
                }
            }
        }
        results
    })
}

/// Writes one pod directory.
fn write_pod(pod_dir: &Path, spec: &PodSpec, lcc_bin: &Path) -> anyhow::Result<()> {
    lcc_compiler::render::write_pod(pod_dir, spec, lcc_bin)?;
    Ok(())
}

/// Prints every error and a count on stderr; exit code 1.
pub(super) fn report(diags: &Diagnostics, suffix: &str) -> ExitCode {
    eprintln!("{diags}\n\nfound {}{suffix}", plural(diags.len(), "error"));
    ExitCode::from(1)
}

/// `1 file`, `2 files`.
fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}
