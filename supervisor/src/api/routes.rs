//! The API's routes: one table of (method, path template), matched segment by segment.
//! The same table is checked against `docs/openapi.json`, so a route cannot be left out
//! of the document.

use super::problem::Problem;
use hyper::Method;

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Cluster,
    Instances,
    Instance,
    Start,
    Stop,
    Restart,
    Delete,
    Logs,
    Groups,
    Scale,
    Gateways,
    Backends,
    Entrances,
    Storage,
    Events,
    OpenApi,
}

/// Every route: method, path template (`{name}` binds one segment), endpoint.
pub(crate) const ROUTES: &[(&str, &str, Endpoint)] = &[
    ("GET", "/api/v1/cluster", Endpoint::Cluster),
    ("GET", "/api/v1/instances", Endpoint::Instances),
    ("GET", "/api/v1/instances/{name}", Endpoint::Instance),
    ("DELETE", "/api/v1/instances/{name}", Endpoint::Delete),
    ("POST", "/api/v1/instances/{name}/start", Endpoint::Start),
    ("POST", "/api/v1/instances/{name}/stop", Endpoint::Stop),
    (
        "POST",
        "/api/v1/instances/{name}/restart",
        Endpoint::Restart,
    ),
    ("GET", "/api/v1/instances/{name}/logs", Endpoint::Logs),
    ("GET", "/api/v1/groups", Endpoint::Groups),
    ("PUT", "/api/v1/groups/{name}/scale", Endpoint::Scale),
    ("GET", "/api/v1/gateways", Endpoint::Gateways),
    ("GET", "/api/v1/backends", Endpoint::Backends),
    ("GET", "/api/v1/entrances", Endpoint::Entrances),
    ("GET", "/api/v1/storage", Endpoint::Storage),
    ("GET", "/api/v1/events", Endpoint::Events),
    ("GET", "/api/v1/openapi.json", Endpoint::OpenApi),
];

/// The endpoint of `method path` and the `{name}` it bound, if any; 404 for a path no
/// route has, 405 (with the allowed methods) for a path with other methods.
pub(crate) fn route<'p>(
    method: &Method,
    path: &'p str,
) -> Result<(Endpoint, Option<&'p str>), Problem> {
    let mut allowed: Vec<&str> = Vec::new();
    for (m, template, endpoint) in ROUTES {
        let Some(name) = matches(template, path) else {
            continue;
        };
        if method.as_str() == *m {
            return Ok((*endpoint, name));
        }
        allowed.push(m);
    }
    if allowed.is_empty() {
        return Err(Problem::not_found(format!("no such path: {path}")));
    }
    let allow = allowed.join(", ");
    Err(Problem::method_not_allowed(method, path, allow))
}

/// `Some(bound name)` when `path` fits `template`.
fn matches<'p>(template: &str, path: &'p str) -> Option<Option<&'p str>> {
    let mut name = None;
    let mut t = template.split('/');
    let mut p = path.split('/');
    loop {
        match (t.next(), p.next()) {
            (None, None) => return Some(name),
            (Some("{name}"), Some(seg)) if !seg.is_empty() => name = Some(seg),
            (Some(a), Some(b)) if a == b => {}
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_bind_names_and_refuse_other_methods_and_paths() {
        let get = Method::GET;
        type Want<'a> = Result<(Endpoint, Option<&'a str>), u16>;
        let table: &[(&Method, &str, Want)] = &[
            (&get, "/api/v1/cluster", Ok((Endpoint::Cluster, None))),
            (
                &get,
                "/api/v1/instances/web-1",
                Ok((Endpoint::Instance, Some("web-1"))),
            ),
            (
                &Method::DELETE,
                "/api/v1/instances/web-1",
                Ok((Endpoint::Delete, Some("web-1"))),
            ),
            (
                &Method::POST,
                "/api/v1/instances/a/restart",
                Ok((Endpoint::Restart, Some("a"))),
            ),
            (
                &Method::PUT,
                "/api/v1/groups/web/scale",
                Ok((Endpoint::Scale, Some("web"))),
            ),
            (&Method::POST, "/api/v1/cluster", Err(405)),
            (&get, "/api/v1/groups/web/scale", Err(405)),
            (&get, "/api/v1/instances/", Err(404)),
            (&get, "/api/v1/nothing", Err(404)),
            (&get, "/api/v1/cluster/", Err(404)),
            (&get, "/", Err(404)),
        ];
        for (method, path, want) in table {
            let got = route(method, path).map_err(|p| p.status.as_u16());
            assert_eq!(&got, want, "{method} {path}");
        }
        let p = route(&Method::PATCH, "/api/v1/instances/a").expect_err("405");
        assert_eq!(p.allow.as_deref(), Some("GET, DELETE"));
    }

    #[test]
    fn every_route_is_in_the_openapi_document_and_nothing_else() {
        let doc: serde_json::Value =
            serde_json::from_str(super::super::OPENAPI).expect("docs/openapi.json parses");
        let paths = doc["paths"].as_object().expect("paths");
        for (method, template, _) in ROUTES {
            let ops = paths
                .get(*template)
                .unwrap_or_else(|| panic!("{template} missing from docs/openapi.json"));
            assert!(
                ops.get(method.to_lowercase()).is_some(),
                "{method} {template} missing from docs/openapi.json"
            );
        }
        for (path, ops) in paths {
            for method in ops.as_object().expect("operations").keys() {
                if method == "parameters" {
                    continue;
                }
                assert!(
                    ROUTES
                        .iter()
                        .any(|(m, t, _)| t == path && m.eq_ignore_ascii_case(method)),
                    "docs/openapi.json has {method} {path}, which the API does not serve"
                );
            }
        }
    }
}
