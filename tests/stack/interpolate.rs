//! Interpolation at load time, end to end: every `${…}` form and `$$` as the running
//! app sees them, the precedence shell > `--env-file` > `.env`, `envFile:` lists, and
//! the error for a missing required variable from `lcc up`.

use crate::support::{wait_until, Cluster};
use std::time::Duration;

/// An app that writes its environment and its arguments to `run/`, then sleeps.
fn reporter(name: &str, extra: &str) -> String {
    format!(
        "kind: Application\nname: {name}\ntype: local\nlocal:\n  platforms:\n    - os: linux\n      command: [sh, -c, 'env > env.txt; printf \"%s\\n\" \"$@\" > args.txt; exec sleep 300', sh, \"${{LCC_INSTANCE}}-${{A}}\", \"$${{A}}\", \"${{UNSET_T_VAR}}\", \"${{UNSET_T_VAR:-dflt}}\"]\n{extra}stop: {{signal: KILL, timeout: 1s}}\n---\nkind: Instance\nname: {name}\napp: {name}\n"
    )
}

/// The lines of a file an instance wrote into its `run/`, once it is there.
pub(super) fn written(c: &Cluster, instance: &str, file: &str) -> Vec<String> {
    let path = c.pod(instance).join("run").join(file);
    let done = wait_until(Duration::from_secs(20), || {
        std::fs::read_to_string(&path).is_ok_and(|t| t.ends_with('\n'))
    });
    assert!(done, "{instance} wrote no {file}\n{}", c.dump());
    let text = std::fs::read_to_string(&path).expect("read");
    text.lines().map(str::to_string).collect()
}

#[test]
fn every_form_reaches_the_app_with_shell_over_env_file_over_dotenv() {
    let c = Cluster::new("interp");
    c.write(".env", "A=dotenv\nB=dotenv\nC=dotenv\n");
    c.write("vars.env", "A=file\nB=file\n");
    c.write(
        "extra.env",
        "# a comment\nFROM_FILE=yes\nVB=overridden-by-env\n",
    );
    let env = "  env:\n    VA: \"${A}\"\n    VB: \"${B}\"\n    VC: \"${C}\"\n    VD: \"${UNSET_T_VAR:-dflt}\"\n    VE: \"$${A} $$HOME\"\n    VF: \"${UNSET_T_VAR}\"\n    VG: \"${LCC_INSTANCE}\"\n";
    let extra = "envFile: [extra.env, {path: absent.env, required: false}]\n";
    c.write("app.yaml", &reporter("rep", &format!("{env}{extra}")));
    let out = c.lcc_with(
        &["up", "-d", "--wait", "--env-file", "vars.env"],
        &[("A", "shell")],
    );
    assert_eq!(out.code, Some(0), "{}{}", out.out(), out.err());
    let env = written(&c, "rep", "env.txt");
    for want in [
        "VA=shell",
        "VB=file",
        "VC=dotenv",
        "VD=dflt",
        "VE=${A} $HOME",
        "VF=${UNSET_T_VAR}",
        "VG=${LCC_INSTANCE}",
        "FROM_FILE=yes",
    ] {
        assert!(env.iter().any(|l| l == want), "{want} not in {env:?}");
    }
    // The app's own `env` wins over its env file.
    assert!(
        env.iter().all(|l| !l.starts_with("VB=overridden")),
        "{env:?}"
    );
    let args = written(&c, "rep", "args.txt");
    // `$${A}` is `${A}` at run time, which the pod expands from its environment (it
    // inherits the daemon's, where A is set); `${UNSET_T_VAR}` is still unset then.
    assert_eq!(args, ["rep-shell", "shell", "", "dflt"], "command items");
}

#[test]
fn a_missing_required_variable_stops_up_naming_it_and_the_field() {
    let c = Cluster::new("interp-missing");
    let app = "kind: Application\nname: db\ntype: local\nlocal:\n  platforms:\n    - os: linux\n      command: [sleep, \"300\"]\n  env:\n    PASSWORD: \"${DB_T_PASSWORD:?put it in .env}\"\n---\nkind: Instance\nname: db\napp: db\n";
    c.write("app.yaml", app);
    let out = c.lcc(&["up", "-d"]);
    let file = c.path().join("app.yaml");
    let want = format!(
        "error: required variable `DB_T_PASSWORD` is not set: put it in .env\n --> {}:9:16\n  |\n9 |     PASSWORD: \"${{DB_T_PASSWORD:?put it in .env}}\"\n  |                ^\n  = in Application/db, field local.env.PASSWORD\n",
        file.display()
    );
    assert_eq!(out.err(), want);
    assert_eq!(out.code, Some(1));
    // Defined in .env, it loads.
    c.write(".env", "DB_T_PASSWORD=s3cret\n");
    let out = c.lcc(&["validate"]);
    assert_eq!(out.code, Some(0), "{}", out.err());
}
