//! `lcc validate`: each kind of invalid manifest gives its own message with file,
//! line, column, object and field, asserted word for word; every error is listed;
//! valid clusters pass with a summary.

use std::path::Path;
use std::process::{Command, Output};

/// Runs the real `lcc` from the repository root.
fn lcc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lcc"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run lcc")
}

/// `lcc validate tests/fixtures/invalid/CASE` fails with exactly `expected` on stderr,
/// and `lcc compile` of it fails the same way and writes nothing.
fn assert_invalid(case: &str, expected: &str) {
    let path = format!("tests/fixtures/invalid/{case}");
    let out = lcc(&["validate", &path]);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        expected,
        "stderr of lcc validate {path}"
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "exit code of lcc validate {path}"
    );
    assert!(out.stdout.is_empty(), "nothing on stdout");

    let tmp = tempfile::tempdir().expect("tempdir");
    let pods = tmp.path().join("pods");
    let out = lcc(&["compile", &path, "-o", pods.to_str().expect("utf-8 path")]);
    let expected = format!("{}; nothing written\n", expected.trim_end());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        expected,
        "stderr of lcc compile {path}"
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "exit code of lcc compile {path}"
    );
    assert!(!pods.exists(), "lcc compile {path} wrote nothing");
}

#[test]
fn hidden_characters_in_a_name_are_shown_escaped() {
    // U+202E (right-to-left override) would make a terminal show the line reordered
    assert_invalid(
        "rtl-name.yaml",
        r#"error: invalid name `ab\u{202e}cd`: use 1-63 lowercase letters, digits and `-`, starting with a letter and not ending with `-`
 --> tests/fixtures/invalid/rtl-name.yaml:2:7
  |
2 | name: ab\u{202e}cd
  |       ^
  = in Storage/ab\u{202e}cd, field name

found 1 error
"#,
    );
}

#[test]
fn valid_clusters_pass_with_a_summary() {
    let expected = [
        ("tests/fixtures/valid/local", "ok: 10 objects in 2 files\n"),
        ("tests/fixtures/valid/static", "ok: 5 objects in 1 file\n"),
        ("tests/fixtures/valid/remote", "ok: 4 objects in 1 file\n"),
        ("examples/demo", "ok: 19 objects in 5 files\n"),
        ("examples/hosts", "ok: 9 objects in 2 files\n"),
    ];
    for (dir, summary) in expected {
        let out = lcc(&["validate", dir]);
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "stderr for {dir}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            summary,
            "stdout for {dir}"
        );
        assert_eq!(out.status.code(), Some(0));
    }
}

#[test]
fn without_paths_validates_the_cluster_dir_of_dash_c() {
    let out = lcc(&["-C", "tests/fixtures/valid/remote", "validate"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "ok: 4 objects in 1 file\n"
    );
    assert_eq!(out.status.code(), Some(0));
    let out = lcc(&["-C", "tests/fixtures/invalid/many", "validate"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).ends_with("found 4 errors\n"));
}

#[test]
fn files_and_dirs_can_be_mixed() {
    let out = lcc(&[
        "validate",
        "tests/fixtures/valid/remote/remote.yaml",
        "tests/fixtures/valid/static",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "ok: 9 objects in 2 files\n"
    );
}

#[test]
fn missing_path_is_an_error() {
    let out = lcc(&["validate", "tests/fixtures/no-such-dir/x.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: cannot read file: No such file or directory")
            && stderr.contains(" --> tests/fixtures/no-such-dir/x.yaml\n"),
        "{stderr}"
    );
}

#[test]
fn bad_usage_exits_2() {
    let out = lcc(&["validate", "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn every_invalid_fixture_is_covered() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid");
    let this = include_str!("validate.rs");
    for entry in std::fs::read_dir(dir).expect("fixtures") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        let quoted = format!("\"{name}\"");
        assert!(this.contains(&quoted), "fixture {name} has no test");
    }
}

#[test]
fn syntax_error_is_reported_with_position() {
    assert_invalid(
        "syntax.yaml",
        r#"error: invalid YAML: invalid indentation in flow construct
 --> tests/fixtures/invalid/syntax.yaml:4:1
  |
4 | type: local
  | ^

found 1 error
"#,
    );
}

#[test]
fn unknown_fields_are_all_reported_including_nested() {
    assert_invalid(
        "unknown-field.yaml",
        r#"error: unknown field `cwd`, expected one of: os, arch, command, shell
 --> tests/fixtures/invalid/unknown-field.yaml:8:7
  |
8 |       cwd: /tmp
  |       ^
  = in Application/hello, field local.platforms[0].cwd

error: unknown field `prot`; did you mean `port`?
  --> tests/fixtures/invalid/unknown-field.yaml:10:34
   |
10 |   - {name: http, protocol: http, prot: 80}
   |                                  ^
   = in Application/hello, field interfaces[0].prot

found 2 errors
"#,
    );
}

#[test]
fn bad_name() {
    assert_invalid(
        "bad-name.yaml",
        r#"error: invalid name `My_Data`: use 1-63 lowercase letters, digits and `-`, starting with a letter and not ending with `-`
 --> tests/fixtures/invalid/bad-name.yaml:2:7
  |
2 | name: My_Data
  |       ^
  = in Storage/My_Data, field name

found 1 error
"#,
    );
}

#[test]
fn dangling_app_reference() {
    assert_invalid(
        "dangling-reference.yaml",
        r#"error: no Application named `helo`
 --> tests/fixtures/invalid/dangling-reference.yaml:3:6
  |
3 | app: helo
  |      ^
  = in InstanceGroup/hello, field app

found 1 error
"#,
    );
}

#[test]
fn two_gateways_on_one_port() {
    assert_invalid(
        "port-collision.yaml",
        r#"error: port 9000 is already used by Gateway `public` (tests/fixtures/invalid/port-collision.yaml:13:7)
  --> tests/fixtures/invalid/port-collision.yaml:19:7
   |
19 | port: 9000
   |       ^
   = in Gateway/internal, field port

found 1 error
"#,
    );
}

#[test]
fn bad_duration() {
    assert_invalid(
        "bad-duration.yaml",
        r#"error: invalid duration `5`: write a whole number followed by ms, s, m or h (e.g. 500ms, 2s, 1m)
 --> tests/fixtures/invalid/bad-duration.yaml:9:11
  |
9 |   period: 5
  |           ^
  = in Application/hello, field probe.period

found 1 error
"#,
    );
}

#[test]
fn unknown_kind() {
    assert_invalid(
        "unknown-kind.yaml",
        r#"error: unknown kind `Deployment`, expected one of: Cluster, Application, Instance, InstanceGroup, Gateway, Entrance, Storage, Host
 --> tests/fixtures/invalid/unknown-kind.yaml:1:7
  |
1 | kind: Deployment
  |       ^
  = in Deployment/hello, field kind

found 1 error
"#,
    );
}

#[test]
fn port_out_of_range() {
    assert_invalid(
        "bad-port.yaml",
        r#"error: port 70000 is out of range 1-65535
 --> tests/fixtures/invalid/bad-port.yaml:3:7
  |
3 | port: 70000
  |       ^
  = in Gateway/hello, field port

error: no InstanceGroup or Instance named `hello`
 --> tests/fixtures/invalid/bad-port.yaml:4:9
  |
4 | target: hello
  |         ^
  = in Gateway/hello, field target

found 2 errors
"#,
    );
}

#[test]
fn platform_os_arch_command_and_env() {
    assert_invalid(
        "platform.yaml",
        r#"error: unknown os `windows`, expected one of: linux, darwin, freebsd, openbsd, netbsd
 --> tests/fixtures/invalid/platform.yaml:6:11
  |
6 |     - os: windows
  |           ^
  = in Application/hello, field local.platforms[0].os

error: unknown arch `sparc`, expected one of: x86_64, amd64, aarch64, arm64, armv6l, armv7l, i386, i686, riscv64, ppc64le, s390x
 --> tests/fixtures/invalid/platform.yaml:7:22
  |
7 |       arch: [x86_64, sparc]
  |                      ^
  = in Application/hello, field local.platforms[0].arch[1]

error: give either `command` or `shell`, not both
 --> tests/fixtures/invalid/platform.yaml:9:7
  |
9 |       shell: ./server
  |       ^
  = in Application/hello, field local.platforms[0].shell

error: missing field `command` (an argv list) or `shell` (a script)
  --> tests/fixtures/invalid/platform.yaml:10:7
   |
10 |     - os: linux
   |       ^
   = in Application/hello, field local.platforms[1]

error: command must not be empty
  --> tests/fixtures/invalid/platform.yaml:12:16
   |
12 |       command: []
   |                ^
   = in Application/hello, field local.platforms[2].command

error: invalid environment variable name `1BAD`: use letters, digits and `_`, not starting with a digit
  --> tests/fixtures/invalid/platform.yaml:13:15
   |
13 |   env: {1BAD: x, LCC_PORT_HTTP: "80"}
   |               ^
   = in Application/hello, field local.env.1BAD

error: environment variable `LCC_PORT_HTTP` is reserved: names starting with LCC_ are set by the pod
  --> tests/fixtures/invalid/platform.yaml:13:33
   |
13 |   env: {1BAD: x, LCC_PORT_HTTP: "80"}
   |                                 ^
   = in Application/hello, field local.env.LCC_PORT_HTTP

found 7 errors
"#,
    );
}

#[test]
fn static_app_rules() {
    assert_invalid(
        "static.yaml",
        r#"error: missing field `archive`
 --> tests/fixtures/invalid/static.yaml:5:3
  |
5 |   sha256: abc123
  |   ^
  = in Application/site, field static.archive

error: invalid sha256 `abc123`: expected 64 hexadecimal digits
 --> tests/fixtures/invalid/static.yaml:5:11
  |
5 |   sha256: abc123
  |           ^
  = in Application/site, field static.sha256

error: invalid path `../etc`: it must be relative and must not contain `..`
 --> tests/fixtures/invalid/static.yaml:6:9
  |
6 |   root: ../etc
  |         ^
  = in Application/site, field static.root

error: a static application has exactly one interface, of protocol http
 --> tests/fixtures/invalid/static.yaml:8:3
  |
8 |   - {name: http, protocol: http}
  |   ^
  = in Application/site, field interfaces

found 4 errors
"#,
    );
}

#[test]
fn remote_app_rules_and_duplicate_interface() {
    assert_invalid(
        "remote.yaml",
        r#"error: missing field `host`
 --> tests/fixtures/invalid/remote.yaml:4:9
  |
4 | remote: {}
  |         ^
  = in Application/db, field remote.host

error: `local` is only allowed in an application of type local
 --> tests/fixtures/invalid/remote.yaml:5:1
  |
5 | local: {platforms: []}
  | ^
  = in Application/db, field local

error: interface `sql` of a remote application needs a fixed port
 --> tests/fixtures/invalid/remote.yaml:7:5
  |
7 |   - {name: sql, protocol: tcp}
  |     ^
  = in Application/db, field interfaces[0]

error: duplicate interface `sql`
 --> tests/fixtures/invalid/remote.yaml:8:12
  |
8 |   - {name: sql, protocol: tcp, port: 5432}
  |            ^
  = in Application/db, field interfaces[1].name

found 4 errors
"#,
    );
}

#[test]
fn probe_restart_and_stop_values() {
    assert_invalid(
        "probe-restart-stop.yaml",
        r#"error: no interface `web`, expected one of: http
 --> tests/fixtures/invalid/probe-restart-stop.yaml:8:21
  |
8 |   http: {interface: web, path: health}
  |                     ^
  = in Application/hello, field probe.http.interface

error: path must start with `/`
 --> tests/fixtures/invalid/probe-restart-stop.yaml:8:32
  |
8 |   http: {interface: web, path: health}
  |                                ^
  = in Application/hello, field probe.http.path

error: timeout must be longer than 0
 --> tests/fixtures/invalid/probe-restart-stop.yaml:9:12
  |
9 |   timeout: 0s
  |            ^
  = in Application/hello, field probe.timeout

error: unknown restart policy `sometimes`, expected one of: always, on-failure, never
  --> tests/fixtures/invalid/probe-restart-stop.yaml:10:19
   |
10 | restart: {policy: sometimes}
   |                   ^
   = in Application/hello, field restart.policy

error: unknown signal `SIGTERM`, expected one of: TERM, INT, QUIT, HUP, KILL, USR1, USR2
  --> tests/fixtures/invalid/probe-restart-stop.yaml:11:16
   |
11 | stop: {signal: SIGTERM}
   |                ^
   = in Application/hello, field stop.signal

found 5 errors
"#,
    );
}

#[test]
fn backoff_order_and_fractional_duration() {
    assert_invalid(
        "restart-backoff.yaml",
        r#"error: backoff max must not be shorter than initial
 --> tests/fixtures/invalid/restart-backoff.yaml:6:55
  |
6 | restart: {policy: always, backoff: {initial: 1m, max: 10s}}
  |                                                       ^
  = in Application/hello, field restart.backoff.max

error: invalid duration `1.5s`: write a whole number followed by ms, s, m or h (e.g. 500ms, 2s, 1m)
 --> tests/fixtures/invalid/restart-backoff.yaml:7:31
  |
7 | stop: {signal: TERM, timeout: 1.5s}
  |                               ^
  = in Application/hello, field stop.timeout

found 2 errors
"#,
    );
}

#[test]
fn storage_binding_reference_and_path() {
    assert_invalid(
        "storage.yaml",
        r#"error: no Storage named `date`; did you mean `data`?
  --> tests/fixtures/invalid/storage.yaml:10:15
   |
10 |   - {storage: date, path: data}
   |               ^
   = in Application/hello, field storage[0].storage

error: invalid path `../outside`: it must be relative and must not contain `..`
  --> tests/fixtures/invalid/storage.yaml:11:27
   |
11 |   - {storage: data, path: ../outside}
   |                           ^
   = in Application/hello, field storage[1].path

found 2 errors
"#,
    );
}

#[test]
fn duplicate_objects_and_instance_named_like_group() {
    assert_invalid(
        "duplicates.yaml",
        r#"error: duplicate Application `hello`; the first is at tests/fixtures/invalid/duplicates.yaml:2:7
 --> tests/fixtures/invalid/duplicates.yaml:8:7
  |
8 | name: hello
  |       ^
  = in Application/hello, field name

error: an Instance cannot have the name of InstanceGroup `hello`
  --> tests/fixtures/invalid/duplicates.yaml:18:7
   |
18 | name: hello
   |       ^
   = in Instance/hello, field name

error: `hello-2` is the name of a replica of InstanceGroup `hello`
  --> tests/fixtures/invalid/duplicates.yaml:22:7
   |
22 | name: hello-2
   |       ^
   = in Instance/hello-2, field name

found 3 errors
"#,
    );
}

#[test]
fn entrance_hosts_tls_and_the_https_listener() {
    assert_invalid(
        "entrance-hosts.yaml",
        r#"error: duplicate host `docs.localhost`; the first is Entrance/docs at tests/fixtures/invalid/entrance-hosts.yaml:21:7
  --> tests/fixtures/invalid/entrance-hosts.yaml:26:7
   |
26 | host: docs.localhost
   |       ^
   = in Entrance/again, field host

error: invalid host `Docs.Localhost`: use lower case
  --> tests/fixtures/invalid/entrance-hosts.yaml:31:7
   |
31 | host: Docs.Localhost
   |       ^
   = in Entrance/upper, field host

error: invalid host `docs.*.localhost`: `*` is only allowed as the whole first label, as in `*.localhost`
  --> tests/fixtures/invalid/entrance-hosts.yaml:36:7
   |
36 | host: "docs.*.localhost"
   |       ^
   = in Entrance/star, field host

error: invalid host `docs.localhost:8080`: a host rule has no port: it matches on every port
  --> tests/fixtures/invalid/entrance-hosts.yaml:41:7
   |
41 | host: "docs.localhost:8080"
   |       ^
   = in Entrance/port, field host

error: a certificate is served for the entrance's `host`: set one
  --> tests/fixtures/invalid/entrance-hosts.yaml:46:6
   |
46 | tls: {cert: certs/a.pem, key: certs/a.key}
   |      ^
   = in Entrance/nohost, field tls

error: missing field `key`
  --> tests/fixtures/invalid/entrance-hosts.yaml:52:6
   |
52 | tls: {cert: ../outside.pem}
   |      ^
   = in Entrance/climb, field tls.key

error: `../outside.pem` must not contain `..`
  --> tests/fixtures/invalid/entrance-hosts.yaml:52:13
   |
52 | tls: {cert: ../outside.pem}
   |             ^
   = in Entrance/climb, field tls.cert

error: invalid listen address `localhost`: write HOST:PORT, e.g. 127.0.0.1:8080
  --> tests/fixtures/invalid/entrance-hosts.yaml:55:17
   |
55 | https: {listen: "localhost", redirect: true}
   |                 ^
   = in Cluster, field https.listen

found 8 errors
"#,
    );
}

#[test]
fn acme_entrances() {
    assert_invalid(
        "entrance-acme.yaml",
        r#"error: the certificate comes from `acme` or from `cert` and `key` files, not both
  --> tests/fixtures/invalid/entrance-acme.yaml:28:9
   |
28 |   acme: {directory: "https://acme.example.com/dir"}
   |         ^
   = in Entrance/both, field tls.acme

error: HTTP-01 cannot prove a wildcard name (`*.example.com`): use an exact host
  --> tests/fixtures/invalid/entrance-acme.yaml:34:13
   |
34 | tls: {acme: {directory: "https://acme.example.com/dir"}}
   |             ^
   = in Entrance/star, field tls.acme

error: invalid ACME directory `http://acme.example.com/dir`: write its https URL, e.g. https://acme-v02.api.letsencrypt.org/directory
  --> tests/fixtures/invalid/entrance-acme.yaml:41:21
   |
41 |   acme: {directory: "http://acme.example.com/dir", email: "ops at example.com", ca: ../pebble.pem}
   |                     ^
   = in Entrance/plain, field tls.acme.directory

error: invalid email `ops at example.com`: write an address such as ops@example.com
  --> tests/fixtures/invalid/entrance-acme.yaml:41:59
   |
41 |   acme: {directory: "http://acme.example.com/dir", email: "ops at example.com", ca: ../pebble.pem}
   |                                                           ^
   = in Entrance/plain, field tls.acme.email

error: `../pebble.pem` must not contain `..`
  --> tests/fixtures/invalid/entrance-acme.yaml:41:85
   |
41 |   acme: {directory: "http://acme.example.com/dir", email: "ops at example.com", ca: ../pebble.pem}
   |                                                                                     ^
   = in Entrance/plain, field tls.acme.ca

error: missing field `directory`
  --> tests/fixtures/invalid/entrance-acme.yaml:47:13
   |
47 | tls: {acme: {email: ops@example.com}}
   |             ^
   = in Entrance/nodir, field tls.acme.directory

found 6 errors
"#,
    );
}

#[test]
fn an_acme_entrance_needs_the_https_listener() {
    assert_invalid(
        "entrance-acme-no-https.yaml",
        r#"error: an ACME certificate is served on the https listener: set `https` on the Cluster
  --> tests/fixtures/invalid/entrance-acme-no-https.yaml:22:13
   |
22 | tls: {acme: {directory: "https://acme.example.com/dir", email: ops@example.com}}
   |             ^
   = in Entrance/shop, field tls.acme

found 1 error
"#,
    );
}

#[test]
fn gateway_entrance_and_probe_references() {
    assert_invalid(
        "references.yaml",
        r#"error: no interface `http`, expected one of: sql
  --> tests/fixtures/invalid/references.yaml:12:20
   |
12 |   tcp: {interface: http}
   |                    ^
   = in Instance/db, field probe.tcp.interface

error: no InstanceGroup or Instance named `redis`
  --> tests/fixtures/invalid/references.yaml:23:9
   |
23 | target: redis
   |         ^
   = in Gateway/cache, field target

error: no interface `http`, expected one of: sql
  --> tests/fixtures/invalid/references.yaml:30:12
   |
30 | interface: http
   |            ^
   = in Gateway/db-http, field interface

error: gateway `db` speaks tcp; an entrance needs an http gateway
  --> tests/fixtures/invalid/references.yaml:34:10
   |
34 | gateway: db
   |          ^
   = in Entrance/db, field gateway

error: no Gateway named `nowhere`
  --> tests/fixtures/invalid/references.yaml:38:10
   |
38 | gateway: nowhere
   |          ^
   = in Entrance/gone, field gateway

found 5 errors
"#,
    );
}

#[test]
fn cluster_settings_and_second_cluster() {
    assert_invalid(
        "cluster.yaml",
        r#"error: invalid listen address `localhost`: write HOST:PORT, e.g. 127.0.0.1:8080
 --> tests/fixtures/invalid/cluster.yaml:3:7
  |
3 | http: localhost
  |       ^
  = in Cluster/demo, field http

error: invalid port range `32000-31000`: write LO-HI with 1 <= LO <= HI <= 65535 (e.g. 30000-31999)
 --> tests/fixtures/invalid/cluster.yaml:4:12
  |
4 | hostPorts: 32000-31000
  |            ^
  = in Cluster/demo, field hostPorts

error: only one Cluster document is allowed; the first is at tests/fixtures/invalid/cluster.yaml:1:1
 --> tests/fixtures/invalid/cluster.yaml:6:7
  |
6 | kind: Cluster
  |       ^
  = in Cluster/other, field kind

found 3 errors
"#,
    );
}

#[test]
fn missing_fields_kind_and_non_mapping_documents() {
    assert_invalid(
        "missing-fields.yaml",
        r#"error: missing field `port`
 --> tests/fixtures/invalid/missing-fields.yaml:1:1
  |
1 | kind: Gateway
  | ^
  = in Gateway/hello, field port

error: missing field `target`
 --> tests/fixtures/invalid/missing-fields.yaml:1:1
  |
1 | kind: Gateway
  | ^
  = in Gateway/hello, field target

error: missing field `interface`
 --> tests/fixtures/invalid/missing-fields.yaml:1:1
  |
1 | kind: Gateway
  | ^
  = in Gateway/hello, field interface

error: missing field `type`, expected one of: local, static, remote
 --> tests/fixtures/invalid/missing-fields.yaml:4:1
  |
4 | kind: Application
  | ^
  = in Application/hello, field type

error: missing field `kind`, expected one of: Cluster, Application, Instance, InstanceGroup, Gateway, Entrance, Storage, Host
 --> tests/fixtures/invalid/missing-fields.yaml:7:1
  |
7 | name: orphan
  | ^

error: a manifest document must be a mapping with a `kind`
 --> tests/fixtures/invalid/missing-fields.yaml:9:1
  |
9 | - just
  | ^

found 6 errors
"#,
    );
}

#[test]
fn fixed_ports_collide_with_listener_gateway_and_replicas() {
    assert_invalid(
        "fixed-ports.yaml",
        r#"error: port 8080 is already used by the cluster's http listener (default 127.0.0.1:8080)
  --> tests/fixtures/invalid/fixed-ports.yaml:10:6
   |
10 | app: api
   |      ^
   = in InstanceGroup/api, field app

error: 2 replicas cannot share port 8080, fixed by interface `http` of application `api`
  --> tests/fixtures/invalid/fixed-ports.yaml:11:11
   |
11 | replicas: 2
   |           ^
   = in InstanceGroup/api, field replicas

error: port 9000 is already used by interface `http` of Instance `admin` (tests/fixtures/invalid/fixed-ports.yaml:22:6)
  --> tests/fixtures/invalid/fixed-ports.yaml:26:7
   |
26 | port: 9000
   |       ^
   = in Gateway/admin, field port

found 3 errors
"#,
    );
}

#[test]
fn wrong_type() {
    assert_invalid(
        "type-error.yaml",
        r#"error: invalid type: sequence, expected i64
 --> tests/fixtures/invalid/type-error.yaml:4:11
  |
4 | replicas: [3]
  |           ^
  = in InstanceGroup/hello, field replicas

found 1 error
"#,
    );
}

#[test]
fn errors_of_several_files_are_all_listed() {
    assert_invalid(
        "many",
        r#"error: invalid name `Hello`: use 1-63 lowercase letters, digits and `-`, starting with a letter and not ending with `-`
 --> tests/fixtures/invalid/many/a.yaml:2:7
  |
2 | name: Hello
  |       ^
  = in Application/Hello, field name

error: port 0 is out of range 1-65535
 --> tests/fixtures/invalid/many/a.yaml:6:49
  |
6 | interfaces: [{name: http, protocol: http, port: 0}]
  |                                                 ^
  = in Application/Hello, field interfaces[0].port

error: no InstanceGroup or Instance named `nothing`
 --> tests/fixtures/invalid/many/b.yaml:4:9
  |
4 | target: nothing
  |         ^
  = in Gateway/hello, field target

error: unknown field `colour`, expected one of: kind, name, port, address, target, interface, timeouts, trustedProxies, profiles
 --> tests/fixtures/invalid/many/b.yaml:6:1
  |
6 | colour: blue
  | ^
  = in Gateway/hello, field colour

found 4 errors
"#,
    );
}

#[test]
fn choices_and_override_rules() {
    assert_invalid(
        "overrides.yaml",
        r#"error: unknown protocol `udp`, expected one of: http, tcp
 --> tests/fixtures/invalid/overrides.yaml:5:37
  |
5 | interfaces: [{name: http, protocol: udp, port: 443}]
  |                                     ^
  = in Application/api, field interfaces[0].protocol

error: unknown state `paused`, expected one of: running, stopped
  --> tests/fixtures/invalid/overrides.yaml:10:8
   |
10 | state: paused
   |        ^
   = in Instance/api, field state

error: env is only for local applications: static and remote ones run no program of yours
  --> tests/fixtures/invalid/overrides.yaml:11:1
   |
11 | env: {TOKEN: x}
   | ^
   = in Instance/api, field env

error: exec must not be empty
  --> tests/fixtures/invalid/overrides.yaml:13:9
   |
13 |   exec: []
   |         ^
   = in Instance/api, field probe.exec

found 4 errors
"#,
    );
}

#[test]
fn duplicate_keys() {
    assert_invalid(
        "duplicate-key.yaml",
        r#"error: duplicate key `MODE`; the first is at line 7
 --> tests/fixtures/invalid/duplicate-key.yaml:8:5
  |
8 |     MODE: prod
  |     ^
  = in Application/hello, field local.env.MODE

error: duplicate key `type`; the first is at line 3
 --> tests/fixtures/invalid/duplicate-key.yaml:9:1
  |
9 | type: remote
  | ^
  = in Application/hello, field type

found 2 errors
"#,
    );
}

#[test]
fn typos_get_a_suggestion() {
    assert_invalid(
        "typos.yaml",
        r#"error: no Application named `helo`; did you mean `hello`?
  --> tests/fixtures/invalid/typos.yaml:10:6
   |
10 | app: helo
   |      ^
   = in InstanceGroup/hello, field app

error: unknown field `replica`; did you mean `replicas`?
  --> tests/fixtures/invalid/typos.yaml:11:1
   |
11 | replica: 2
   | ^
   = in InstanceGroup/hello, field replica

error: no InstanceGroup or Instance named `helo`; did you mean `hello`?
  --> tests/fixtures/invalid/typos.yaml:16:9
   |
16 | target: helo
   |         ^
   = in Gateway/hello, field target

error: no Gateway named `helo`; did you mean `hello`?
  --> tests/fixtures/invalid/typos.yaml:21:10
   |
21 | gateway: helo
   |          ^
   = in Entrance/hello, field gateway

found 4 errors
"#,
    );
}

#[test]
fn misspelt_kind_gets_a_suggestion() {
    assert_invalid(
        "typo-kind.yaml",
        r#"error: unknown kind `Gatway`; did you mean `Gateway`?
 --> tests/fixtures/invalid/typo-kind.yaml:1:7
  |
1 | kind: Gatway
  |       ^
  = in Gatway/hello, field kind

found 1 error
"#,
    );
}

#[test]
fn unused_app_and_instance_cannot_share_a_pod_name() {
    assert_invalid(
        "pod-name.yaml",
        r#"error: Application `tool` is used by no Instance or InstanceGroup, so it gets a pod of its own, but Instance `tool` has the same pod name
 --> tests/fixtures/invalid/pod-name.yaml:2:7
  |
2 | name: tool
  |       ^
  = in Application/tool, field name

found 1 error
"#,
    );
}

/// A cluster in a throwaway directory, validated with `HOME` at a fake home inside it.
fn validate_in_temp(files: &[(&str, &str)]) -> (tempfile::TempDir, std::path::PathBuf, Output) {
    let top = tempfile::tempdir().expect("tempdir");
    let top_path = std::fs::canonicalize(top.path()).expect("canonical");
    let dir = top_path.join("cluster");
    std::fs::create_dir_all(dir.join("sub")).expect("mkdir");
    std::fs::create_dir_all(top_path.join("home/me")).expect("mkdir");
    std::os::unix::fs::symlink(&dir, dir.join("sub/back")).expect("symlink");
    for (name, text) in files {
        std::fs::write(dir.join(name), text).expect("write manifest");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_lcc"))
        .args(["validate", dir.to_str().expect("utf-8")])
        .env("HOME", top_path.join("home/me"))
        .output()
        .expect("run lcc");
    (top, dir, out)
}

#[test]
fn storage_folders_lcc_must_never_delete_are_refused() {
    let yaml = "kind: Storage\nname: here\npath: .\n---\nkind: Storage\nname: up\npath: ..\n---\nkind: Storage\nname: root\npath: /\n---\nkind: Storage\nname: home\npath: \"~\"\n---\nkind: Storage\nname: sneaky\npath: sub/back\n---\nkind: Storage\nname: state\npath: .lcc/pods\n---\nkind: Storage\nname: st\n---\nkind: Storage\nname: old-cache\npath: .lcc/storage/st\n---\nkind: Storage\nname: a\npath: data/a\n---\nkind: Storage\nname: b\npath: ./data/a/b/\n---\nkind: Storage\nname: c\npath: ~/data\n---\nkind: Storage\nname: d\npath: ~other/data\n";
    let (_top, dir, out) = validate_in_temp(&[("storage.yaml", yaml)]);
    let d = dir.display().to_string();
    let f = format!("{d}/storage.yaml");
    let top = dir.parent().expect("parent").display().to_string();
    let expected = format!(
        r#"error: storage path `.` is {d}, which lcc never uses as a storage: it is the cluster directory
 --> {f}:3:7
  |
3 | path: .
  |       ^
  = in Storage/here, field path

error: storage path `..` is {top}, which lcc never uses as a storage: it holds the cluster directory {d}
 --> {f}:7:7
  |
7 | path: ..
  |       ^
  = in Storage/up, field path

error: storage path `/` is /, which lcc never uses as a storage: it is the root of the file system
  --> {f}:11:7
   |
11 | path: /
   |       ^
   = in Storage/root, field path

error: storage path `~` is {top}/home/me, which lcc never uses as a storage: it is your home directory
  --> {f}:15:7
   |
15 | path: "~"
   |       ^
   = in Storage/home, field path

error: storage path `sub/back` is {d}, which lcc never uses as a storage: it is the cluster directory
  --> {f}:19:7
   |
19 | path: sub/back
   |       ^
   = in Storage/sneaky, field path

error: storage path `.lcc/pods` is {d}/.lcc/pods, inside the cluster's state directory .lcc/; only a storage's own default place (.lcc/storage/state) is allowed there: leave `path` out
  --> {f}:23:7
   |
23 | path: .lcc/pods
   |       ^
   = in Storage/state, field path

error: storage path `.lcc/storage/st` is {d}/.lcc/storage/st, inside the cluster's state directory .lcc/; only a storage's own default place (.lcc/storage/old-cache) is allowed there: leave `path` out
  --> {f}:30:7
   |
30 | path: .lcc/storage/st
   |       ^
   = in Storage/old-cache, field path

error: storage `b` ({d}/data/a/b) is inside the folder of storage `a` at {f}:34:7: two storages must not share or nest folders
  --> {f}:38:7
   |
38 | path: ./data/a/b/
   |       ^
   = in Storage/b, field path

error: storage path `~other/data`: only `~` and `~/...` are expanded; write the full path
  --> {f}:46:7
   |
46 | path: ~other/data
   |       ^
   = in Storage/d, field path

found 9 errors
"#
    );
    assert_eq!(String::from_utf8_lossy(&out.stderr), expected);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn nested_and_untidy_storage_bindings_are_refused() {
    let yaml = "kind: Storage\nname: st\n---\nkind: Storage\nname: st2\n---\nkind: Application\nname: w\ntype: local\nlocal:\n  platforms:\n    - os: linux\n      command: [sleep, \"300\"]\nstorage:\n  - {storage: st, path: a}\n  - {storage: st2, path: a/b}\n  - {storage: st2, path: data/}\n";
    let (_top, dir, out) = validate_in_temp(&[("app.yaml", yaml)]);
    let f = format!("{}/app.yaml", dir.display());
    let expected = format!(
        r#"error: binding path `a/b` is inside binding `a` (storage `st`): bindings must not nest
  --> {f}:16:26
   |
16 |   - {{storage: st2, path: a/b}}
   |                          ^
   = in Application/w, field storage[1].path

error: invalid binding path `data/`: write it without `./`, `//` or a trailing `/`, e.g. `data`
  --> {f}:17:26
   |
17 |   - {{storage: st2, path: data/}}
   |                          ^
   = in Application/w, field storage[2].path

found 2 errors
"#
    );
    assert_eq!(String::from_utf8_lossy(&out.stderr), expected);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn gateway_timeouts_and_trusted_proxies() {
    assert_invalid(
        "gateway-edges.yaml",
        r#"error: connect must be longer than 0
  --> tests/fixtures/invalid/gateway-edges.yaml:17:21
   |
17 | timeouts: {connect: 0s, response: 1.5s, idle: 200h}
   |                     ^
   = in Gateway/web, field timeouts.connect

error: invalid duration `1.5s`: write a whole number followed by ms, s, m or h (e.g. 500ms, 2s, 1m)
  --> tests/fixtures/invalid/gateway-edges.yaml:17:35
   |
17 | timeouts: {connect: 0s, response: 1.5s, idle: 200h}
   |                                   ^
   = in Gateway/web, field timeouts.response

error: idle must be at most a week (168h)
  --> tests/fixtures/invalid/gateway-edges.yaml:17:47
   |
17 | timeouts: {connect: 0s, response: 1.5s, idle: 200h}
   |                                               ^
   = in Gateway/web, field timeouts.idle

error: invalid CIDR `10.0.0.0/33`: write IP/PREFIX or an IP, e.g. 10.0.0.0/8, 192.0.2.7 or fd00::/8
  --> tests/fixtures/invalid/gateway-edges.yaml:18:30
   |
18 | trustedProxies: [10.0.0.0/8, 10.0.0.0/33, proxy.local]
   |                              ^
   = in Gateway/web, field trustedProxies[1]

error: invalid CIDR `proxy.local`: write IP/PREFIX or an IP, e.g. 10.0.0.0/8, 192.0.2.7 or fd00::/8
  --> tests/fixtures/invalid/gateway-edges.yaml:18:43
   |
18 | trustedProxies: [10.0.0.0/8, 10.0.0.0/33, proxy.local]
   |                                           ^
   = in Gateway/web, field trustedProxies[2]

error: a tcp gateway has no responses to time: use `idle`
  --> tests/fixtures/invalid/gateway-edges.yaml:25:22
   |
25 | timeouts: {response: 2s, idle: 10m}
   |                      ^
   = in Gateway/db, field timeouts.response

found 6 errors
"#,
    );
}

#[test]
fn interpolation_errors_name_the_variable_gateway_or_env_file() {
    assert_invalid(
        "interpolation.yaml",
        r#"error: env file `absent.env` does not exist (`required: false` allows that)
 --> tests/fixtures/invalid/interpolation.yaml:4:11
  |
4 | envFile: [absent.env]
  |           ^
  = in Application/web, field envFile[0]

error: `${gateway:dv}`: no Gateway `dv`; did you mean `db`?
 --> tests/fixtures/invalid/interpolation.yaml:9:30
  |
9 |       command: [./web, "--db=${gateway:dv}", "${gateway:db.addr}"]
  |                              ^
  = in Application/web, field local.platforms[0].command[1]

error: `${gateway:db.addr}`: expected `${gateway:db}`, `${gateway:db.host}` or `${gateway:db.port}`
 --> tests/fixtures/invalid/interpolation.yaml:9:47
  |
9 |       command: [./web, "--db=${gateway:dv}", "${gateway:db.addr}"]
  |                                               ^
  = in Application/web, field local.platforms[0].command[2]

error: required variable `FIXTURE_UNSET_PASSWORD` is not set: set it in .env
  --> tests/fixtures/invalid/interpolation.yaml:11:16
   |
11 |     PASSWORD: "${FIXTURE_UNSET_PASSWORD:?set it in .env}"
   |                ^
   = in Application/web, field local.env.PASSWORD

error: path must not be empty
  --> tests/fixtures/invalid/interpolation.yaml:19:12
   |
19 |   - {path: ""}
   |            ^
   = in Instance/web, field envFile[1].path

found 5 errors
"#,
    );
}

#[test]
fn dependency_targets_conditions_and_cycles() {
    assert_invalid(
        "depends.yaml",
        r#"error: no InstanceGroup or Instance named `dbb`; did you mean `db`?
  --> tests/fixtures/invalid/depends.yaml:12:14
   |
12 |   - {target: dbb, condition: healthy}
   |              ^
   = in Instance/web, field dependsOn[1].target

error: unknown condition `healthy`, expected one of: started, ready, completed
  --> tests/fixtures/invalid/depends.yaml:12:30
   |
12 |   - {target: dbb, condition: healthy}
   |                              ^
   = in Instance/web, field dependsOn[1].condition

error: dependency cycle: api -> worker -> web -> api
  --> tests/fixtures/invalid/depends.yaml:17:22
   |
17 | dependsOn: [{target: worker}]
   |                      ^
   = in InstanceGroup/api, field dependsOn[0].target

found 3 errors
"#,
    );
}

#[test]
fn a_schedule_must_be_cron() {
    assert_invalid(
        "schedule.yaml",
        r#"error: invalid schedule `every night` (Invalid pattern: Pattern must have between 5 and 7 fields): expected cron fields, e.g. `*/5 * * * *`
  --> tests/fixtures/invalid/schedule.yaml:10:11
   |
10 | schedule: "every night"
   |           ^
   = in Instance/nightly, field schedule

found 1 error
"#,
    );
}

#[test]
fn watch_paths_globs_and_actions() {
    assert_invalid(
        "watch.yaml",
        r#"error: invalid glob `[*.pyc`: unclosed character class; missing ']'
 --> tests/fixtures/invalid/watch.yaml:7:26
  |
7 |   - {path: src, ignore: ["[*.pyc"], action: sync}
  |                          ^
  = in Application/s, field watch[0].ignore[0]

error: unknown watch action `sync`, expected one of: restart
 --> tests/fixtures/invalid/watch.yaml:7:45
  |
7 |   - {path: src, ignore: ["[*.pyc"], action: sync}
  |                                             ^
  = in Application/s, field watch[0].action

error: missing field `path`
 --> tests/fixtures/invalid/watch.yaml:8:5
  |
8 |   - {ignore: []}
  |     ^
  = in Application/s, field watch[1].path

error: watch path `.` holds the cluster's state directory .lcc/, which the daemon writes on every change: watch the source folders instead
 --> tests/fixtures/invalid/watch.yaml:9:12
  |
9 |   - {path: .}
  |            ^
  = in Application/s, field watch[2].path

error: watch path `./.lcc/pods` is inside the cluster's state directory .lcc/, which the daemon writes on every change: watch the source folders instead
  --> tests/fixtures/invalid/watch.yaml:10:12
   |
10 |   - {path: ./.lcc/pods}
   |            ^
   = in Application/s, field watch[3].path

found 5 errors
"#,
    );
}

#[test]
fn hosts_are_checked_field_by_field() {
    assert_invalid(
        "hosts.yaml",
        r#"error: a `local` host is this machine, not reached over SSH: remove `ssh`
 --> tests/fixtures/invalid/hosts.yaml:4:1
  |
4 | ssh:
  | ^
  = in Host/laptop, field ssh

error: missing field `dir`: a host reached over SSH needs the cluster's directory on it
 --> tests/fixtures/invalid/hosts.yaml:7:1
  |
7 | kind: Host
  | ^
  = in Host/eu-1, field dir

error: invalid address `-oProxyCommand=sh`: use letters, digits, `.`, `-`, `_` and `:` (and `[`, `]`, `%` in an IPv6 address), not starting with `-`
 --> tests/fixtures/invalid/hosts.yaml:9:10
  |
9 | address: -oProxyCommand=sh
  |          ^
  = in Host/eu-1, field address

error: invalid user `root@x`: use letters, digits, `.`, `-` and `_`, not starting with `-`
  --> tests/fixtures/invalid/hosts.yaml:11:9
   |
11 |   user: root@x
   |         ^
   = in Host/eu-1, field ssh.user

error: port 70000 is out of range 1-65535
  --> tests/fixtures/invalid/hosts.yaml:12:9
   |
12 |   port: 70000
   |         ^
   = in Host/eu-1, field ssh.port

error: invalid ssh option `ConnectTimeout`: expected `Key=value`, e.g. `ConnectTimeout=5`
  --> tests/fixtures/invalid/hosts.yaml:13:13
   |
13 |   options: [ConnectTimeout, "ProxyCommand=sh -c x"]
   |             ^
   = in Host/eu-1, field ssh.options[0]

error: ssh option `ProxyCommand=sh -c x` is not allowed: a manifest may not run commands, load code or read other configuration on the operator's machine (use ~/.ssh/config for that)
  --> tests/fixtures/invalid/hosts.yaml:13:29
   |
13 |   options: [ConnectTimeout, "ProxyCommand=sh -c x"]
   |                             ^
   = in Host/eu-1, field ssh.options[1]

error: region: invalid name `EU`: use 1-63 lowercase letters, digits and `-`, starting with a letter and not ending with `-`
  --> tests/fixtures/invalid/hosts.yaml:14:9
   |
14 | region: EU
   |         ^
   = in Host/eu-1, field region

error: invalid value `s s` of label `disk`: use at most 63 letters, digits, `.`, `_`, `-` and `/`
  --> tests/fixtures/invalid/hosts.yaml:16:9
   |
16 |   disk: s s
   |         ^
   = in Host/eu-1, field labels.disk

error: unknown host state `gone`, expected one of: active, inactive
  --> tests/fixtures/invalid/hosts.yaml:17:8
   |
17 | state: gone
   |        ^
   = in Host/eu-1, field state

error: invalid dir `/srv/../etc`: expected a path without `..` and not starting with `-` (relative to the login's home unless absolute; `~/` allowed)
  --> tests/fixtures/invalid/hosts.yaml:22:6
   |
22 | dir: /srv/../etc
   |      ^
   = in Host/eu-2, field dir

error: missing field `dir`: a host reached over SSH needs the cluster's directory on it
  --> tests/fixtures/invalid/hosts.yaml:24:1
   |
24 | kind: Host
   | ^
   = in Host/eu-3, field dir

error: only one Host may be `local`; the first is at tests/fixtures/invalid/hosts.yaml:3:10
  --> tests/fixtures/invalid/hosts.yaml:30:10
   |
30 | address: local
   |          ^
   = in Host/desk, field address

found 13 errors
"#,
    );
}

#[test]
fn no_eligible_host_names_the_constraint() {
    assert_invalid(
        "placement.yaml",
        r#"error: no active Host matches the placement (region `eu`, labels gpu=yes); the hosts are: eu-1 (region eu, disk=ssd); us-1 (region us, inactive)
  --> tests/fixtures/invalid/placement.yaml:25:3
   |
25 |   region: eu
   |   ^
   = in Instance/gpu, field placement

error: no active Host matches the placement (region `us`); the hosts are: eu-1 (region eu, disk=ssd); us-1 (region us, inactive)
  --> tests/fixtures/invalid/placement.yaml:31:12
   |
31 | placement: {region: us}
   |            ^
   = in InstanceGroup/west, field placement

error: no Host `eu-l`; did you mean `eu-1`?
  --> tests/fixtures/invalid/placement.yaml:36:21
   |
36 | placement: {hosts: [eu-l], region: EU}
   |                     ^
   = in Instance/typo, field placement.hosts[0]

error: region: invalid name `EU`: use 1-63 lowercase letters, digits and `-`, starting with a letter and not ending with `-`
  --> tests/fixtures/invalid/placement.yaml:36:36
   |
36 | placement: {hosts: [eu-l], region: EU}
   |                                    ^
   = in Instance/typo, field placement.region

found 4 errors
"#,
    );
}

#[test]
fn placement_needs_hosts() {
    assert_invalid(
        "placement-without-hosts.yaml",
        r#"error: `placement` needs Host documents: without them everything runs on this machine
  --> tests/fixtures/invalid/placement-without-hosts.yaml:10:1
   |
10 | placement: {region: eu}
   | ^
   = in Instance/a, field placement

found 1 error
"#,
    );
}
