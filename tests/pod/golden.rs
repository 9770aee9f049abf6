//! Golden pod scripts: fixed PodSpecs and the fixture clusters rendered and compared
//! with tests/golden/*.pod, then shellchecked. `UPDATE_GOLDEN=1 cargo test --test main
//! pod::golden` rewrites them.

use crate::support::pod::*;
use lcc_compiler::podspec::{
    AppKind, Command, Platform, ProbeAction, Protocol, Remote, Site, StorageBinding,
};
use lcc_compiler::render::render_pod;
use std::path::{Path, PathBuf};

/// The `lcc` path written into the fixed goldens.
const FIXED_LCC: &str = "/usr/local/bin/lcc";

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// The four fixed specs: local argv, local shell with storage and probe, static, remote.
fn fixed_specs() -> Vec<(&'static str, lcc_compiler::PodSpec)> {
    let mut argv = local(
        "hello-1",
        &[
            "python3",
            "-m",
            "http.server",
            "${LCC_PORT_HTTP}",
            "--bind",
            "127.0.0.1",
        ],
    );
    argv.group = Some("hello".into());
    argv.platforms = vec![
        Platform {
            os: "linux".into(),
            arch: vec!["x86_64".into(), "aarch64".into()],
            run: Command::Argv(vec!["./hello".into(), "--name=it's ${USER} $HOME".into()]),
        },
        Platform {
            os: "darwin".into(),
            arch: vec![],
            run: Command::Argv(vec!["python3".into(), "${LCC_PORT_HTTP}".into()]),
        },
    ];
    argv.env = vec![var("GREETING", "hello 'world' $(id) `id`")];
    argv.interfaces = vec![iface("http", None)];

    let mut shell = local_cmd(
        "notes",
        Command::Shell("exec ./notes --port \"$LCC_PORT_HTTP\" --data data".into()),
    );
    shell.interfaces = vec![iface("http", Some(8000)), iface("admin-api", None)];
    shell.interfaces[1].protocol = Protocol::Tcp;
    shell.storage = vec![StorageBinding {
        storage: "notes".into(),
        path: "data".into(),
        dir: "/srv/lcc/storage/notes".into(),
        cluster: "demo".into(),
    }];
    shell.probe = Some(probe(ProbeAction::Http {
        interface: "http".into(),
        path: "/health?full=1".into(),
    }));
    shell.stop.signal = "INT".into();

    let mut site = local("docs", &["unused"]);
    site.kind = AppKind::Static;
    site.platforms = vec![];
    site.interfaces = vec![iface("http", None)];
    site.site = Some(Site {
        archive: "/srv/sites/docs site.tar.gz".into(),
        sha256: Some("ab".repeat(32)),
        root: Some("public".into()),
        spa: true,
    });

    let mut remote = local("search", &["unused"]);
    remote.kind = AppKind::Remote;
    remote.platforms = vec![];
    remote.interfaces = vec![iface("http", Some(9200))];
    remote.remote = Some(Remote {
        host: "192.0.2.10".into(),
    });
    vec![
        ("local-argv", argv),
        ("local-shell", shell),
        ("static", site),
        ("remote", remote),
    ]
}

/// Compares `text` with tests/golden/NAME.pod, or rewrites it under UPDATE_GOLDEN=1.
fn compare(name: &str, text: &str) -> PathBuf {
    let path = golden_dir().join(format!("{name}.pod"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(golden_dir()).expect("mkdir golden");
        std::fs::write(&path, text).expect("write golden");
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{} missing: run with UPDATE_GOLDEN=1", path.display()));
    assert!(
        want == text,
        "{name}: rendering differs from {} (UPDATE_GOLDEN=1 rewrites it)",
        path.display()
    );
    path
}

/// shellcheck over `paths`, when shellcheck is installed.
fn shellcheck(paths: &[PathBuf]) {
    if std::process::Command::new("shellcheck")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("note: shellcheck not installed, golden pods not checked");
        return;
    }
    let out = std::process::Command::new("shellcheck")
        .args(["-s", "sh"])
        .args(paths)
        .output()
        .expect("shellcheck");
    assert!(
        out.status.success(),
        "shellcheck:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn fixed_specs_match_their_golden_pods() {
    let paths: Vec<PathBuf> = fixed_specs()
        .into_iter()
        .map(|(name, spec)| {
            let text = render_pod(&spec, Path::new(FIXED_LCC)).expect("render");
            compare(name, &text)
        })
        .collect();
    shellcheck(&paths);
}

#[test]
fn fixture_clusters_compile_to_their_golden_pods() {
    let root = env!("CARGO_MANIFEST_DIR");
    let fixtures = Path::new(root).join("tests/fixtures/valid");
    let mut paths = Vec::new();
    for cluster in ["local", "remote", "static"] {
        let out = tempfile::tempdir().expect("tempdir");
        let status = std::process::Command::new(lcc_bin())
            .arg("compile")
            .arg(fixtures.join(cluster))
            .arg("-o")
            .arg(out.path())
            .output()
            .expect("lcc compile");
        assert!(
            status.status.success(),
            "compile {cluster}: {}",
            String::from_utf8_lossy(&status.stderr)
        );
        let mut pods: Vec<PathBuf> = std::fs::read_dir(out.path())
            .expect("read output")
            .flatten()
            .map(|e| e.path().join("pod"))
            .collect();
        pods.sort();
        for pod in pods {
            let text = std::fs::read_to_string(&pod).expect("read pod");
            // Machine-specific paths become placeholders.
            let text = text
                .replace(&lcc_bin().display().to_string(), "@LCC@")
                .replace(root, "@ROOT@");
            // The site key hashes the archive's absolute path, so it differs per checkout.
            let text: String = text
                .lines()
                .map(|l| match l.starts_with("_lcc_site_key='") {
                    true => "_lcc_site_key=@SITE_KEY@\n".to_string(),
                    false => format!("{l}\n"),
                })
                .collect();
            let instance = pod
                .parent()
                .and_then(|p| p.file_name())
                .and_then(|n| n.to_str())
                .expect("instance dir");
            paths.push(compare(&format!("fixture-{cluster}-{instance}"), &text));
        }
    }
    shellcheck(&paths);
}
