//! The web page: three files embedded in the binary (no CDN, no build step), served
//! with a Content-Security-Policy that allows nothing but this origin. The page gets the
//! token it sends with mutations in a `<meta>` tag, unless the token came from a file.

use super::Dashboard;
use crate::api::problem::Problem;
use crate::api::Reply;
use hyper::{header, Method, Response};

const INDEX: &str = include_str!("web/index.html");
const SCRIPT: &str = include_str!("web/app.js");
const STYLE: &str = include_str!("web/app.css");

/// Where the page's `<meta name="lcc-token">` gets its value.
const TOKEN_SLOT: &str = "{{token}}";

const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

/// The asset at `path`.
pub(crate) fn asset(dashboard: &Dashboard, method: &Method, path: &str) -> Result<Reply, Problem> {
    if method != Method::GET && method != Method::HEAD {
        return Err(Problem::method_not_allowed(method, path, "GET, HEAD"));
    }
    let (kind, body) = match path {
        "/" | "/index.html" => {
            let token = if dashboard.token_from_file {
                ""
            } else {
                dashboard.token.as_str()
            };
            // The token is hex or printable ASCII; it sits in an attribute, so quotes and
            // markup are escaped all the same.
            let token = token
                .replace('&', "&amp;")
                .replace('"', "&quot;")
                .replace('<', "&lt;");
            (
                "text/html; charset=utf-8",
                INDEX.replace(TOKEN_SLOT, &token),
            )
        }
        "/app.js" => ("text/javascript; charset=utf-8", SCRIPT.to_string()),
        "/app.css" => ("text/css; charset=utf-8", STYLE.to_string()),
        _ => return Err(Problem::not_found(format!("no such path: {path}"))),
    };
    Response::builder()
        .header(header::CONTENT_TYPE, kind)
        .header(header::CONTENT_SECURITY_POLICY, POLICY)
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::REFERRER_POLICY, "no-referrer")
        .header(header::CACHE_CONTROL, "no-store")
        .body(crate::api::full(body))
        .map_err(|e| Problem::internal(e.to_string()))
}
