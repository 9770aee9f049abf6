//! `lcc dashboard`: one HTTP listener for every cluster on the machine. It serves the web
//! page (embedded in the binary), `/api/v1/clusters` (the clusters of the user's
//! registry), and `/api/v1/clusters/{id}/…`, forwarded to that cluster's own API on its
//! Unix socket. It holds no state of its own: every answer comes from the daemons.
//!
//! Security (docs/api.md): the DNS-rebinding guard of the API (`Host` must be a loopback
//! name or the listen address, 421 otherwise), no CORS headers, and a token in a header
//! (never a cookie) for every request that changes something. Without `--token-file` the
//! token is made at start and written into the page, which only a page of this origin can
//! read; with one, the page does not carry it (the user opens the URL with `#token=…`)
//! and every API request needs it.

mod clusters;
mod forward;
mod page;

use crate::api::problem::Problem;
use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{header, Method, Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// A response: a whole body or one streamed from a cluster's API.
pub(crate) type Reply = Response<UnsyncBoxBody<Bytes, hyper::Error>>;

/// What the dashboard serves from.
#[derive(Debug)]
pub struct Dashboard {
    /// The user's registry of clusters.
    registry: PathBuf,
    /// Where it listens (the `Host` guard accepts this address).
    listen: SocketAddr,
    /// The token mutations (and, with `required_for_reads`, every API request) carry.
    token: String,
    /// The token came from `--token-file`: the page does not carry it, reads need it too.
    token_from_file: bool,
}

impl Dashboard {
    /// A dashboard of the clusters in `registry`, listening on `listen`. `token` is the
    /// one of `--token-file` (`Some`) or `None` to make one for this run.
    pub fn new(
        registry: PathBuf,
        listen: SocketAddr,
        token: Option<String>,
    ) -> std::io::Result<Dashboard> {
        let token_from_file = token.is_some();
        let token = match token {
            Some(t) => t,
            None => crate::api::token::generate()?,
        };
        Ok(Dashboard {
            registry,
            listen,
            token,
            token_from_file,
        })
    }
}

/// Why the dashboard refuses to start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A listen address others can reach, without a token the user chose.
    #[error(
        "--listen {0} is not a loopback address: the dashboard controls every cluster, so \
         it needs --token-file FILE (a secret only you can read) to listen there"
    )]
    NeedsTokenFile(SocketAddr),
    /// The token file is unusable.
    #[error("--token-file {path}: {why}")]
    TokenFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
}

/// The token of `--token-file`: one line, not empty, readable by its owner only.
pub fn read_token_file(path: &std::path::Path) -> Result<String, StartError> {
    use std::os::unix::fs::PermissionsExt;
    let bad = |why: String| StartError::TokenFile {
        path: path.to_path_buf(),
        why,
    };
    let meta = std::fs::metadata(path).map_err(|e| bad(e.to_string()))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(bad(format!(
            "mode {mode:o} lets others read it; make it 0600 (chmod 600)"
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let token = text.trim();
    if token.len() < 16 || token.chars().any(|c| !c.is_ascii_graphic()) {
        return Err(bad(
            "the token must be one line of at least 16 printable characters".into(),
        ));
    }
    Ok(token.to_string())
}

/// Checks that `listen` may be served with (or without) a token file.
pub fn check_listen(listen: SocketAddr, token_file: bool) -> Result<(), StartError> {
    if listen.ip().to_canonical().is_loopback() || token_file {
        Ok(())
    } else {
        Err(StartError::NeedsTokenFile(listen))
    }
}

/// The URL to open: with `#token=…` when the page does not carry the token itself (the
/// fragment never leaves the browser).
pub fn url(dashboard: &Dashboard) -> String {
    let base = format!("http://{}/", dashboard.listen);
    if dashboard.token_from_file {
        format!("{base}#token={}", dashboard.token)
    } else {
        base
    }
}

/// Serves `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    dashboard: Arc<Dashboard>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => return,
            a = listener.accept() => a,
        };
        let stream = match accepted {
            Ok((s, _)) => s,
            Err(e) => {
                tracing::warn!("dashboard: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let dashboard = Arc::clone(&dashboard);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let dashboard = Arc::clone(&dashboard);
                async move { Ok::<_, Infallible>(respond(&dashboard, req).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service);
            if let Err(e) = conn.await {
                tracing::debug!("dashboard: connection: {e}");
            }
        });
    }
}

async fn respond(dashboard: &Dashboard, req: Request<Incoming>) -> Reply {
    match route(dashboard, req).await {
        Ok(reply) => reply,
        Err(problem) => from_api(problem.into_response()),
    }
}

/// The API's whole-body reply as one of ours.
fn from_api(reply: crate::api::Reply) -> Reply {
    reply.map(|body| body.map_err(|never| match never {}).boxed_unsync())
}

async fn route(dashboard: &Dashboard, req: Request<Incoming>) -> Result<Reply, Problem> {
    crate::api::host::check(&req, Some(dashboard.listen))?;
    let path = req.uri().path().to_string();
    if !path.starts_with("/api/") {
        return page::asset(dashboard, req.method(), &path).map(from_api);
    }
    // Reads are open to what passed the Host guard unless the token came from a file;
    // anything that changes a cluster carries the token.
    let reads = req.method() == Method::GET || req.method() == Method::HEAD;
    if !reads || dashboard.token_from_file {
        let where_to_find = if dashboard.token_from_file {
            "the dashboard's --token-file"
        } else {
            "the page carries it: <meta name=\"lcc-token\">"
        };
        crate::api::check_token(&req, &dashboard.token, where_to_find)?;
    }
    if path == "/api/v1/clusters" {
        if !reads {
            return Err(Problem::method_not_allowed(req.method(), &path, "GET"));
        }
        let registry = dashboard.registry.clone();
        let list = blocking(move || clusters::list(&registry)).await?;
        let text = serde_json::json!({ "clusters": list }).to_string() + "\n";
        return Ok(from_api(
            Response::builder()
                .header(header::CONTENT_TYPE, "application/json")
                .body(crate::api::full(text))
                .map_err(|e| Problem::internal(e.to_string()))?,
        ));
    }
    let Some(rest) = path.strip_prefix("/api/v1/clusters/") else {
        return Err(Problem::not_found(format!("no such path: {path}")));
    };
    let (id, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let (registry, wanted) = (dashboard.registry.clone(), id.to_string());
    let entry = blocking(move || clusters::find(&registry, &wanted))
        .await?
        .ok_or_else(|| Problem::not_found(format!("no running cluster {id:?}")))?;
    forward::to_cluster(&entry, req, &format!("/api/v1/{tail}")).await
}

/// Runs a look at the registry off the server's thread: it reads files and may wait a
/// moment for a dying daemon's lock, and the event streams of other pages must not wait
/// with it.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Problem> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Problem::internal(format!("the registry look failed: {e}")))
}
