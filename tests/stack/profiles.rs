//! Profiles and named subsets: `lcc up --profile P` (or `LCC_PROFILES`) brings up what
//! has no profile plus what matches; `lcc up DIR NAME...` the named ones alone.

use crate::support::{shell_app, Cluster};

/// The instances whose status says they run, sorted.
fn running(c: &Cluster) -> Vec<String> {
    let mut names: Vec<String> = c
        .statuses()
        .into_iter()
        .filter(|s| s["phase"] == "Running" && s["desired"] == "running")
        .filter_map(|s| s["instance"].as_str().map(str::to_string))
        .collect();
    names.sort();
    names
}

#[test]
fn profiles_and_names_choose_what_comes_up() {
    let c = Cluster::new("profiles");
    let debug_app = shell_app("debugger", "exec sleep 300", 5).replace(
        "kind: Application\nname: debugger\n",
        "kind: Application\nname: debugger\nprofiles: [debug]\n",
    );
    c.write(
        "app.yaml",
        &format!(
            "{}---\n{debug_app}---\nkind: Instance\nname: base\napp: s\n---\nkind: Instance\nname: tool\napp: s\nprofiles: [dev, extra]\n---\nkind: InstanceGroup\nname: dbg\napp: debugger\n",
            shell_app("s", "exec sleep 300", 5)
        ),
    );
    let up = |args: &[&str], env: &[(&str, &str)]| {
        let out = c.lcc_with(&[&["up", "-d", "--wait"], args].concat(), env);
        assert_eq!(out.code, Some(0), "{}{}", out.out(), out.err());
        let names = running(&c);
        let down = c.lcc(&["down"]);
        assert_eq!(down.code, Some(0), "{}", down.err());
        names
    };
    assert_eq!(up(&[], &[]), ["base"]);
    assert_eq!(up(&["--profile", "dev"], &[]), ["base", "tool"]);
    assert_eq!(
        up(&[], &[("LCC_PROFILES", "debug,extra")]),
        ["base", "dbg-1", "tool"]
    );
    let dir = c.path().to_str().expect("utf-8").to_string();
    assert_eq!(up(&[&dir, "tool"], &[]), ["tool"]);
    // A name that is no Instance or group stops `up` before anything starts.
    let out = c.lcc(&["up", "-d", &dir, "nope"]);
    assert_eq!(out.code, Some(1));
    assert_eq!(
        out.err(),
        format!("error: nothing to bring up named `nope`: not an Instance or InstanceGroup of the cluster\n --> {dir}\n")
    );
}
