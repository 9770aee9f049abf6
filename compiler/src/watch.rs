//! Checks of `watch:` paths against the cluster directory: a path that holds the
//! cluster's state directory `.lcc/` (the cluster directory itself, `.`, or a parent) or
//! lies inside it would see the daemon's own writes (statuses, logs, events) as changes
//! and restart the instances without end, so it is refused where it is written.

use crate::load::{Body, Object, Source};
use crate::report::Reporter;
use crate::rules;
use std::path::Path;

/// Reports every `watch[i].path` of `objects` that holds or lies in `cluster_dir/.lcc`.
pub(crate) fn check(
    rep: &mut Reporter<'_>,
    objects: &[Object],
    sources: &[Source],
    cluster_dir: &Path,
) {
    let state = cluster_dir.join(".lcc");
    for obj in objects {
        let list = match &obj.body {
            Some(Body::Application(a)) => a.watch.as_deref(),
            Some(Body::Instance(i)) => i.watch.as_deref(),
            Some(Body::Group(g)) => g.watch.as_deref(),
            _ => None,
        };
        for (i, w) in list.unwrap_or(&[]).iter().enumerate() {
            let Some(written) = w.path.as_deref().filter(|p| !p.is_empty()) else {
                continue;
            };
            let path = rules::lexical_join(&sources[obj.file].dir, written);
            let why = if state.starts_with(&path) {
                "holds"
            } else if path.starts_with(&state) {
                "is inside"
            } else {
                continue;
            };
            rep.field(
                obj,
                &format!("watch[{i}].path"),
                format!(
                    "watch path `{written}` {why} the cluster's state directory .lcc/, which the daemon writes on every change: watch the source folders instead"
                ),
            );
        }
    }
}
