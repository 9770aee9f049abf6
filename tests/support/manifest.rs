//! Manifests the cluster tests write: applications, instances, groups, gateways.

/// A local app that listens with python's http.server, probed over HTTP (1 s probe
/// timeout), restarted fast up to 5 times; `extra` is inserted as more lines of its
/// `local:` section (e.g. `"  env: {VERSION: \"2\"}\n"`).
pub fn http_app(name: &str, extra: &str) -> String {
    format!(
        "kind: Application\nname: {name}\ntype: local\nlocal:\n  platforms:\n    - os: linux\n      command: [python3, -m, http.server, \"${{LCC_PORT_HTTP}}\", --bind, 127.0.0.1]\n{extra}interfaces:\n  - {{name: http, protocol: http}}\nprobe:\n  http: {{interface: http, path: /}}\n  period: 200ms\n  timeout: 1s\n  failureThreshold: 3\nrestart: {{policy: always, maxRetries: 5, backoff: {{initial: 100ms, max: 400ms}}}}\nstop: {{signal: TERM, timeout: 2s}}\n"
    )
}

/// The http.server app tuned for fault injection: a hang is seen sooner (500 ms probe
/// timeout), it is stopped sooner (1 s) and never given up on (1000 retries); `env` is
/// the body of its `env:` flow mapping (e.g. `"VERSION: \"2\""`).
pub fn http_app_under_faults(name: &str, env: &str) -> String {
    format!(
        "kind: Application\nname: {name}\ntype: local\nlocal:\n  platforms:\n    - os: linux\n      command: [python3, -m, http.server, \"${{LCC_PORT_HTTP}}\", --bind, 127.0.0.1]\n  env: {{{env}}}\ninterfaces:\n  - {{name: http, protocol: http}}\nprobe:\n  http: {{interface: http, path: /}}\n  period: 200ms\n  timeout: 500ms\n  failureThreshold: 3\nrestart: {{policy: always, maxRetries: 1000, backoff: {{initial: 100ms, max: 400ms}}}}\nstop: {{signal: TERM, timeout: 1s}}\n"
    )
}

/// A local app running a shell script, with fast restarts and no probe.
pub fn shell_app(name: &str, script: &str, max_retries: u32) -> String {
    format!(
        "kind: Application\nname: {name}\ntype: local\nlocal:\n  platforms:\n    - os: linux\n      shell: {script:?}\nrestart: {{policy: always, maxRetries: {max_retries}, backoff: {{initial: 100ms, max: 400ms}}}}\nstop: {{signal: TERM, timeout: 2s}}\n"
    )
}

/// App `s` sleeping 300 s, plus `owner` (an Instance or InstanceGroup of it).
pub fn sleeper(owner: &str) -> String {
    format!("{}---\n{owner}", shell_app("s", "exec sleep 300", 5))
}

/// An InstanceGroup.
pub fn group(name: &str, app: &str, replicas: u32) -> String {
    format!("kind: InstanceGroup\nname: {name}\napp: {app}\nreplicas: {replicas}\n")
}

/// An Instance.
pub fn instance(name: &str, app: &str) -> String {
    format!("kind: Instance\nname: {name}\napp: {app}\n")
}

/// A Gateway on `port` to `target`'s `http` interface, with an Entrance of the same name.
pub fn gateway(name: &str, target: &str, port: u16) -> String {
    format!("kind: Gateway\nname: {name}\nport: {port}\ntarget: {target}\ninterface: http\n---\nkind: Entrance\nname: {name}\ngateway: {name}\n")
}
