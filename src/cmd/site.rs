//! `lcc fetch` and `lcc serve-static`: what a static pod runs. Parses nothing itself:
//! hands the arguments to lcc-site and maps its errors.

use crate::cli::{FetchArgs, ServeArgs};
use anyhow::Context;
use lcc_site::{Cache, FetchOptions, ServeOptions};
use std::process::ExitCode;

/// `lcc fetch URL --into DIR`: prints the archive's sha256 on success.
pub fn fetch(args: &FetchArgs) -> anyhow::Result<ExitCode> {
    let opts = FetchOptions {
        url: args.url.clone(),
        into: args.into.clone(),
        sha256: args.sha256.clone(),
        root: args.root.clone(),
        max_size: args.max_size,
        cache: Cache::user(),
        force: args.force,
    };
    let fetched = lcc_site::fetch(&opts)?;
    println!("{}", fetched.sha256);
    Ok(ExitCode::SUCCESS)
}

/// `lcc serve-static DIR --listen ADDR`: serves until SIGTERM or SIGINT.
pub fn serve(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        let addr = listener.local_addr().context("local address")?;
        let shutdown = stop_signal()?;
        eprintln!(
            "lcc serve-static: serving {} on http://{addr}/",
            args.dir.display()
        );
        let opts = ServeOptions {
            root: args.dir.clone(),
            spa: args.spa,
            header_timeout: args.header_timeout,
        };
        lcc_site::serve(listener, opts, shutdown).await?;
        Ok(ExitCode::SUCCESS)
    })
}

/// A future that completes on the first SIGTERM or SIGINT.
fn stop_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("watching SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("watching SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}
