//! No shell injection: arbitrary strings as command items and env values reach the
//! program started by a real pod (dash and bash) byte for byte; `${NAME}` in a command
//! item expands to that variable of the pod's environment and nothing else expands.

use crate::support::pod::*;
use lcc_compiler::podspec::{Command, EnvVar};
use lcc_compiler::render::{split_refs, ArgPart};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::collections::HashMap;
use std::time::Duration;

/// Writes its argv (after the output path) and environment as hex bytes, then renames
/// the file into place so that the test never reads half of it.
const DUMP: &str = r#"
import json, os, sys
out = sys.argv[1]
doc = {
    "argv": [os.fsencode(a).hex() for a in sys.argv[2:]],
    "env": {k.hex(): v.hex() for k, v in os.environb.items()},
}
with open(out + ".tmp", "w") as f:
    json.dump(doc, f)
os.rename(out + ".tmp", out)
"#;

/// Pieces that shells treat specially, mixed with arbitrary characters.
fn nasty() -> impl Strategy<Value = String> {
    let token = prop::sample::select(vec![
        "'",
        "\"",
        "$",
        "`",
        "\\",
        "\n",
        "\t",
        " ",
        "é",
        "日本",
        "-",
        "--x",
        "-e",
        "${X}",
        "${LCC_PORT_HTTP}",
        "${HOME}",
        "$HOME",
        "$(id)",
        "`id`",
        "${",
        "}",
        "$((1+1))",
        "*",
        "?",
        "[a]",
        "~",
        "!",
        ";",
        "&",
        "|",
        "<",
        ">",
        "#",
        "%s",
        "\\n",
        "'\\''",
        "=",
    ])
    .prop_map(str::to_string);
    let any_char = any::<char>()
        .prop_filter("no NUL", |c| *c != '\0')
        .prop_map(|c| c.to_string());
    prop::collection::vec(prop_oneof![3 => token, 1 => any_char], 0..8).prop_map(|v| v.concat())
}

/// One generated case: command items and values of a few env variables.
fn case() -> impl Strategy<Value = (Vec<String>, Vec<String>)> {
    (
        prop::collection::vec(nasty(), 0..6),
        prop::collection::vec(nasty(), 1..4),
    )
}

/// Decodes the hex the dump program wrote.
fn unhex(text: &serde_json::Value) -> Vec<u8> {
    let text = text.as_str().expect("hex string");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

/// What the pod must pass for `item`: literals as they are, `${NAME}` from `env`.
fn expected(item: &str, env: &HashMap<Vec<u8>, Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::new();
    for part in split_refs(item) {
        match part {
            ArgPart::Lit(text) => out.extend_from_slice(text.as_bytes()),
            ArgPart::Var(name) => {
                out.extend_from_slice(env.get(name.as_bytes()).map_or(&[][..], |v| v))
            }
        }
    }
    out
}

/// Runs one case through a real pod under `shell`.
fn check(shell: &'static str, items: &[String], values: &[String]) -> Result<(), TestCaseError> {
    let work = tempfile::tempdir().expect("tempdir");
    let script = work.path().join("dump.py");
    let out = work.path().join("out.json");
    std::fs::write(&script, DUMP).expect("write dump.py");
    let mut argv = vec![
        python(),
        "-S".to_string(),
        script.display().to_string(),
        out.display().to_string(),
    ];
    argv.extend(items.iter().cloned());
    let mut spec = local_cmd("inject", Command::Argv(argv));
    spec.interfaces = vec![iface("http", None)];
    spec.env = values
        .iter()
        .enumerate()
        .map(|(i, v)| EnvVar {
            name: format!("T_VAR{i}"),
            value: v.clone(),
        })
        .collect();
    let pod = Pod::new(&spec, shell);
    // pod.env is read, never sourced: odd keys are skipped, values exported as they are.
    let pod_env_value = values[0].replace(['\n', '\r'], " ");
    let pwned = work.path().join("pwned");
    let pod_env = format!(
        "T_PODENV={pod_env_value}\n$(touch {p})=x\nBAD KEY=x\n_lcc_dir=/\nIFS=x\n`touch {p}`\n",
        p = pwned.display()
    );
    std::fs::write(pod.dir().join("pod.env"), pod_env).expect("write pod.env");
    pod.ok(&["run"]);
    prop_assert!(
        wait_until(Duration::from_secs(30), || out.exists()),
        "no output; stderr log: {}",
        pod.read("log/stderr.log")
    );
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out).expect("read")).expect("json");
    let env: HashMap<Vec<u8>, Vec<u8>> = doc["env"]
        .as_object()
        .expect("env")
        .iter()
        .map(|(k, v)| (unhex(&serde_json::Value::String(k.clone())), unhex(v)))
        .collect();
    for var in &spec.env {
        prop_assert_eq!(
            env.get(var.name.as_bytes()),
            Some(&var.value.as_bytes().to_vec()),
            "env {}",
            &var.name
        );
    }
    prop_assert_eq!(
        env.get(&b"T_PODENV"[..]),
        Some(&pod_env_value.as_bytes().to_vec())
    );
    prop_assert!(!pwned.exists());
    prop_assert!(!env.contains_key(&b"_lcc_dir"[..]));
    let port = pod
        .read("pod.env")
        .lines()
        .find_map(|l| l.strip_prefix("LCC_PORT_HTTP=").map(str::to_string))
        .expect("port in pod.env");
    prop_assert_eq!(
        env.get(&b"LCC_PORT_HTTP"[..]),
        Some(&port.as_bytes().to_vec())
    );
    let got: Vec<Vec<u8>> = doc["argv"]
        .as_array()
        .expect("argv")
        .iter()
        .map(unhex)
        .collect();
    let want: Vec<Vec<u8>> = items.iter().map(|i| expected(i, &env)).collect();
    prop_assert_eq!(got, want);
    Ok(())
}

/// Runs the property under one shell.
fn property(shell: &'static str) {
    {
        let mut runner = TestRunner::new(Config {
            cases: 64,
            failure_persistence: None,
            ..Config::default()
        });
        runner
            .run(&case(), |(items, values)| check(shell, &items, &values))
            .unwrap_or_else(|err| panic!("{shell}: {err}"));
    }
}

#[test]
fn manifest_strings_reach_the_program_byte_for_byte_dash() {
    property(SHELLS[0]);
}

#[test]
fn manifest_strings_reach_the_program_byte_for_byte_bash() {
    property(SHELLS[1]);
}

#[test]
fn only_braced_names_expand() {
    for shell in SHELLS {
        let items: Vec<String> = [
            "${LCC_PORT_HTTP}",
            "x${T_VAR0}y",
            "$T_VAR0",
            "$(echo no)",
            "${T_VAR0",
            "${}",
            "${UNSET_LCC_TEST_VAR}",
            "'${T_VAR0}'",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let values = vec!["v a'l".to_string()];
        check(shell, &items, &values).unwrap_or_else(|e| panic!("{shell}: {e}"));
        let env = HashMap::from([(b"T_VAR0".to_vec(), b"v a'l".to_vec())]);
        assert_eq!(expected("x${T_VAR0}y", &env), b"xv a'ly");
        assert_eq!(expected("'${T_VAR0}'", &env), b"'v a'l'");
        assert_eq!(expected("${UNSET_LCC_TEST_VAR}", &env), b"");
    }
}
