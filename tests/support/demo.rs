//! The demo of the README (`examples/demo`) as a test cluster: its manifests copied into
//! a [`Cluster`]'s directory, its fixed ports moved to free ones.

use super::Cluster;
use std::path::Path;

/// Ports the demo fixes: the entrance listener, the four gateways, the https listener.
pub const DEMO_PORTS: [u16; 6] = [8080, 9080, 9081, 9082, 9083, 8443];

/// The six ports of [`DEMO_PORTS`] moved into the cluster's own block (its entrance
/// listener and gateway ports 0-4), which no other test and no client socket takes.
pub fn ports(cluster: &Cluster) -> Vec<u16> {
    let mut ports = vec![cluster.http().port()];
    ports.extend((0..5).map(|i| cluster.gateway_port(i)));
    ports
}

/// Copies the demo into the cluster's directory, moving its fixed ports to free ones and
/// its host ports to the cluster's own.
pub fn copy(cluster: &Cluster, ports: &[u16]) {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo");
    // Not the `.lcc/` a run of the demo in this checkout left there (pods, scale
    // overrides, deleted instances): the copy starts from the manifests alone.
    let items: Vec<std::path::PathBuf> = std::fs::read_dir(&demo)
        .expect("read demo")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| n != ".lcc"))
        .collect();
    let opts = fs_extra::dir::CopyOptions::new().overwrite(true);
    fs_extra::copy_items(&items, cluster.path(), &opts).expect("copy demo");
    assert!(!cluster.path().join(".lcc").exists(), "no state copied");
    for entry in std::fs::read_dir(cluster.path())
        .expect("read dir")
        .flatten()
    {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let mut yaml = std::fs::read_to_string(&path).expect("read yaml");
            for (from, to) in DEMO_PORTS.iter().zip(ports) {
                yaml = yaml.replace(&from.to_string(), &to.to_string());
            }
            yaml = yaml.replace("30000-31999", &cluster.host_ports());
            std::fs::write(&path, yaml).expect("write yaml");
        }
    }
}
