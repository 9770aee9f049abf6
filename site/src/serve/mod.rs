//! `lcc serve-static`: an HTTP/1.1 file server on hyper: keep-alive, conditional and range
//! requests, index pages, and nothing ever read from outside the served directory.

mod body;
mod conditional;
mod files;
mod path;

use crate::error::ServeError;
use body::SiteBody;
use conditional::{Precondition, Ranged};
use files::{Entry, Files, Found};
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use path::SitePath;
use std::convert::Infallible;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// How long open connections get to finish after the shutdown signal.
const DRAIN: Duration = Duration::from_secs(5);

/// What to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The directory served at `/`.
    pub root: PathBuf,
    /// Answer unknown paths with the root's `index.html` (single-page apps).
    pub spa: bool,
    /// How long a client may take to send a request head (and may stay idle between
    /// requests on a kept-alive connection): slow clients cannot hold connections open.
    pub header_timeout: Duration,
}

/// State shared by every connection.
#[derive(Debug)]
struct Site {
    files: Arc<Files>,
    spa: bool,
}

/// Serves `opts.root` on `listener` until `shutdown` completes, then lets open connections
/// finish their requests (up to a few seconds).
pub async fn serve(
    listener: TcpListener,
    opts: ServeOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let site = Arc::new(Site {
        files: Arc::new(Files::new(canonical_root(&opts.root).await?)),
        spa: opts.spa,
    });
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(opts.header_timeout)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = accept(&listener) => accepted?,
            () = &mut shutdown => break,
        };
        let Some(stream) = stream else { continue };
        let _ = stream.set_nodelay(true);
        let site = Arc::clone(&site);
        let service = service_fn(move |req| handle(Arc::clone(&site), req));
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            // A client that goes away mid-response is routine, not an error to report.
            let _ = conn.await;
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(DRAIN, graceful.shutdown()).await;
    Ok(())
}

/// The canonical form of the directory to serve; an error if it is not a directory.
async fn canonical_root(dir: &std::path::Path) -> Result<PathBuf, ServeError> {
    let root = tokio::fs::canonicalize(dir)
        .await
        .map_err(|source| ServeError::Root {
            path: dir.to_path_buf(),
            source,
        })?;
    if !tokio::fs::metadata(&root).await.is_ok_and(|m| m.is_dir()) {
        return Err(ServeError::Root {
            path: dir.to_path_buf(),
            source: std::io::Error::other("not a directory"),
        });
    }
    Ok(root)
}

/// The next connection; None after a transient error (already backed off).
async fn accept(listener: &TcpListener) -> Result<Option<tokio::net::TcpStream>, ServeError> {
    match listener.accept().await {
        Ok((stream, _)) => Ok(Some(stream)),
        Err(e) if is_transient(&e) => {
            // Out of file descriptors or an aborted handshake: back off briefly.
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok(None)
        }
        Err(source) => Err(ServeError::Accept {
            addr: listener
                .local_addr()
                .map(|a| a.to_string())
                .unwrap_or_default(),
            source,
        }),
    }
}

/// Accept errors that do not mean the listener is broken.
fn is_transient(e: &std::io::Error) -> bool {
    use std::io::ErrorKind as K;
    matches!(
        e.kind(),
        K::ConnectionAborted | K::ConnectionReset | K::Interrupted | K::WouldBlock
    ) || matches!(e.raw_os_error(), Some(23 | 24 | 105 | 12)) // ENFILE EMFILE ENOBUFS ENOMEM
}

/// Answers one request.
async fn handle(site: Arc<Site>, req: Request<Incoming>) -> Result<Response<SiteBody>, Infallible> {
    let method = req.method();
    if method != Method::GET && method != Method::HEAD {
        let mut res = plain(StatusCode::METHOD_NOT_ALLOWED);
        res.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return Ok(res);
    }
    let Some(path) = SitePath::parse(req.uri().path()) else {
        return Ok(plain(StatusCode::BAD_REQUEST));
    };
    let found = match site.files.find(&path).await {
        Found::Missing if site.spa => site.files.find(&SitePath::index()).await,
        found => found,
    };
    Ok(match found {
        Found::File(entry, file) => respond(&req, &entry, file),
        Found::Redirect => redirect(&path, req.uri().query()),
        Found::Missing => plain(StatusCode::NOT_FOUND),
    })
}

/// The response for a file, after preconditions and range.
fn respond(
    req: &Request<Incoming>,
    entry: &Entry,
    file: Option<std::fs::File>,
) -> Response<SiteBody> {
    let (method, headers) = (req.method(), req.headers());
    let etag = entry.etag.to_str().unwrap_or_default();
    match conditional::precondition(headers, method, etag, entry.modified) {
        Precondition::Proceed => {}
        Precondition::NotModified => return with_validators(StatusCode::NOT_MODIFIED, entry),
        Precondition::Failed => return plain(StatusCode::PRECONDITION_FAILED),
    }
    let ranged = conditional::range(headers, method, entry.len, etag, entry.modified);
    let (status, start, len) = match ranged {
        Ranged::Full => (StatusCode::OK, 0, entry.len),
        Ranged::Part { start, end } => (StatusCode::PARTIAL_CONTENT, start, end - start + 1),
        Ranged::Unsatisfiable => {
            let mut res = plain(StatusCode::RANGE_NOT_SATISFIABLE);
            res.headers_mut().insert(
                header::CONTENT_RANGE,
                value(&format!("bytes */{}", entry.len)),
            );
            return res;
        }
    };
    let body = if method == Method::HEAD {
        SiteBody::empty()
    } else {
        content(entry, file, start, len)
    };
    let mut res = with_validators(status, entry);
    res.headers_mut()
        .insert(header::CONTENT_TYPE, entry.content_type.clone());
    res.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if status == StatusCode::PARTIAL_CONTENT {
        let range = format!("bytes {}-{}/{}", start, start + len - 1, entry.len);
        res.headers_mut()
            .insert(header::CONTENT_RANGE, value(&range));
    }
    *res.body_mut() = body;
    res
}

/// The bytes `start..start+len` of the file, from memory or streamed.
fn content(entry: &Entry, file: Option<std::fs::File>, start: u64, len: u64) -> SiteBody {
    if let Some(bytes) = &entry.content {
        let (from, to) = (usize::try_from(start), usize::try_from(start + len));
        return match (from, to) {
            (Ok(from), Ok(to)) if to <= bytes.len() => SiteBody::full(bytes.slice(from..to)),
            _ => SiteBody::empty(),
        };
    }
    match file {
        Some(file) => SiteBody::stream(file, start, len),
        None => SiteBody::empty(),
    }
}

/// An empty response with the validators and `Accept-Ranges`.
fn with_validators(status: StatusCode, entry: &Entry) -> Response<SiteBody> {
    let mut res = Response::new(SiteBody::empty());
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(header::ETAG, entry.etag.clone());
    h.insert(header::LAST_MODIFIED, entry.last_modified.clone());
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    res
}

/// `301` from `/dir` to `/dir/`, as nginx does.
fn redirect(path: &SitePath, query: Option<&str>) -> Response<SiteBody> {
    let mut location = path.slash_url();
    if let Some(q) = query {
        location.push('?');
        location.push_str(q);
    }
    let mut res = plain(StatusCode::MOVED_PERMANENTLY);
    res.headers_mut().insert(header::LOCATION, value(&location));
    res
}

/// A short plain-text response for a status.
fn plain(status: StatusCode) -> Response<SiteBody> {
    let text = format!(
        "{} {}\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    let mut res = Response::new(SiteBody::full(text.into()));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

/// A header value from text we built; anything unrepresentable becomes empty.
fn value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}
