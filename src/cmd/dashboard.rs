//! `lcc dashboard`: binds its listener, prints the URL, serves until SIGINT or SIGTERM.

use anyhow::Context;
use lcc_supervisor::dashboard::{self, Dashboard};
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

pub fn run(listen: SocketAddr, open: bool, token_file: Option<&Path>) -> anyhow::Result<ExitCode> {
    dashboard::check_listen(listen, token_file.is_some())?;
    let token = token_file.map(dashboard::read_token_file).transpose()?;
    let registry = lcc_core::registry::dir()
        .context("no registry of clusters: neither XDG_RUNTIME_DIR nor HOME is set")?;
    let board = Arc::new(Dashboard::new(registry, listen, token)?);
    let listener = std::net::TcpListener::bind(listen)
        .with_context(|| format!("cannot listen on {listen}"))?;
    listener.set_nonblocking(true)?;
    let url = dashboard::url(&board);
    println!("dashboard: {url}");
    if open {
        // A desktop may not be there (ssh, CI): the URL above is the way in then.
        if let Err(e) = std::process::Command::new("xdg-open").arg(&url).spawn() {
            eprintln!("lcc: cannot open a browser (xdg-open: {e}); open {url}");
        }
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let stop = async move {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        };
        dashboard::serve(listener, board, stop).await;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
