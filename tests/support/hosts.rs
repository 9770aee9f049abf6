//! Several hosts for the multi-host tests: each host a network namespace with its own
//! address and a real `sshd`, all on one bridge, with the operator's side in a
//! namespace of its own.
//!
//! ```text
//!   operator namespace  OP (10.77.0.1/24 on bridge br0)
//!        br0 --- vh1 ======= eth0  host h1 namespace (10.77.0.11/24), sshd on :22
//!            --- vh2 ======= eth0  host h2 namespace (10.77.0.12/24), sshd on :22
//!            --- vh3 ======= eth0  host h3 namespace (10.77.0.13/24), sshd on :22
//! ```
//!
//! Every interface lives inside a namespace the harness made (the bridge in OP), so
//! parallel harnesses, in this process or another, use the same addresses without
//! meeting. Namespace names are `lcct-PID-SEQ-ROLE`; a new harness removes those of
//! earlier runs whose PID is dead (their processes killed first), and their temp dirs
//! (`lcct-PID-*`).
//!
//! The namespaces share the file system: a host's cluster directory is a temp dir, its
//! `lcc` is the binary under test (`ssh.lcc`). The keys are made for the test
//! (`ssh-keygen`): a host key per host, written to a known_hosts file the client checks
//! strictly, and one client key authorised on every host (`root`; the tests run as
//! root). Each host's sshd gives its sessions their own `XDG_RUNTIME_DIR` and
//! `XDG_DATA_HOME`, so a host's daemon joins no registry but its own.
//!
//! Dropping [`Hosts`] tears everything down, also when the test panicked: `lcc down`
//! in each host's directory, every process left in the namespaces killed, the
//! namespaces (and with them the bridge and the veth pairs) deleted.
//!
//! Use: `let hosts = Hosts::new(3);` then write `hosts.host(i).document("region: eu")`
//! into the operator's manifests, run `hosts.operator(lcc_bin())` (e.g. `lcc sync`),
//! look at `hosts.host(i).dir`, cut a link with [`Hosts::cut`] and [`Hosts::restore`],
//! reach a host's address from the operator's side with [`Hosts::in_operator`].
//!
//! A bastion: [`Hosts::reachable_only_through`] has a host's sshd take logins from one
//! other host's address only, and gives the operator's namespace an ssh client config
//! for jumps: `ip netns exec` mounts `/etc/netns/NS/ssh` over `/etc/ssh`, and a jump
//! (`ssh -J`) reads only the system config and the user's, never the `-o` options of
//! the command line.

use super::process::{run_with_deadline, Bounded};
use super::sharing::Turn;
use super::{lcc_bin, wait_until};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Prefix of every namespace and temp dir the harness makes.
const PREFIX: &str = "lcct";

/// The operator's address on the bridge.
pub const OPERATOR: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);

/// Harnesses made by this process so far (names stay unique within it).
static SEQ: AtomicUsize = AtomicUsize::new(0);

/// One host: a namespace, its address, its sshd, its cluster directory.
#[derive(Debug)]
pub struct Host {
    /// Its name in the manifests: `h1`, `h2`, ...
    pub name: String,
    /// Its namespace.
    pub ns: String,
    /// Its address on the bridge.
    pub address: Ipv4Addr,
    /// The cluster's directory on it.
    pub dir: PathBuf,
    /// The bridge side of its veth pair (in the operator's namespace).
    veth: String,
    /// Its `XDG_RUNTIME_DIR` (and `XDG_DATA_HOME` below it), as its sshd sets them.
    runtime: PathBuf,
    /// Its sshd, in the foreground (`-D`).
    sshd: Option<Child>,
    /// The one address its sshd takes logins from, if not any.
    only_from: Option<Ipv4Addr>,
}

impl Host {
    /// A `kind: Host` document for it: address, ssh (the test's key and known_hosts,
    /// `lcc` the binary under test) and dir, then `extra` lines (e.g. `region: eu`).
    pub fn document(&self, hosts: &Hosts, extra: &str) -> String {
        self.document_with_lcc(hosts, extra, &lcc_bin().display().to_string())
    }

    /// [`Host::document`] with another `ssh.lcc` (a missing or older `lcc`).
    pub fn document_with_lcc(&self, hosts: &Hosts, extra: &str, lcc: &str) -> String {
        self.document_of(hosts, extra, &format!("  lcc: {lcc}\n"))
    }

    /// [`Host::document`] without `ssh.lcc`: the host finds `lcc` on its login's PATH
    /// (which its sshd sets to the directory of the binary under test).
    pub fn document_on_path(&self, hosts: &Hosts, extra: &str) -> String {
        self.document_of(hosts, extra, "")
    }

    /// [`Host::document`] with `ssh.jumpHost` the address of `jump`.
    pub fn document_through(&self, hosts: &Hosts, jump: &Host) -> String {
        let lcc = format!(
            "  lcc: {}\n  jumpHost: {}\n",
            lcc_bin().display(),
            jump.address
        );
        self.document_of(hosts, "", &lcc)
    }

    fn document_of(&self, hosts: &Hosts, extra: &str, ssh_lines: &str) -> String {
        let mut doc = format!(
            "kind: Host\nname: {}\naddress: {}\nssh:\n  user: root\n  identityFile: {}\n{ssh_lines}  options: [UserKnownHostsFile={}, StrictHostKeyChecking=yes, ConnectTimeout=3]\ndir: {}\n",
            self.name,
            self.address,
            hosts.key().display(),
            hosts.known_hosts().display(),
            self.dir.display(),
        );
        for line in extra.lines().filter(|l| !l.trim().is_empty()) {
            doc.push_str(line);
            doc.push('\n');
        }
        doc
    }

    /// `lcc ARGS` run in this host's namespace and environment (its registry), e.g.
    /// `["-C", dir, "ps"]`.
    pub fn lcc(&self, args: &[&str]) -> Bounded {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.ns])
            .arg(lcc_bin())
            .args(args)
            .env("NO_COLOR", "1")
            .env("XDG_RUNTIME_DIR", &self.runtime)
            .env("XDG_DATA_HOME", self.runtime.join("data"));
        run_with_deadline(cmd, Duration::from_secs(60))
    }

    /// Its file `rel` (relative to its cluster directory), if readable.
    pub fn read(&self, rel: &str) -> Option<String> {
        std::fs::read_to_string(self.dir.join(rel)).ok()
    }
}

/// Hosts as network namespaces on a bridge, with real sshds; torn down on drop.
#[derive(Debug)]
pub struct Hosts {
    /// The operator's namespace (the bridge's).
    pub operator_ns: String,
    hosts: Vec<Host>,
    /// Keys, sshd configs, known_hosts, the hosts' dirs and runtime dirs.
    tmp: tempfile::TempDir,
    /// Held while the hosts live: their daemons and sshds stay off a test that runs
    /// alone.
    _turn: Turn,
}

impl Hosts {
    /// `n` hosts (1..=9) named `h1`.., at 10.77.0.11.., each with a running sshd.
    /// Panics (tearing down what was made) if a step fails.
    pub fn new(n: usize) -> Hosts {
        assert!((1..=9).contains(&n), "1 to 9 hosts");
        let turn = Turn::shared();
        remove_leftovers();
        let pid = std::process::id();
        let seq = SEQ.fetch_add(1, Ordering::SeqCst);
        let tmp = tempfile::Builder::new()
            .prefix(&format!("{PREFIX}-{pid}-"))
            .tempdir()
            .expect("tempdir");
        let mut hosts = Hosts {
            operator_ns: format!("{PREFIX}-{pid}-{seq}-op"),
            hosts: Vec::new(),
            tmp,
            _turn: turn,
        };
        hosts.make_operator();
        keygen(&hosts.key());
        for i in 1..=n {
            hosts.add_host(pid, seq, i);
        }
        let known: String = hosts
            .hosts
            .iter()
            .map(|h| {
                let key =
                    std::fs::read_to_string(hosts.tmp.path().join(format!("{}.key.pub", h.name)))
                        .expect("host key");
                let mut words = key.split_whitespace();
                let (kind, body) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
                format!("{} {kind} {body}\n", h.address)
            })
            .collect();
        std::fs::write(hosts.known_hosts(), known).expect("known_hosts");
        for i in 0..n {
            hosts.start_sshd(i);
        }
        hosts
    }

    /// Host `i` (0-based).
    pub fn host(&self, i: usize) -> &Host {
        &self.hosts[i]
    }

    /// Every host.
    pub fn all(&self) -> &[Host] {
        &self.hosts
    }

    /// The `kind: Host` documents of every host (no placement labels), joined by `---`;
    /// the last host finds `lcc` on its PATH, the others at `ssh.lcc`.
    pub fn documents(&self) -> String {
        let last = self.hosts.len() - 1;
        self.hosts
            .iter()
            .enumerate()
            .map(|(i, h)| {
                if i == last {
                    h.document_on_path(self, "")
                } else {
                    h.document(self, "")
                }
            })
            .collect::<Vec<_>>()
            .join("---\n")
    }

    /// The client key authorised on every host.
    pub fn key(&self) -> PathBuf {
        self.tmp.path().join("client")
    }

    /// The known_hosts file holding every host's key.
    pub fn known_hosts(&self) -> PathBuf {
        self.tmp.path().join("known_hosts")
    }

    /// A command that runs `program` in the operator's namespace (`ip netns exec`).
    pub fn operator(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.operator_ns]).arg(program);
        cmd
    }

    /// Runs `f` on a thread that entered the operator's namespace (network namespaces
    /// are per thread), e.g. to connect to a host's address.
    pub fn in_operator<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let path = format!("/run/netns/{}", self.operator_ns);
        std::thread::scope(|s| {
            s.spawn(|| {
                let ns = std::fs::File::open(&path).expect("operator namespace");
                nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
                f()
            })
            .join()
            .expect("thread in the operator namespace")
        })
    }

    /// Host `i` takes ssh logins only from host `jump`'s address (its sshd restarted so),
    /// and the operator's ssh can jump through any host: the client key, `root` and
    /// the known_hosts file for every address on the bridge, in the system config of
    /// the operator's namespace.
    pub fn reachable_only_through(&mut self, i: usize, jump: usize) {
        if let Some(mut sshd) = self.hosts[i].sshd.take() {
            let _ = sshd.kill();
            let _ = sshd.wait();
        }
        self.hosts[i].only_from = Some(self.hosts[jump].address);
        self.start_sshd(i);
        let etc = self.etc_ssh();
        std::fs::create_dir_all(&etc).expect("/etc/netns/NS/ssh");
        std::fs::write(
            etc.join("ssh_config"),
            format!(
                "Host 10.77.0.*\n  User root\n  IdentityFile {}\n  UserKnownHostsFile {}\n  \
                 StrictHostKeyChecking yes\n  BatchMode yes\n  ConnectTimeout 3\n",
                self.key().display(),
                self.known_hosts().display()
            ),
        )
        .expect("ssh_config");
    }

    /// What `ip netns exec` mounts over `/etc/ssh` in the operator's namespace.
    fn etc_ssh(&self) -> PathBuf {
        Path::new("/etc/netns").join(&self.operator_ns).join("ssh")
    }

    /// Cuts host `i` off the bridge (its veth down): nothing reaches it, nor leaves it.
    pub fn cut(&self, i: usize) {
        self.set_link(i, "down");
    }

    /// Puts host `i` back on the bridge.
    pub fn restore(&self, i: usize) {
        self.set_link(i, "up");
    }

    fn set_link(&self, i: usize, state: &str) {
        let veth = &self.hosts[i].veth;
        ip(&["-n", &self.operator_ns, "link", "set", veth, state]);
    }

    /// The operator's namespace with its bridge.
    fn make_operator(&mut self) {
        let op = self.operator_ns.clone();
        ip(&["netns", "add", &op]);
        ip(&["-n", &op, "link", "set", "lo", "up"]);
        ip(&["-n", &op, "link", "add", "br0", "type", "bridge"]);
        ip(&[
            "-n",
            &op,
            "addr",
            "add",
            &format!("{OPERATOR}/24"),
            "dev",
            "br0",
        ]);
        ip(&["-n", &op, "link", "set", "br0", "up"]);
    }

    /// Host `i` (1-based): its namespace, veth pair on the bridge, address, dirs, keys.
    fn add_host(&mut self, pid: u32, seq: usize, i: usize) {
        let name = format!("h{i}");
        let ns = format!("{PREFIX}-{pid}-{seq}-{name}");
        let veth = format!("v{name}");
        let address = Ipv4Addr::new(10, 77, 0, 10 + i as u8);
        let dir = self.tmp.path().join(format!("{name}-cluster"));
        let runtime = self.tmp.path().join(format!("{name}-runtime"));
        std::fs::create_dir_all(&dir).expect("host dir");
        std::fs::create_dir_all(runtime.join("data")).expect("runtime dir");
        // pushed first: a step failing below still tears the namespace down
        self.hosts.push(Host {
            name: name.clone(),
            ns: ns.clone(),
            address,
            dir,
            veth: veth.clone(),
            runtime,
            sshd: None,
            only_from: None,
        });
        let op = &self.operator_ns;
        ip(&["netns", "add", &ns]);
        ip(&["-n", &ns, "link", "set", "lo", "up"]);
        ip(&[
            "-n", op, "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &ns,
        ]);
        ip(&["-n", op, "link", "set", &veth, "master", "br0"]);
        ip(&["-n", op, "link", "set", &veth, "up"]);
        ip(&[
            "-n",
            &ns,
            "addr",
            "add",
            &format!("{address}/24"),
            "dev",
            "eth0",
        ]);
        ip(&["-n", &ns, "link", "set", "eth0", "up"]);
        keygen(&self.tmp.path().join(format!("{name}.key")));
    }

    /// Starts host `i`'s sshd and waits until it accepts connections.
    fn start_sshd(&mut self, i: usize) {
        // sshd's privilege separation directory, as its service unit makes it
        std::fs::create_dir_all("/run/sshd").expect("/run/sshd");
        let dir = self.tmp.path();
        let host = &self.hosts[i];
        let config = dir.join(format!("{}.sshd_config", host.name));
        std::fs::write(
            dir.join("authorized_keys"),
            std::fs::read(dir.join("client.pub")).expect("client key"),
        )
        .expect("authorized_keys");
        std::fs::write(
            &config,
            format!(
                "ListenAddress {address}\nHostKey {key}\nPidFile none\nAuthorizedKeysFile {auth}\n\
                 PermitRootLogin prohibit-password\nPasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nLogLevel ERROR\n\
                 SetEnv XDG_RUNTIME_DIR={runtime} XDG_DATA_HOME={runtime}/data NO_COLOR=1 \
                 PATH={bin}:/usr/local/bin:/usr/bin:/bin\n{only}",
                only = host
                    .only_from
                    .map(|from| format!("AllowUsers root@{from}\n"))
                    .unwrap_or_default(),
                address = host.address,
                key = dir.join(format!("{}.key", host.name)).display(),
                auth = dir.join("authorized_keys").display(),
                runtime = host.runtime.display(),
                bin = lcc_bin().parent().expect("lcc's directory").display(),
            ),
        )
        .expect("sshd_config");
        let log = std::fs::File::create(dir.join(format!("{}.sshd.log", host.name))).expect("log");
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &host.ns,
                "/usr/sbin/sshd",
                "-D",
                "-e",
                "-f",
            ])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start sshd");
        self.hosts[i].sshd = Some(child);
        let to = SocketAddr::from((self.hosts[i].address, 22));
        let up = wait_until(Duration::from_secs(10), || {
            self.in_operator(|| TcpStream::connect_timeout(&to, Duration::from_millis(200)).is_ok())
        });
        assert!(
            up,
            "sshd of {} did not come up: {}",
            self.hosts[i].name,
            self.sshd_log(i)
        );
    }

    /// Host `i`'s sshd log (for assertion messages).
    pub fn sshd_log(&self, i: usize) -> String {
        let path = self
            .tmp
            .path()
            .join(format!("{}.sshd.log", self.hosts[i].name));
        std::fs::read_to_string(path).unwrap_or_default()
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for host in &mut self.hosts {
            if host.dir.join(".lcc").exists() {
                let _ = host.lcc(&["-C", &host.dir.display().to_string(), "down"]);
            }
            if let Some(mut sshd) = host.sshd.take() {
                let _ = sshd.kill();
                let _ = sshd.wait();
            }
            delete_namespace(&host.ns);
        }
        delete_namespace(&self.operator_ns);
    }
}

/// Runs `ip ARGS`, panicking with its error if it fails.
fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `git -C DIR ARGS` as a test user (the operator's checkout); its stdout. A failure
/// fails the test.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=test", "-c", "user.email=test@example.org"])
        .args(args)
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Makes an ed25519 key pair at `path` (and `path.pub`), no passphrase.
fn keygen(path: &Path) {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "lcc-test", "-f"])
        .arg(path)
        .output()
        .expect("run ssh-keygen");
    assert!(
        out.status.success(),
        "ssh-keygen: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Kills every process in namespace `ns`, then deletes it (its interfaces go with it).
fn delete_namespace(ns: &str) {
    // bounded: a process may fork while we kill, so look again a few times
    for _ in 0..5 {
        let out = Command::new("ip").args(["netns", "pids", ns]).output();
        let pids = out
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        if pids.trim().is_empty() {
            break;
        }
        for pid in pids.split_whitespace() {
            super::kill9(pid.parse().unwrap_or(0));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = Command::new("ip").args(["netns", "del", ns]).output();
    // its client config, if it had one (see `Hosts::reachable_only_through`)
    let _ = std::fs::remove_dir_all(Path::new("/etc/netns").join(ns));
}

/// Removes the namespaces and temp dirs of earlier runs whose process is dead.
fn remove_leftovers() {
    let dead = |name: &str| {
        let pid = name
            .strip_prefix(&format!("{PREFIX}-"))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok());
        pid.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists())
    };
    let list = Command::new("ip").args(["netns", "list"]).output();
    let list = list
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    for ns in list.lines().filter_map(|l| l.split_whitespace().next()) {
        if dead(ns) {
            delete_namespace(ns);
        }
    }
    for entry in std::fs::read_dir("/etc/netns")
        .into_iter()
        .flatten()
        .flatten()
    {
        if dead(&entry.file_name().to_string_lossy()) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    let tmp = std::env::temp_dir();
    for entry in std::fs::read_dir(&tmp).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if dead(&name) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
