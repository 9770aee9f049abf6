//! The demo's export compared byte for byte with tests/golden/demo.k8s.yaml
//! (`UPDATE_GOLDEN=1 cargo test --test main export::golden` rewrites it), and the same
//! bytes on every run and in every output form.

use super::{arg, docs, export, export_ok, repo};

/// The golden file of the demo's export.
fn golden() -> std::path::PathBuf {
    repo().join("tests/golden/demo.k8s.yaml")
}

#[test]
fn the_demo_export_matches_its_golden_file() {
    let (stream, warnings) = export_ok(&repo(), &["examples/demo"]);
    let path = golden();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &stream).expect("write golden");
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{} missing: run with UPDATE_GOLDEN=1", path.display()));
    assert!(
        want == stream,
        "the demo's export differs from {} (UPDATE_GOLDEN=1 rewrites it)",
        path.display()
    );
    assert_eq!(
        warnings,
        "warning: InstanceGroup/notes: restart policy `on-failure` cannot carry over: a Deployment restarts its container after every exit\n\
         warning: InstanceGroup/notes: dependsOn (notes-prepare) cannot carry over: Kubernetes starts pods in any order\n\
         warning: Gateway/upstream: the remote address 127.0.0.1 of Application/upstream is this machine's loopback, which a Kubernetes cluster cannot reach: Service upstream gets no endpoints; point the application at an address the cluster reaches\n"
    );
}

#[test]
fn two_runs_give_the_same_bytes() {
    let first = export(&repo(), &["examples/demo"]);
    let second = export(&repo(), &["examples/demo", "-o", "-"]);
    assert_eq!(first.code, Some(0), "{}", first.err());
    assert!(first.stdout == second.stdout, "two exports differ");
    assert!(
        first.stderr == second.stderr,
        "two exports warn differently"
    );
}

#[test]
fn an_output_directory_gets_one_file_per_object_with_the_same_documents() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out_dir = tmp.path().join("k8s");
    let (listing, _) = export_ok(&repo(), &["examples/demo", "-o", arg(&out_dir)]);
    let (stream, _) = export_ok(&repo(), &["examples/demo"]);
    let objects = docs(&stream);
    let written: Vec<String> = listing.lines().map(str::to_string).collect();
    assert_eq!(written.len(), objects.len(), "{listing}");
    for (path, object) in written.iter().zip(&objects) {
        let kind = object["kind"].as_str().expect("kind").to_ascii_lowercase();
        let name = object["metadata"]["name"].as_str().expect("name");
        assert!(path.ends_with(&format!("/{kind}-{name}.yaml")), "{path}");
        let text = std::fs::read_to_string(path).expect("read object file");
        assert_eq!(&docs(&text)[0], object);
    }
    let mut files: Vec<_> = std::fs::read_dir(&out_dir)
        .expect("read out dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    files.sort();
    assert_eq!(files.len(), objects.len());
}
