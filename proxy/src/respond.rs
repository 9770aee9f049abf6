//! Responses the proxy makes itself: errors with a short plain-text reason, redirects, pages.

use crate::body::DownBody;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};

/// A response with `status` and a one-line plain-text `reason`.
pub(crate) fn text(status: StatusCode, reason: &str) -> Response<DownBody> {
    let mut body = String::with_capacity(reason.len() + 1);
    body.push_str(reason);
    body.push('\n');
    with_type(status, "text/plain; charset=utf-8", body)
}

/// A response with `status`, a content type and a body.
pub(crate) fn with_type(
    status: StatusCode,
    content_type: &'static str,
    body: String,
) -> Response<DownBody> {
    let mut resp = Response::new(DownBody::full(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// A permanent redirect (308, method kept) to `location`.
pub(crate) fn redirect(location: &str) -> Response<DownBody> {
    let mut resp = text(StatusCode::PERMANENT_REDIRECT, location);
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}
