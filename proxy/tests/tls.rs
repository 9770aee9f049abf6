//! The https listener, checked with real `curl` and `openssl s_client` processes: SNI
//! picks an entrance's file certificate or a leaf of the local CA and the chains verify;
//! TLS 1.2 and 1.3; a key that is not the certificate's is refused while the last good
//! certificate serves on; a replaced certificate is served to new handshakes while an
//! open connection goes on; an expired one is noted; HTTP/2 over TLS and h2c with prior
//! knowledge, 100 streams on one connection; the 308 redirect, and the ACME HTTP-01
//! answers served before it; TLS garbage is closed.

mod common;
use common::*;
use http_body_util::BodyExt;
use lcc_core::ca::{self, Ca};
use lcc_core::proxy_config::CertFiles;
use lcc_core::proxy_listeners::Listeners;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A cluster with the local CA in `ca` and a second CA in `files_ca` that signs the
/// file certificate of `docs.localhost`.
struct Setup {
    proxy: Proxy,
    https: SocketAddr,
    /// The local CA's certificate.
    local_ca: PathBuf,
    /// The CA of the file certificates.
    files_ca: Ca,
    files_ca_pem: PathBuf,
    /// docs.localhost's certificate and key, as the config names them.
    docs: CertFiles,
    dir: tempfile::TempDir,
    _backend: Server,
}

/// Writes `leaf` of `ca` for `name` as a chain file and key file at `files`, each by
/// rename (as an editor or certbot replaces them).
fn write_leaf(ca: &Ca, name: &str, files: &CertFiles) -> String {
    let leaf = ca.issue(&[name.to_string()]).expect("issue");
    replace(&files.cert, leaf.chain_pem.as_bytes());
    replace(&files.key, leaf.key_pem.as_bytes());
    leaf.chain_pem
}

fn replace(path: &Path, data: &[u8]) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, data).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

async fn setup(redirect: bool, extra_entrances: &str) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let (local, _) = ca::ensure(&dir.path().join("local")).expect("local CA");
    let (files, _) = ca::ensure(&dir.path().join("files")).expect("files CA");
    let files_ca = Ca::load(&files).expect("files CA");
    let docs = CertFiles {
        cert: dir.path().join("docs.pem"),
        key: dir.path().join("docs.key"),
    };
    write_leaf(&files_ca, "docs.localhost", &docs);
    let backend = http_backend("a").await;
    let (b, local_c, docs_c) = (backend.addr, local.clone(), docs.clone());
    let challenges = dir.path().join("challenges");
    std::fs::create_dir(&challenges).expect("challenges");
    let (proxy, addrs) = Proxy::start(2, move |http, g| {
        format!(
            "version: 1\nhttp: {{listen: \"{http}\", acme_challenges: \"{}\"}}\n\
             https: {{listen: \"{}\", redirect: {redirect}, ca: {{cert: \"{}\", key: \"{}\"}}}}\n\
             entrances:\n  - {{name: docs, gateway: web, host: docs.localhost, tls: {{cert: \"{}\", key: \"{}\"}}}}\n\
             \x20 - {{name: web, gateway: web}}\n{extra_entrances}\
             gateways:\n  - {{name: web, listen: \"{}\", protocol: http, backends: [\"{b}\"]}}\n",
            challenges.display(),
            g[1],
            local_c.cert.display(),
            local_c.key.display(),
            docs_c.cert.display(),
            docs_c.key.display(),
            g[0],
        )
    })
    .await;
    let https = addrs[1];
    let s = Setup {
        proxy,
        https,
        local_ca: local.cert,
        files_ca,
        files_ca_pem: files.cert,
        docs,
        dir,
        _backend: backend,
    };
    let up = || async {
        curl(
            &s,
            &["-o", "/dev/null", "-w", "%{http_code}"],
            "docs.localhost",
            "/",
        )
        .stdout
            == b"200"
    };
    wait_until(Duration::from_secs(5), "https up", up).await;
    s
}

/// `curl -sS` with both CAs trusted and `name` resolved to the https listener.
fn curl(s: &Setup, args: &[&str], name: &str, path: &str) -> Output {
    let both = s.dir.path().join("both.pem");
    if !both.exists() {
        let mut pem = std::fs::read(&s.local_ca).expect("ca");
        pem.extend(std::fs::read(&s.files_ca_pem).expect("ca"));
        std::fs::write(&both, pem).expect("both");
    }
    let port = s.https.port();
    Command::new("curl")
        .args(["-sS", "--max-time", "5", "--cacert"])
        .arg(&both)
        .arg("--resolve")
        .arg(format!("{name}:{port}:127.0.0.1"))
        .args(args)
        .arg(format!("https://{name}:{port}{path}"))
        .output()
        .expect("run curl (apt-get install curl)")
}

/// `openssl s_client` to the https listener for `name` (none: no SNI) trusting `ca`
/// only, with `extra` options; its whole output.
fn s_client(s: &Setup, name: Option<&str>, ca: &Path, extra: &[&str]) -> String {
    let mut cmd = Command::new("openssl");
    cmd.args(["s_client", "-connect", &s.https.to_string(), "-CAfile"])
        .arg(ca)
        .args(["-verify_return_error"])
        .args(extra)
        .stdin(Stdio::null());
    match name {
        Some(n) => cmd.args(["-servername", n]),
        None => cmd.arg("-noservername"),
    };
    let out = cmd.output().expect("run openssl (apt-get install openssl)");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sni_picks_the_file_certificate_or_a_local_ca_leaf_and_the_chains_verify() {
    let s = setup(false, "").await;
    // docs.localhost: its file certificate, which chains to the files CA only
    let out = s_client(&s, Some("docs.localhost"), &s.files_ca_pem, &[]);
    assert!(out.contains("subject=CN = docs.localhost"), "{out}");
    assert!(out.contains("Verify return code: 0 (ok)"), "{out}");
    let out = s_client(&s, Some("docs.localhost"), &s.local_ca, &[]);
    assert!(!out.contains("Verify return code: 0 (ok)"), "{out}");
    // api.localhost: a leaf of the local CA, issued on demand, over TLS 1.2 too
    for version in ["-tls1_3", "-tls1_2"] {
        let out = s_client(&s, Some("api.localhost"), &s.local_ca, &[version]);
        assert!(out.contains("subject=CN = api.localhost"), "{out}");
        assert!(out.contains("Verify return code: 0 (ok)"), "{out}");
        let want = if version == "-tls1_3" {
            "TLSv1.3"
        } else {
            "TLSv1.2"
        };
        assert!(out.contains(&format!("New, {want}, Cipher")), "{out}");
    }
    // no name (an IP address URL): localhost, 127.0.0.1 and ::1
    let out = s_client(&s, None, &s.local_ca, &["-verify_ip", "127.0.0.1"]);
    assert!(out.contains("Verify return code: 0 (ok)"), "{out}");
    // a name no certificate covers: the handshake fails
    let out = s_client(&s, Some("elsewhere.test"), &s.local_ca, &[]);
    assert!(out.contains("alert"), "{out}");
    // requests: the host entrance, and path entrances on any name, as https
    let w = ["-w", "%{http_code} %{http_version}", "-o", "/dev/null"];
    for (name, path) in [
        ("docs.localhost", "/x"),
        ("api.localhost", "/entrances/web/"),
    ] {
        let out = curl(&s, &w, name, path);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "200 2",
            "{name}{path}: {out:?}"
        );
    }
    let out = curl(
        &s,
        &["-D", "-", "-o", "/dev/null", "--http1.1"],
        "docs.localhost",
        "/x",
    );
    let head = String::from_utf8_lossy(&out.stdout).to_ascii_lowercase();
    assert!(head.contains("x-seen-x-forwarded-proto: https"), "{head}");
    assert!(head.contains("x-path: /x"), "{head}");
}

/// The certificates of the https listener the proxy reports as refused or expired.
fn notes(s: &Setup) -> Vec<(String, String, bool)> {
    Listeners::read(&s.proxy.listeners)
        .map(|l| l.certs)
        .unwrap_or_default()
        .into_iter()
        .map(|c| (c.name, c.problem, c.expired))
        .collect()
}

/// The DER of the leaf served for `name`, trusting the files CA, by a rustls client.
async fn served_leaf(s: &Setup, name: &'static str) -> Option<Vec<u8>> {
    let stream = connect_tls(s, name).await?;
    let (_, conn) = stream.get_ref();
    Some(conn.peer_certificates()?.first()?.to_vec())
}

async fn connect_tls(
    s: &Setup,
    name: &'static str,
) -> Option<tokio_rustls::client::TlsStream<TcpStream>> {
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(&s.files_ca_pem).ok()?;
    use rustls_pki_types::pem::PemObject;
    for cert in rustls_pki_types::CertificateDer::pem_slice_iter(&pem) {
        roots.add(cert.ok()?).ok()?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .ok()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(s.https).await.ok()?;
    let server = rustls_pki_types::ServerName::try_from(name).ok()?;
    connector.connect(server, tcp).await.ok()
}

fn leaf_der(chain_pem: &str) -> Vec<u8> {
    use rustls_pki_types::pem::PemObject;
    let first = rustls_pki_types::CertificateDer::pem_slice_iter(chain_pem.as_bytes()).next();
    first.expect("a certificate").expect("pem").to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_is_refused_and_a_replaced_certificate_serves_without_a_dropped_connection() {
    let s = setup(false, "").await;
    let first = served_leaf(&s, "docs.localhost").await.expect("served");
    // a keep-alive HTTP/1.1 connection, open through everything below
    let tls = connect_tls(&s, "docs.localhost").await.expect("connect");
    let (mut open, conn) =
        hyper::client::conn::http1::handshake::<_, TestBody>(hyper_util::rt::TokioIo::new(tls))
            .await
            .expect("handshake");
    tokio::spawn(conn);
    let ask = |open: &mut hyper::client::conn::http1::SendRequest<TestBody>| {
        let req = http::Request::get("/kept")
            .header("host", "docs.localhost")
            .body(full(""))
            .expect("request");
        let sent = open.send_request(req);
        async move {
            let resp = sent.await.expect("the open connection answers");
            let status = resp.status();
            let _ = resp.into_body().collect().await;
            status
        }
    };
    assert_eq!(ask(&mut open).await, 200);

    // another certificate's key: refused with the reason, the first one serves on
    let other = CertFiles {
        cert: s.dir.path().join("other.pem"),
        key: s.dir.path().join("other.key"),
    };
    write_leaf(&s.files_ca, "other.localhost", &other);
    replace(&s.docs.key, &std::fs::read(&other.key).expect("key"));
    let want = format!(
        "{} is not the key of {}; the last good certificate keeps serving",
        s.docs.key.display(),
        s.docs.cert.display()
    );
    let refused = || async { notes(&s) == vec![("docs".to_string(), want.clone(), false)] };
    wait_until(Duration::from_secs(5), "the wrong key refused", refused).await;
    assert_eq!(
        served_leaf(&s, "docs.localhost").await.as_ref(),
        Some(&first)
    );
    assert_eq!(ask(&mut open).await, 200);

    // a new certificate and key: new handshakes get it, the open connection goes on
    let chain = write_leaf(&s.files_ca, "docs.localhost", &s.docs);
    let new = leaf_der(&chain);
    assert_ne!(new, first);
    let renewed = || async { served_leaf(&s, "docs.localhost").await.as_ref() == Some(&new) };
    wait_until(
        Duration::from_secs(5),
        "the new certificate served",
        renewed,
    )
    .await;
    assert!(notes(&s).is_empty(), "{:?}", notes(&s));
    assert_eq!(ask(&mut open).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_certificate_is_served_and_noted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params = rcgen::CertificateParams::new(vec!["old.localhost".to_string()]).expect("p");
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    let cert = params.self_signed(&key).expect("cert");
    let (cert_path, key_path) = (dir.path().join("old.pem"), dir.path().join("old.key"));
    std::fs::write(&cert_path, cert.pem()).expect("cert");
    std::fs::write(&key_path, key.serialize_pem()).expect("key");
    let s = setup(
        false,
        &format!(
            "  - {{name: old, gateway: web, host: old.localhost, tls: {{cert: \"{}\", key: \"{}\"}}}}\n",
            cert_path.display(),
            key_path.display()
        ),
    )
    .await;
    let want = vec![(
        "old".to_string(),
        format!("{} expired; it is still served", cert_path.display()),
        true,
    )];
    wait_until(Duration::from_secs(5), "expiry noted", || async {
        notes(&s) == want
    })
    .await;
    let out = s_client(&s, Some("old.localhost"), &cert_path, &[]);
    assert!(out.contains("s:CN = rcgen self signed cert"), "{out}");
    assert!(out.contains("certificate has expired"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_over_tls_and_h2c_with_100_streams_on_one_connection() {
    let s = setup(false, "").await;
    let w = [
        "-w",
        "%{http_version} %{http_code}",
        "-o",
        "/dev/null",
        "--http2",
    ];
    let out = curl(&s, &w, "docs.localhost", "/a");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "2 200", "{out:?}");
    // the backend gets the request's :authority as its Host (RFC 9113 8.3.1)
    let head = ["-D", "-", "-o", "/dev/null", "--http2"];
    let out = curl(&s, &head, "docs.localhost", "/a");
    let text = String::from_utf8_lossy(&out.stdout).to_lowercase();
    let host = format!("docs.localhost:{}", s.https.port());
    assert!(text.contains(&format!("x-seen-host: {host}\r\n")), "{text}");
    let forwarded = format!("x-seen-x-forwarded-host: {host}\r\n");
    assert!(text.contains(&forwarded), "{text}");
    let out = curl(
        &s,
        &["--http1.1", "-w", "%{http_version}", "-o", "/dev/null"],
        "docs.localhost",
        "/a",
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1.1", "{out:?}");
    // h2c with prior knowledge on the http listener
    let out = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "5",
            "--http2-prior-knowledge",
            "-w",
            " %{http_version}",
        ])
        .arg(format!("http://{}/entrances/web/h2c", s.proxy.http))
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "a 2", "{out:?}");
    // 100 requests multiplexed on one connection
    let port = s.https.port();
    let urls: Vec<String> = (0..100)
        .map(|i| format!("https://docs.localhost:{port}/n{i}"))
        .collect();
    let both = s.dir.path().join("both.pem");
    let out = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "20",
            "--http2",
            "--parallel",
            "--parallel-max",
            "100",
        ])
        .arg("--cacert")
        .arg(&both)
        .arg("--resolve")
        .arg(format!("docs.localhost:{port}:127.0.0.1"))
        .args(["-w", "%{http_code} %{http_version} %{num_connects}\n"])
        .args(urls.iter().flat_map(|u| ["-o", "/dev/null", u.as_str()]))
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 100, "{out:?}");
    assert!(lines.iter().all(|l| l.starts_with("200 2 ")), "{text}");
    let connects: u32 = lines
        .iter()
        .map(|l| {
            l.rsplit(' ')
                .next()
                .and_then(|n| n.parse::<u32>().ok())
                .unwrap_or(99)
        })
        .sum();
    assert_eq!(connects, 1, "one connection for all: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_streams_of_an_h2_connection_over_tls_are_answered_each_in_its_time() {
    let s = setup(false, "").await;
    // on one connection (ALPN h2): three streams the backend holds (10 s) past the
    // response timeout (500 ms), three it answers at once; curl gives up after 5 s
    let paths = ["/slow", "/a", "/slow", "/b", "/slow", "/c"];
    let port = s.https.port();
    let urls: Vec<String> = paths
        .iter()
        .map(|p| format!("https://docs.localhost:{port}{p}"))
        .collect();
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "5", "--http2", "--parallel"])
        .args(["--parallel-max", "10", "--cacert"])
        .arg(&s.files_ca_pem)
        .arg("--resolve")
        .arg(format!("docs.localhost:{port}:127.0.0.1"))
        .args([
            "-w",
            "%{url} %{http_code} %{http_version} %{num_connects}\n",
        ])
        .args(urls.iter().flat_map(|u| ["-o", "/dev/null", u.as_str()]))
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut got: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| {
            let (url, rest) = l.split_once(' ')?;
            let path = url.rsplit_once(&format!(":{port}"))?.1.to_string();
            Some((path, rest.rsplit_once(' ')?.0.to_string()))
        })
        .collect();
    got.sort();
    let want: Vec<(String, String)> = [
        ("/a", "200 2"),
        ("/b", "200 2"),
        ("/c", "200 2"),
        ("/slow", "504 2"),
        ("/slow", "504 2"),
        ("/slow", "504 2"),
    ]
    .iter()
    .map(|(p, r)| (p.to_string(), r.to_string()))
    .collect();
    assert_eq!(got, want, "{out:?}");
    let connects: u32 = text
        .lines()
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u32>().ok())
        .sum();
    assert_eq!(connects, 1, "one connection for all: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_is_redirected_308_to_https_but_the_proxys_own_paths() {
    let s = setup(true, "").await;
    let plain = |host: &str, path: &str| {
        let out = Command::new("curl")
            .args([
                "-sS",
                "--max-time",
                "5",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code} %{redirect_url}",
            ])
            .args(["-H", &format!("host: {host}")])
            .arg(format!("http://{}{path}", s.proxy.http))
            .output()
            .expect("curl");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let port = s.https.port();
    assert_eq!(
        plain("docs.localhost:8080", "/a/b?c=1"),
        format!("308 https://docs.localhost:{port}/a/b?c=1")
    );
    assert_eq!(
        plain("127.0.0.1", "/entrances/web/"),
        format!("308 https://127.0.0.1:{port}/entrances/web/")
    );
    assert_eq!(plain("docs.localhost", "/_lcc/health"), "200 ");
    // ACME HTTP-01 answers are served on plain http, before the redirect; only files
    // named by a base64url token, never through a link
    let challenges = s.dir.path().join("challenges");
    std::fs::write(challenges.join("tok_1-A"), "tok_1-A.thumbprint").expect("write");
    std::os::unix::fs::symlink(&s.docs.key, challenges.join("key")).expect("link");
    assert_eq!(
        plain("shop.example.com", "/.well-known/acme-challenge/tok_1-A"),
        "200 "
    );
    let body = Command::new("curl")
        .args(["-sS", "--max-time", "5"])
        .arg(format!(
            "http://{}/.well-known/acme-challenge/tok_1-A",
            s.proxy.http
        ))
        .output()
        .expect("curl");
    assert_eq!(body.stdout, b"tok_1-A.thumbprint");
    for path in ["key", "none", "..%2Fdocs.key", "a.b"] {
        let got = plain("x", &format!("/.well-known/acme-challenge/{path}"));
        assert_eq!(got, "404 ", "{path}");
    }
    // curl follows it to the answer over https
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "5", "-L", "--cacert"])
        .arg(s.dir.path().join("both.pem"))
        .arg("--resolve")
        .arg(format!("docs.localhost:{port}:127.0.0.1"))
        .arg("--resolve")
        .arg(format!("docs.localhost:{}:127.0.0.1", s.proxy.http.port()))
        .arg(format!("http://docs.localhost:{}/z", s.proxy.http.port()))
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "a", "{out:?}");
}

/// Sends `bytes` to `addr` and reads until the server closes; `None` when it does not
/// close within `limit`.
async fn closed_after(addr: SocketAddr, bytes: &[u8], limit: Duration) -> Option<Vec<u8>> {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let _ = stream.write_all(bytes).await;
    let mut got = Vec::new();
    let read = async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(limit, read).await.ok()?;
    Some(got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_garbage_is_closed_cleanly_and_the_listener_serves_on() {
    let s = setup(false, "").await;
    let limit = Duration::from_secs(3);
    // plain HTTP to the TLS port: a TLS alert record (0x15) at most, then closed
    let got = closed_after(s.https, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", limit)
        .await
        .expect("closed");
    assert!(got.is_empty() || got[0] == 0x15, "{got:?}");
    // a ClientHello cut short: closed when the handshake time (the header timeout) ends
    let mut hello = vec![
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ];
    hello.extend([7u8; 40]);
    assert!(closed_after(s.https, &hello, limit).await.is_some());
    // random bytes
    assert!(closed_after(s.https, &[0xde; 300], limit).await.is_some());
    let w = ["-o", "/dev/null", "-w", "%{http_code}"];
    assert_eq!(curl(&s, &w, "docs.localhost", "/").stdout, b"200");
}
