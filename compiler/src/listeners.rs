//! The cluster's fixed listen addresses, each with its place in the manifests: the
//! entrance listener (when there are entrances), every Gateway and the API's TCP
//! listener. `lcc up` checks that each is free before it starts anything and reports a
//! taken one as a [`Diagnostic`] at that place, like a manifest error.

use crate::diag::{Diagnostic, Diagnostics};
use crate::load::{self, Body};
use crate::ports::DEFAULT_HTTP;
use crate::report::Reporter;
use std::path::Path;

/// A listen address and where the manifests set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// `HOST:PORT`.
    pub listen: String,
    /// Its place (file, line, column, source line, object and field); the message is
    /// empty, for the caller to fill in.
    pub place: Diagnostic,
}

/// Every fixed listen address of the cluster in `dir`, in manifest order. Meant for
/// manifests that load (a broken document just contributes nothing).
pub fn fixed_listeners(dir: &Path) -> Result<Vec<Listener>, Diagnostics> {
    let files = load::manifest_files(dir).map_err(|message| {
        Diagnostics::new(vec![Diagnostic {
            file: dir.to_path_buf(),
            line: None,
            col: None,
            object: None,
            field: None,
            message,
            source_line: None,
        }])
    })?;
    let (sources, _) = load::read_sources(&files);
    let mut rep = Reporter::new(&sources);
    let (objects, _) = load::parse_objects(&sources, &mut rep);
    rep.errors.clear();
    let mut out = Vec::new();
    let mut placed = |rep: &mut Reporter<'_>, obj, field: &str, listen: String| {
        rep.field(obj, field, "");
        if let Some(place) = rep.errors.pop() {
            out.push(Listener { listen, place });
        }
    };
    let entrances = objects
        .iter()
        .any(|o| matches!(o.body, Some(Body::Entrance(_))));
    let mut http_set = false;
    for obj in &objects {
        match &obj.body {
            Some(Body::Cluster(c)) => {
                if let Some(http) = c.http.clone().filter(|_| entrances) {
                    http_set = true;
                    placed(&mut rep, obj, "http", http);
                }
                if let Some(api) = c.api.as_ref().and_then(|a| a.listen.clone()) {
                    placed(&mut rep, obj, "api.listen", api);
                }
            }
            Some(Body::Gateway(g)) => {
                if let Some(port) = g.port {
                    let address = g.address.as_deref().unwrap_or("127.0.0.1");
                    placed(&mut rep, obj, "port", format!("{address}:{port}"));
                }
            }
            _ => {}
        }
    }
    if entrances && !http_set {
        // the default listener is written nowhere: the cluster directory stands for it
        let place = Diagnostic {
            file: dir.to_path_buf(),
            line: None,
            col: None,
            object: Some("Cluster".to_string()),
            field: Some("http (default)".to_string()),
            message: String::new(),
            source_line: None,
        };
        out.insert(
            0,
            Listener {
                listen: DEFAULT_HTTP.to_string(),
                place,
            },
        );
    }
    Ok(out)
}
