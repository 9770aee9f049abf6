//! One test per mapping rule of docs/kubernetes.md, asserting the field values.

use super::validate::validate;
use super::{arg, cluster, container, docs, env_of, export_ok, names_of, object, web_app};
use serde_json::json;
use std::path::Path;

/// Exports a cluster made of `files` with `args`; the objects and the warnings.
fn run(files: &[(&str, &str)], args: &[&str]) -> (Vec<serde_json::Value>, String) {
    let dir = cluster(files);
    let mut all = vec![arg(dir.path())];
    all.extend_from_slice(args);
    let (stream, warnings) = export_ok(Path::new("/"), &all);
    validate(&stream);
    (docs(&stream), warnings)
}

/// The four labels of an object of the cluster named `c`.
fn labels(app: &str, instance: &str) -> serde_json::Value {
    json!({
        "app.kubernetes.io/name": app,
        "app.kubernetes.io/instance": instance,
        "app.kubernetes.io/part-of": "c",
        "app.kubernetes.io/managed-by": "lcc",
    })
}

const CLUSTER: (&str, &str) = ("cluster.yaml", "kind: Cluster\nname: c\n");

#[test]
fn a_group_becomes_a_deployment_rolled_like_lcc_rolls() {
    let app = web_app(
        "web",
        "---\nkind: InstanceGroup\nname: web\napp: web\nreplicas: 3\n",
    );
    let (docs, _) = run(&[CLUSTER, ("web.yaml", &app)], &[]);
    let d = object(&docs, "Deployment", "web");
    assert_eq!(d["metadata"]["labels"], labels("web", "web"));
    assert_eq!(d["spec"]["replicas"], 3);
    assert_eq!(
        d["spec"]["strategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}})
    );
    let selector = json!({"app.kubernetes.io/instance": "web", "app.kubernetes.io/part-of": "c"});
    assert_eq!(d["spec"]["selector"]["matchLabels"], selector);
    assert_eq!(
        d["spec"]["template"]["metadata"]["labels"],
        labels("web", "web")
    );
    assert_eq!(container(&docs, "web")["image"], "example.com/web:1");
}

#[test]
fn an_instance_is_one_replica_recreated_and_zero_when_stopped() {
    let app = web_app(
        "web",
        "---\nkind: Instance\nname: one\napp: web\n---\nkind: Instance\nname: off\napp: web\nstate: stopped\n",
    );
    let (docs, _) = run(&[CLUSTER, ("web.yaml", &app)], &[]);
    let one = object(&docs, "Deployment", "one");
    assert_eq!(one["spec"]["replicas"], 1);
    assert_eq!(one["spec"]["strategy"], json!({"type": "Recreate"}));
    assert_eq!(one["metadata"]["labels"], labels("web", "one"));
    assert_eq!(object(&docs, "Deployment", "off")["spec"]["replicas"], 0);
}

#[test]
fn interfaces_become_named_ports_and_port_variables_the_port() {
    let app = "kind: Application\nname: web\ntype: local\nlocal:\n  platforms:\n    - os: darwin\n      command: [nope]\n    - os: linux\n      command: [./serve, \"--http=${LCC_PORT_HTTP}\", \"${LCC_PORT_ADMIN}\", \"${LCC_PORT_EXTRA}\", \"$${HOME}\", \"$(id)\"]\n  env: {TEXT: \"a $(b) ${LCC_PORT_HTTP} $$$$\"}\ninterfaces:\n  - {name: http, protocol: http}\n  - {name: admin, protocol: tcp, port: 8080}\n  - {name: extra, protocol: tcp}\nkubernetes: {image: example.com/web:1}\n---\nkind: Instance\nname: web\napp: web\n";
    let cluster_yaml = (
        "cluster.yaml",
        "kind: Cluster\nname: c\nhttp: 127.0.0.1:18080\n",
    );
    let (docs, _) = run(&[cluster_yaml, ("web.yaml", app)], &[]);
    let c = container(&docs, "web");
    assert_eq!(
        c["ports"],
        json!([
            {"name": "http", "containerPort": 8081, "protocol": "TCP"},
            {"name": "admin", "containerPort": 8080, "protocol": "TCP"},
            {"name": "extra", "containerPort": 8082, "protocol": "TCP"},
        ])
    );
    assert_eq!(
        c["command"],
        json!([
            "./serve",
            "--http=8081",
            "8080",
            "8082",
            "$(HOME)",
            "$$(id)"
        ])
    );
    assert_eq!(env_of(c, "LCC_PORT_HTTP")["value"], "8081");
    assert_eq!(env_of(c, "LCC_PORT_ADMIN")["value"], "8080");
    // env values are not expanded by the pod: Kubernetes must not expand them either.
    assert_eq!(env_of(c, "TEXT")["value"], "a $$(b) ${LCC_PORT_HTTP} $$$");
    assert_eq!(env_of(c, "LCC_MANIFEST_DIR")["value"], "/lcc/manifest");
    assert_eq!(env_of(c, "LCC_CLUSTER")["value"], "c");
    assert_eq!(
        env_of(c, "LCC_INSTANCE")["valueFrom"],
        json!({"fieldRef": {"fieldPath": "metadata.name"}})
    );
    assert_eq!(
        env_of(c, "LCC_APP")["valueFrom"],
        json!({"fieldRef": {"fieldPath": "metadata.labels['app.kubernetes.io/name']"}})
    );
    assert_eq!(c["workingDir"], "/lcc/run");
}

#[test]
fn a_shell_platform_runs_under_sh_with_its_dollars_kept() {
    let app = "kind: Application\nname: sh\ntype: local\nlocal:\n  platforms:\n    - os: linux\n      shell: exec ./serve \"$LCC_PORT_HTTP\" $(date)\ninterfaces: [{name: http, protocol: http}]\nkubernetes: {image: example.com/sh:1}\n---\nkind: Instance\nname: sh\napp: sh\n";
    let (docs, _) = run(&[CLUSTER, ("sh.yaml", app)], &[]);
    assert_eq!(
        container(&docs, "sh")["command"],
        json!(["sh", "-c", "exec ./serve \"$LCC_PORT_HTTP\" $$(date)"])
    );
}

#[test]
fn probes_become_readiness_and_liveness_probes() {
    let probe = "probe:\n  http: {interface: http, path: /health}\n  initialDelay: 2s\n  period: 500ms\n  timeout: 3s\n  failureThreshold: 4\n---\nkind: Instance\nname: web\napp: web\n---\nkind: Instance\nname: tcp\napp: web\nprobe: {tcp: {interface: http}}\n---\nkind: Instance\nname: exec\napp: web\nprobe: {exec: [check, \"$(x)\"], period: 5s}\n";
    let (docs, warnings) = run(&[CLUSTER, ("web.yaml", &web_app("web", probe))], &[]);
    let c = container(&docs, "web");
    let handler = json!({"path": "/health", "port": "http"});
    assert_eq!(
        c["readinessProbe"],
        json!({"httpGet": handler, "initialDelaySeconds": 2, "periodSeconds": 1, "timeoutSeconds": 3, "successThreshold": 1, "failureThreshold": 1})
    );
    assert_eq!(
        c["livenessProbe"],
        json!({"httpGet": handler, "initialDelaySeconds": 2, "periodSeconds": 1, "timeoutSeconds": 3, "successThreshold": 1, "failureThreshold": 4})
    );
    assert!(
        warnings.contains("warning: Instance/web: probe period 500ms is rounded up to 1s"),
        "{warnings}"
    );
    let tcp = container(&docs, "tcp");
    assert_eq!(tcp["livenessProbe"]["tcpSocket"], json!({"port": "http"}));
    assert_eq!(tcp["livenessProbe"]["periodSeconds"], 2);
    assert_eq!(tcp["livenessProbe"]["failureThreshold"], 3);
    let exec = container(&docs, "exec");
    assert_eq!(
        exec["readinessProbe"]["exec"],
        json!({"command": ["check", "$$(x)"]})
    );
    assert_eq!(exec["readinessProbe"]["periodSeconds"], 5);
}

#[test]
fn stop_and_restart_map_or_warn() {
    let extra = "stop: {signal: INT, timeout: 2500ms}\nrestart: {policy: never}\n---\nkind: InstanceGroup\nname: web\napp: web\nreplicas: 1\n";
    let (docs, warnings) = run(&[CLUSTER, ("web.yaml", &web_app("web", extra))], &[]);
    let pod = &object(&docs, "Deployment", "web")["spec"]["template"]["spec"];
    assert_eq!(pod["terminationGracePeriodSeconds"], 3);
    assert_eq!(
        warnings,
        "warning: InstanceGroup/web: restart policy `never` cannot carry over: a Deployment restarts its container after every exit\n\
         warning: InstanceGroup/web: stop signal INT cannot carry over: Kubernetes stops a container with TERM, then KILL after terminationGracePeriodSeconds\n"
    );
}

#[test]
fn jobs_become_jobs_and_schedules_cron_jobs() {
    let extra = "---\nkind: Instance\nname: migrate\napp: web\nrestart: {policy: never}\n\
        ---\nkind: Instance\nname: retry\napp: web\nrestart: {policy: on-failure, maxRetries: 3}\n\
        ---\nkind: Instance\nname: tick\napp: web\nschedule: \"*/5 * * * *\"\n\
        ---\nkind: Instance\nname: off\napp: web\nstate: stopped\nschedule: \"0 3 * * *\"\n";
    let (docs, warnings) = run(&[CLUSTER, ("web.yaml", &web_app("web", extra))], &[]);
    assert_eq!(warnings, "");
    let migrate = object(&docs, "Job", "migrate");
    assert_eq!(migrate["apiVersion"], "batch/v1");
    assert_eq!(migrate["spec"]["backoffLimit"], 0);
    assert_eq!(
        migrate["spec"]["template"]["spec"]["restartPolicy"],
        "Never"
    );
    assert_eq!(migrate["metadata"]["labels"], labels("web", "migrate"));
    let retry = object(&docs, "Job", "retry");
    assert_eq!(retry["spec"]["backoffLimit"], 2);
    assert_eq!(
        retry["spec"]["template"]["spec"]["restartPolicy"],
        "OnFailure"
    );
    let tick = object(&docs, "CronJob", "tick");
    assert_eq!(tick["spec"]["schedule"], "*/5 * * * *");
    assert_eq!(tick["spec"]["concurrencyPolicy"], "Forbid");
    let job = &tick["spec"]["jobTemplate"]["spec"];
    assert_eq!(job["template"]["spec"]["restartPolicy"], "Never");
    assert_eq!(
        job["template"]["spec"]["containers"][0]["image"],
        "example.com/web:1"
    );
    assert!(tick["spec"].get("suspend").is_none());
    assert_eq!(object(&docs, "CronJob", "off")["spec"]["suspend"], true);
    assert!(names_of(&docs, "Deployment").is_empty(), "no Deployment");
}

#[test]
fn a_static_app_with_a_url_archive_is_fetched_and_checked_by_an_init_container() {
    let sha = "ab".repeat(32);
    let app = format!("kind: Application\nname: site\ntype: static\nstatic: {{archive: \"https://example.com/s.tgz?a=$(b)\", sha256: \"{sha}\", root: public, spa: true}}\ninterfaces: [{{name: web, protocol: http}}]\n---\nkind: Instance\nname: site\napp: site\n");
    let (docs, warnings) = run(&[CLUSTER, ("site.yaml", &app)], &[]);
    let pod = &object(&docs, "Deployment", "site")["spec"]["template"]["spec"];
    let init = &pod["initContainers"][0];
    assert_eq!(init["image"], "alpine:3.22");
    assert_eq!(
        init["env"],
        json!([
            {"name": "LCC_ARCHIVE_URL", "value": "https://example.com/s.tgz?a=$$(b)"},
            {"name": "LCC_ARCHIVE_SHA256", "value": sha},
        ])
    );
    let script = init["command"][2].as_str().expect("script");
    assert!(
        script.contains("wget -q -O \"$archive\" \"$LCC_ARCHIVE_URL\""),
        "{script}"
    );
    assert!(script.contains("| sha256sum -c -"), "{script}");
    assert_eq!(
        init["volumeMounts"],
        json!([{"name": "site", "mountPath": "/lcc/site"}])
    );
    assert_eq!(pod["volumes"], json!([{"name": "site", "emptyDir": {}}]));
    let c = &pod["containers"][0];
    assert_eq!(c["image"], "busybox:1.37");
    assert_eq!(
        c["command"],
        json!(["httpd", "-f", "-p", "8080", "-h", "/lcc/site/public"])
    );
    assert_eq!(names_of(&docs, "ConfigMap"), Vec::<String>::new());
    assert!(
        warnings.contains("`spa: true` cannot carry over"),
        "{warnings}"
    );
}

#[test]
fn a_static_app_with_a_local_archive_carries_it_in_a_config_map() {
    let archive = repo_file("examples/demo/docs-site.tar.gz");
    let app = "kind: Application\nname: site\ntype: static\nstatic: {archive: ./site.tar.gz}\ninterfaces: [{name: web, protocol: http, port: 9000}]\n---\nkind: Instance\nname: site\napp: site\n";
    let dir = cluster(&[CLUSTER, ("site.yaml", app)]);
    std::fs::write(dir.path().join("site.tar.gz"), &archive).expect("archive");
    let (stream, _) = export_ok(Path::new("/"), &[arg(dir.path())]);
    validate(&stream);
    let docs = docs(&stream);
    let map = object(&docs, "ConfigMap", "site-site");
    use base64::Engine;
    let data = base64::engine::general_purpose::STANDARD
        .decode(map["binaryData"]["archive"].as_str().expect("binaryData"))
        .expect("base64");
    assert!(data == archive, "the ConfigMap holds the archive's bytes");
    let pod = &object(&docs, "Deployment", "site")["spec"]["template"]["spec"];
    assert_eq!(
        pod["volumes"][0],
        json!({"name": "archive", "configMap": {"name": "site-site"}})
    );
    assert!(pod["initContainers"][0]["env"].is_null());
    assert_eq!(pod["containers"][0]["ports"][0]["containerPort"], 9000);
}

/// A file of the repository.
fn repo_file(path: &str) -> Vec<u8> {
    std::fs::read(super::repo().join(path)).expect("repository file")
}

#[test]
fn a_remote_app_becomes_an_external_name_or_endpoints_or_a_warning() {
    let remote = |name: &str, host: &str, port: u16| {
        format!("kind: Application\nname: {name}\ntype: remote\nremote: {{host: \"{host}\"}}\ninterfaces: [{{name: http, protocol: http, port: 9200}}]\n---\nkind: Instance\nname: {name}\napp: {name}\n---\nkind: Gateway\nname: {name}\nport: {port}\ntarget: {name}\ninterface: http\n---\n")
    };
    let text = remote("dns", "Search.Example.com", 9200)
        + &remote("ip", "192.0.2.10", 9100)
        + &remote("six", "2001:db8::1", 9101)
        + &remote("loop", "127.0.0.1", 9102);
    let (docs, warnings) = run(&[CLUSTER, ("r.yaml", &text)], &[]);
    assert_eq!(names_of(&docs, "Deployment"), Vec::<String>::new());
    let dns = object(&docs, "Service", "dns");
    assert_eq!(dns["spec"]["type"], "ExternalName");
    assert_eq!(dns["spec"]["externalName"], "search.example.com");
    let ip = object(&docs, "Service", "ip");
    assert!(ip["spec"]["selector"].is_null());
    assert_eq!(ip["spec"]["ports"][0]["port"], 9100);
    assert_eq!(ip["spec"]["ports"][0]["targetPort"], 9200);
    let slice = object(&docs, "EndpointSlice", "ip");
    assert_eq!(
        slice["metadata"]["labels"]["kubernetes.io/service-name"],
        "ip"
    );
    assert_eq!(slice["addressType"], "IPv4");
    assert_eq!(slice["endpoints"], json!([{"addresses": ["192.0.2.10"]}]));
    assert_eq!(
        slice["ports"],
        json!([{"name": "http", "port": 9200, "protocol": "TCP"}])
    );
    assert_eq!(object(&docs, "EndpointSlice", "six")["addressType"], "IPv6");
    assert_eq!(names_of(&docs, "EndpointSlice"), ["ip", "six"]);
    assert!(object(&docs, "Service", "loop")["spec"]["selector"].is_null());
    assert!(
        warnings.contains("Gateway/loop: the remote address 127.0.0.1 of Application/loop is this machine's loopback"),
        "{warnings}"
    );
}

#[test]
fn gateways_become_services_http_and_tcp() {
    let app = "kind: Application\nname: db\ntype: local\nlocal:\n  platforms: [{os: linux, command: [db]}]\ninterfaces:\n  - {name: http, protocol: http}\n  - {name: wire, protocol: tcp, port: 5432}\nkubernetes: {image: example.com/db:1, serviceType: LoadBalancer}\n---\nkind: InstanceGroup\nname: db\napp: db\nkubernetes: {serviceType: NodePort}\n---\nkind: Gateway\nname: db-http\nport: 9000\ntarget: db\ninterface: http\n---\nkind: Gateway\nname: db-wire\nport: 15432\naddress: 0.0.0.0\ntarget: db\ninterface: wire\n";
    let (docs, _) = run(&[CLUSTER, ("db.yaml", app)], &[]);
    let http = object(&docs, "Service", "db-http");
    assert_eq!(http["metadata"]["labels"], labels("db", "db"));
    assert_eq!(
        http["spec"],
        json!({
            "type": "NodePort",
            "selector": {"app.kubernetes.io/instance": "db", "app.kubernetes.io/part-of": "c"},
            "ports": [{"name": "http", "port": 9000, "targetPort": "http", "protocol": "TCP", "appProtocol": "http"}],
        })
    );
    let wire = object(&docs, "Service", "db-wire");
    assert_eq!(
        wire["spec"]["ports"],
        json!([{"name": "wire", "port": 15432, "targetPort": "wire", "protocol": "TCP"}])
    );
}

/// A web group with a gateway and an entrance.
fn entrance_cluster() -> String {
    web_app(
        "web",
        "---\nkind: InstanceGroup\nname: web\napp: web\n---\nkind: Gateway\nname: web\nport: 9000\ntarget: web\ninterface: http\n---\nkind: Entrance\nname: shop\ngateway: web\n",
    )
}

#[test]
fn an_entrance_becomes_an_httproute_that_strips_its_prefix() {
    let app = entrance_cluster();
    let (docs, _) = run(&[CLUSTER, ("web.yaml", &app)], &[]);
    let route = object(&docs, "HTTPRoute", "shop");
    assert_eq!(route["metadata"]["labels"], labels("web", "web"));
    assert_eq!(
        route["spec"],
        json!({
            "parentRefs": [{"name": "lcc"}],
            "rules": [{
                "matches": [{"path": {"type": "PathPrefix", "value": "/entrances/shop/"}}],
                "filters": [{"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}}}],
                "backendRefs": [{"name": "web", "port": 9000}],
            }],
        })
    );
    assert_eq!(names_of(&docs, "Gateway"), Vec::<String>::new());

    let (docs, _) = run(
        &[CLUSTER, ("web.yaml", &app)],
        &["--gateway", "edge", "--gateway-class", "cls"],
    );
    assert_eq!(
        object(&docs, "HTTPRoute", "shop")["spec"]["parentRefs"],
        json!([{"name": "edge"}])
    );
    let gateway = object(&docs, "Gateway", "edge");
    assert_eq!(gateway["spec"]["gatewayClassName"], "cls");
    assert_eq!(gateway["spec"]["listeners"][0]["port"], 80);
}

#[test]
fn an_entrance_becomes_an_ingress_or_nothing_when_asked() {
    let app = entrance_cluster();
    let (docs, warnings) = run(
        &[CLUSTER, ("web.yaml", &app)],
        &["--ingress", "ingress", "--ingress-class", "nginx"],
    );
    let ingress = object(&docs, "Ingress", "shop");
    assert_eq!(ingress["apiVersion"], "networking.k8s.io/v1");
    assert_eq!(
        ingress["spec"],
        json!({
            "ingressClassName": "nginx",
            "rules": [{"http": {"paths": [{
                "path": "/entrances/shop/",
                "pathType": "Prefix",
                "backend": {"service": {"name": "web", "port": {"number": 9000}}},
            }]}}],
        })
    );
    assert!(
        warnings.contains("an Ingress has no standard way to strip"),
        "{warnings}"
    );
    let (docs, _) = run(&[CLUSTER, ("web.yaml", &app)], &["--ingress", "none"]);
    assert_eq!(names_of(&docs, "HTTPRoute"), Vec::<String>::new());
    assert_eq!(names_of(&docs, "Ingress"), Vec::<String>::new());
}

#[test]
fn storages_become_claims_mounted_at_the_binding_path() {
    let text = web_app(
        "web",
        "storage: [{storage: shared, path: data/files}]\n---\nkind: InstanceGroup\nname: web\napp: web\nreplicas: 2\n---\nkind: Instance\nname: solo\napp: web\nstorage: [{storage: own, path: db}]\n---\nkind: Storage\nname: shared\nsize: 5Gi\n---\nkind: Storage\nname: own\n",
    );
    let (docs, _) = run(
        &[CLUSTER, ("web.yaml", &text)],
        &["--storage-class", "fast"],
    );
    let shared = object(&docs, "PersistentVolumeClaim", "shared");
    assert_eq!(shared["metadata"]["labels"], labels("shared", "shared"));
    assert_eq!(
        shared["spec"],
        json!({"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "5Gi"}}, "storageClassName": "fast"})
    );
    let own = object(&docs, "PersistentVolumeClaim", "own");
    assert_eq!(own["spec"]["accessModes"], json!(["ReadWriteOnce"]));
    assert_eq!(own["spec"]["resources"]["requests"]["storage"], "1Gi");
    let web = &object(&docs, "Deployment", "web")["spec"]["template"]["spec"];
    assert_eq!(
        web["volumes"],
        json!([{"name": "storage-0", "persistentVolumeClaim": {"claimName": "shared"}}])
    );
    assert_eq!(
        web["containers"][0]["volumeMounts"],
        json!([{"name": "storage-0", "mountPath": "/lcc/run/data/files"}])
    );
    let solo = container(&docs, "solo");
    assert_eq!(solo["volumeMounts"][0]["mountPath"], "/lcc/run/db");
}

#[test]
fn kubernetes_settings_files_and_overrides() {
    let app = "kind: Application\nname: web\ntype: local\nlocal:\n  platforms: [{os: linux, command: [python3, \"${LCC_MANIFEST_DIR}/app.py\"]}]\n  env: {A: \"1\"}\nkubernetes:\n  image: example.com/web:1\n  files: [app.py, conf/blob.bin]\n  resources: {requests: {cpu: 250m, memory: 64Mi}, limits: {cpu: \"1\"}}\n---\nkind: Instance\nname: web\napp: web\n---\nkind: Instance\nname: other\napp: web\nkubernetes: {image: example.com/other:2, args: [--port, \"${A}\"]}\n";
    let dir = cluster(&[CLUSTER, ("web.yaml", app), ("app.py", "print('hi')\n")]);
    std::fs::create_dir_all(dir.path().join("conf")).expect("mkdir");
    std::fs::write(dir.path().join("conf/blob.bin"), [0xff, 0x00, 0x01]).expect("blob");
    let (stream, _) = export_ok(
        Path::new("/"),
        &[arg(dir.path()), "--image", "web=example.com/web:9"],
    );
    validate(&stream);
    let docs = docs(&stream);
    let files = object(&docs, "ConfigMap", "web-files");
    assert_eq!(files["data"], json!({"file-0": "print('hi')\n"}));
    assert_eq!(files["binaryData"], json!({"file-1": "/wAB"}));
    let web = &object(&docs, "Deployment", "web")["spec"]["template"]["spec"];
    assert_eq!(
        web["volumes"],
        json!([{"name": "files", "configMap": {"name": "web-files", "items": [
            {"key": "file-0", "path": "app.py"}, {"key": "file-1", "path": "conf/blob.bin"}]}}])
    );
    let c = &web["containers"][0];
    assert_eq!(
        c["volumeMounts"],
        json!([{"name": "files", "mountPath": "/lcc/manifest", "readOnly": true}])
    );
    assert_eq!(c["command"], json!(["python3", "/lcc/manifest/app.py"]));
    // `--image` wins over every manifest's image of that app.
    assert_eq!(c["image"], "example.com/web:9");
    assert_eq!(
        c["resources"],
        json!({"requests": {"cpu": "250m", "memory": "64Mi"}, "limits": {"cpu": "1"}})
    );
    let other = container(&docs, "other");
    assert_eq!(other["image"], "example.com/web:9");
    assert!(
        other["command"].is_null(),
        "args alone keep the image's entrypoint"
    );
    assert_eq!(other["args"], json!(["--port", "$(A)"]));
    // Fields the Instance does not give are the app's: its files and resources.
    assert_eq!(other["resources"], c["resources"]);
    assert_eq!(
        object(&docs, "ConfigMap", "other-files")["data"],
        files["data"]
    );
}

#[test]
fn a_namespace_is_set_on_every_object() {
    let (docs, _) = run(
        &[CLUSTER, ("web.yaml", &entrance_cluster())],
        &["--namespace", "shop"],
    );
    assert!(docs.len() >= 3);
    for d in &docs {
        assert_eq!(d["metadata"]["namespace"], "shop", "{d}");
        assert_eq!(
            d["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "lcc"
        );
        assert_eq!(d["metadata"]["labels"]["app.kubernetes.io/part-of"], "c");
    }
}

#[test]
fn strings_survive_yaml_1_1_readers() {
    // kubectl and PyYAML read YAML 1.1, where these plain words are not strings.
    let values = [
        "yes",
        "off",
        "On",
        "n",
        "~",
        "null",
        "1:20",
        "1_000",
        "0x1F",
        ".5",
        "=",
        "<<",
        "- x",
        "a: b",
        "#c",
        " lead",
        "trail ",
        "line 1\n  line 2\n",
        "no end\nline",
        "tab\tx",
        "é ü \u{2028} \u{85}",
        "\"q\" \\ '",
    ];
    let env: String = values
        .iter()
        .enumerate()
        .map(|(i, v)| format!("    V{i}: {}\n", serde_json::to_string(v).expect("json")))
        .collect();
    let app = format!(
        "kind: Application\nname: yes\ntype: local\nlocal:\n  platforms: [{{os: linux, command: [x]}}]\n  env:\n{env}kubernetes: {{image: x:1}}\n---\nkind: Instance\nname: off\napp: yes\n"
    );
    let dir = cluster(&[CLUSTER, ("app.yaml", &app)]);
    let (stream, _) = export_ok(Path::new("/"), &[arg(dir.path())]);
    validate(&stream);
    let file = dir.path().join("export.yaml");
    std::fs::write(&file, &stream).expect("write export");
    let script = "import json, sys, yaml\n\
        docs = list(yaml.safe_load_all(open(sys.argv[1])))\n\
        d = [d for d in docs if d['kind'] == 'Deployment'][0]\n\
        c = d['spec']['template']['spec']['containers'][0]\n\
        print(json.dumps([d['metadata']['name'], c['name'], [e.get('value') for e in c['env']]]))\n";
    let out = crate::support::tools::python3()
        .args(["-c", script, arg(&file)])
        .output()
        .expect("python3 with PyYAML (kubernetes-validate's dependency)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(read[0], "off");
    assert_eq!(read[1], "yes");
    for (i, v) in values.iter().enumerate() {
        // After LCC_MANIFEST_DIR; none of these has a `$` to escape.
        assert_eq!(read[2][i + 1], json!(v), "V{i}");
    }
}
