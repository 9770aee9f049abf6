//! Errors as RFC 9457 problem details (`application/problem+json`): every error the API
//! gives says its status, a title and what exactly was wrong.

use super::Reply;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{header, Response, StatusCode};

/// One problem: the status and a sentence naming what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub(crate) status: StatusCode,
    pub(crate) detail: String,
    /// Methods the path allows (405 only).
    pub(crate) allow: Option<String>,
}

impl Problem {
    pub(crate) fn new(status: StatusCode, detail: impl Into<String>) -> Problem {
        Problem {
            status,
            detail: detail.into(),
            allow: None,
        }
    }

    pub(crate) fn bad_request(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, detail)
    }

    pub(crate) fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, detail)
    }

    pub(crate) fn unprocessable(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::UNPROCESSABLE_ENTITY, detail)
    }

    /// 405 for `method` on `path`, with the methods it allows (`Allow`).
    pub(crate) fn method_not_allowed(
        method: &hyper::Method,
        path: &str,
        allow: impl Into<String>,
    ) -> Problem {
        let allow = allow.into();
        Problem {
            detail: format!("{method} is not allowed on {path} (allowed: {allow})"),
            status: StatusCode::METHOD_NOT_ALLOWED,
            allow: Some(allow),
        }
    }

    pub(crate) fn internal(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::INTERNAL_SERVER_ERROR, detail)
    }

    /// The response: `{type, title, status, detail}`.
    pub(crate) fn into_response(self) -> Reply {
        let title = self.status.canonical_reason().unwrap_or("Error");
        let body = serde_json::json!({
            "type": "about:blank",
            "title": title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        let mut builder = Response::builder()
            .status(self.status)
            .header(header::CONTENT_TYPE, "application/problem+json");
        if let Some(allow) = &self.allow {
            builder = builder.header(header::ALLOW, allow);
        }
        if self.status == StatusCode::UNAUTHORIZED {
            builder = builder.header(header::WWW_AUTHENTICATE, "Bearer");
        }
        let body = Full::new(Bytes::from(body.to_string()))
            .map_err(|never| match never {})
            .boxed_unsync();
        builder
            .body(body)
            .unwrap_or_else(|_| Response::new(super::empty()))
    }
}
