//! Discovery: every pod's environment names each Gateway (`LCC_GATEWAY_<NAME>`, `_HOST`,
//! `_PORT`), and `${gateway:NAME}` in a manifest value is the gateway's address.

use super::interpolate::written;
use crate::support::{gateway, http_app, instance, Cluster};

#[test]
fn gateways_are_in_every_pod_env_and_resolved_in_values() {
    let c = Cluster::new("discovery");
    let port = c.gateway_port(0);
    let reporter = "kind: Application\nname: client\ntype: local\nlocal:\n  platforms:\n    - os: linux\n      command: [sh, -c, 'env > env.txt; printf \"%s\\n\" \"$@\" > args.txt; exec sleep 300', sh, \"http://${gateway:web-api}/x\", \"${gateway:web-api.port}\"]\n  env: {API: \"${gateway:web-api.host}\"}\nstop: {signal: KILL, timeout: 1s}\n---\nkind: Instance\nname: client\napp: client\n";
    c.write(
        "app.yaml",
        &format!(
            "{}---\n{}---\n{}---\n{reporter}",
            http_app("web", ""),
            instance("web", "web"),
            gateway("web-api", "web", port)
        ),
    );
    c.up();
    let env = written(&c, "client", "env.txt");
    for want in [
        format!("LCC_GATEWAY_WEB_API=127.0.0.1:{port}"),
        "LCC_GATEWAY_WEB_API_HOST=127.0.0.1".to_string(),
        format!("LCC_GATEWAY_WEB_API_PORT={port}"),
        "API=127.0.0.1".to_string(),
    ] {
        assert!(env.contains(&want), "{want} not in {env:?}");
    }
    let args = written(&c, "client", "args.txt");
    assert_eq!(
        args,
        [format!("http://127.0.0.1:{port}/x"), port.to_string()]
    );
}
