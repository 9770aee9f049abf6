//! The command-line grammar of `lcc` (clap derive). No behaviour lives here.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Local Cluster: run a set of services on one machine the way Kubernetes runs them on many.
#[derive(Debug, Parser)]
#[command(name = "lcc", version, about, propagate_version = true)]
pub struct Cli {
    /// Run as if started in DIR (the cluster directory), like `git -C`.
    // Its own id: subcommands' positional `dir` arguments must not fill it.
    #[arg(short = 'C', global = true, value_name = "DIR", id = "cluster_dir")]
    pub dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

/// Every `lcc` subcommand.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check manifests (files or cluster directories); exit 1 with every error.
    Validate {
        /// Manifest files or cluster directories (default: the cluster directory).
        paths: Vec<PathBuf>,
    },
    /// Compile manifests into standalone `pod` scripts, one directory each.
    Compile {
        /// Manifest files or cluster directories.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Output directory.
        #[arg(short, long, default_value = "pods")]
        output: PathBuf,
    },
    /// Print which host runs each instance (docs/hosts.md).
    Plan {
        /// Cluster directory (default: `-C` or the current directory).
        dir: Option<PathBuf>,
    },
    /// Export the cluster for another platform.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Certificates for the https listener.
    #[command(subcommand)]
    Cert(CertCommand),
    /// Probe an endpoint once: exit 0 if it answers.
    Probe {
        /// `http://HOST:PORT/PATH` or `tcp://HOST:PORT`.
        url: String,
        /// How long to wait, e.g. `1s`, `500ms`.
        #[arg(long, default_value = "1s")]
        timeout: String,
        /// Accepted HTTP status range.
        #[arg(long, default_value = "200-399")]
        expect: String,
    },
    /// Print a free TCP port on 127.0.0.1, or check that PORT is free.
    Port(PortArgs),
    /// Fetch and safely extract a site archive into DIR (replacing only what lcc put there).
    Fetch(FetchArgs),
    /// Serve a directory over HTTP.
    ServeStatic(ServeArgs),
    /// Start the daemon for the cluster in DIR and bring it up.
    Up(UpArgs),
    /// Stop every pod, the proxy and the daemon of the cluster in DIR.
    Down {
        /// Cluster directory (default: `-C` or the current directory).
        dir: Option<PathBuf>,
    },
    /// List every running cluster on the machine (this user's): name, directory,
    /// instances ready/total.
    Ls {
        /// Output format.
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        output: Format,
    },
    /// Serve the web dashboard and the API of every running cluster on the machine
    /// (this user's) until interrupted.
    Dashboard {
        /// Address to listen on; anything but loopback needs --token-file.
        #[arg(long, default_value = "127.0.0.1:7000")]
        listen: std::net::SocketAddr,
        /// Open the dashboard in the desktop's browser (xdg-open).
        #[arg(long)]
        open: bool,
        /// A file (mode 0600) holding the token every API request must carry; the page
        /// then does not carry it: open the printed URL with `#token=…`.
        #[arg(long, value_name = "FILE")]
        token_file: Option<std::path::PathBuf>,
    },
    /// List the instances and their status.
    Ps {
        /// Output format.
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        output: Format,
    },
    /// Show an instance's output.
    Logs {
        /// Instance name.
        #[arg(value_parser = object_name)]
        instance: String,
        /// Keep following the output.
        #[arg(short, long)]
        follow: bool,
        /// Show the last N lines.
        #[arg(short = 'n', long)]
        lines: Option<usize>,
        /// Show stderr instead of stdout.
        #[arg(long)]
        stderr: bool,
    },
    /// Ask the daemon to start an instance or every instance of a group.
    Start {
        /// Instance or group name.
        #[arg(value_parser = object_name)]
        name: String,
    },
    /// Ask the daemon to stop an instance or every instance of a group.
    Stop {
        /// Instance or group name.
        #[arg(value_parser = object_name)]
        name: String,
    },
    /// Restart an instance or every instance of a group.
    Restart {
        /// Instance or group name.
        #[arg(value_parser = object_name)]
        name: String,
    },
    /// Set a group's replica count (kept as an override until the next scale).
    Scale {
        /// Group name.
        #[arg(value_parser = object_name)]
        group: String,
        /// Replicas.
        replicas: u32,
    },
    /// Delete an instance (a group's instance is replaced by a new one).
    Delete {
        /// Instance name.
        #[arg(value_parser = object_name)]
        instance: String,
    },
    /// Manage storages.
    #[command(subcommand)]
    Storage(StorageCommand),
    /// Show the cluster's events.
    Events {
        /// Keep following new events.
        #[arg(short, long)]
        follow: bool,
        /// Output format: a table, or one JSON object per line (as in events.jsonl).
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        output: Format,
    },
    /// The cluster's HTTP API (docs/api.md).
    #[command(subcommand)]
    Api(ApiCommand),
    /// Sync the cluster in DIR (a git work tree) to its hosts over SSH: each host gets
    /// only the files it needs, then its daemon runs what is placed on it.
    #[command(long_about = SYNC_ABOUT)]
    Sync(SyncArgs),
    /// The host's side of `lcc sync`: read a tar stream of cluster files on stdin
    /// and move them into DIR, under the host's sync lock, then record COMMIT.
    Receive(ReceiveArgs),
    /// The host's side of `lcc sync`: print what this host has (commit, host, daemon,
    /// the digests of the files syncs put there); with --session, then carry out the
    /// request read on stdin.
    #[command(hide = true)]
    SyncState {
        /// Cluster directory on this host (default: `-C` or the current directory).
        dir: Option<PathBuf>,
        /// Then print `end`, read the operator's request on stdin and carry it out.
        #[arg(long)]
        session: bool,
    },
    /// Print shell completions.
    Completions {
        /// Shell.
        shell: clap_complete::Shell,
    },
    /// Run the proxy on a config file, as `lcc-proxy` does (the daemon's fallback when
    /// no `lcc-proxy` binary sits next to `lcc`).
    #[command(hide = true)]
    Proxy {
        /// The proxy.conf to serve.
        #[arg(long)]
        config: PathBuf,
        /// After each config applied, write the SHA-256 of its bytes here.
        #[arg(long, value_name = "FILE")]
        applied: Option<PathBuf>,
        /// Write the listen addresses served and those that cannot be bound yet here.
        #[arg(long, value_name = "FILE")]
        listeners: Option<PathBuf>,
    },
    /// Run the daemon in the foreground (used by `lcc up`; not for direct use).
    #[command(hide = true)]
    Daemon {
        /// Cluster directory.
        dir: PathBuf,
        /// How the manifests are read, as given to `lcc up`.
        #[command(flatten)]
        load: LoadArgs,
    },
}

/// The long help of `lcc sync`.
const SYNC_ABOUT: &str = "\
Sync the cluster in DIR (a git work tree) to its hosts (kind: Host) over SSH.

The commit synced is HEAD; a tree with uncommitted changes or untracked files is
refused. For each host, in parallel, over one ssh connection (at most --timeout
seconds each): read what it has (its commit, its files' digests), refuse a host
that is ahead of HEAD or on another history unless --force, send only the files
that changed for it (a tar stream, received under the host's lock), remove the
files it no longer needs, then start its daemon unless it runs (a running daemon
reloads). A host gets the manifest files it needs (all but the files of Instances
and groups placed elsewhere) and every other tracked file; never `.lcc/`. The
host with `address: local` is this machine: no ssh.

One line per host: `synced (N files)`, `unchanged` or `failed: REASON`; exit 1 if
one failed. Running it again after a failure finishes the job (docs/hosts.md).";

/// Arguments of `lcc sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Cluster directory, a git work tree (default: `-C` or the current directory).
    pub dir: Option<PathBuf>,
    /// Sync a host that is ahead of this commit or on another history (a rollback).
    #[arg(long)]
    pub force: bool,
    /// Only this host (repeatable; default: every host).
    #[arg(long = "host", value_name = "NAME")]
    pub hosts: Vec<String>,
    /// Print the placement and what each host would get, sending nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Give up on a host after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub timeout: u64,
}

/// Arguments of `lcc receive` (and what a sync session asks of it).
#[derive(Debug, Clone, Default, Args)]
pub struct ReceiveArgs {
    /// Cluster directory on this host (default: `-C` or the current directory).
    pub dir: Option<PathBuf>,
    /// The commit being synced (hex), recorded once every file is in place.
    #[arg(long)]
    pub commit: String,
    /// The Host this directory is (recorded with the commit).
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
    /// Refuse unless the host is still at this commit (`-`: never synced); checked
    /// under the lock.
    #[arg(long, value_name = "COMMIT")]
    pub if_commit: Option<String>,
    /// Remove this file, if a sync put it there (repeatable).
    #[arg(long, value_name = "PATH")]
    pub delete: Vec<String>,
    /// Then start the daemon unless one runs (a running one reloads by itself).
    #[arg(long)]
    pub up: bool,
    /// A lock older than this many seconds is stale (its sync was killed).
    #[arg(long, default_value_t = lcc_core::layout::SYNC_LOCK_STALE_S)]
    pub lock_stale_s: u64,
}

/// `lcc cert` subcommands.
#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// Create the local CA under the user's data dir unless it exists; print the path of
    /// its certificate (first line) and how to trust it.
    Ca {
        /// Also install it into the system's store of trusted authorities (Debian's
        /// update-ca-certificates, Fedora's update-ca-trust; needs root).
        #[arg(long)]
        install: bool,
    },
}

/// `lcc export` targets.
#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Write the cluster as Kubernetes manifests (docs/kubernetes.md): one YAML stream
    /// on stdout, or one file per object with `-o DIR`; warnings on stderr.
    Kubernetes(KubernetesArgs),
}

/// Arguments of `lcc export kubernetes`.
#[derive(Debug, Args)]
pub struct KubernetesArgs {
    /// Cluster directory (default: `-C` or the current directory).
    pub dir: Option<PathBuf>,
    /// Directory for one file per object, or `-` for stdout (the default).
    #[arg(short, long, value_name = "OUT_DIR")]
    pub output: Option<String>,
    /// Namespace of every object.
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,
    /// What entrances become.
    #[arg(long, value_enum, default_value_t = IngressArg::GatewayApi)]
    pub ingress: IngressArg,
    /// The Gateway the HTTPRoutes attach to (default `lcc`).
    #[arg(long, value_name = "NAME")]
    pub gateway: Option<String>,
    /// Also export that Gateway, of this GatewayClass.
    #[arg(long, value_name = "CLASS")]
    pub gateway_class: Option<String>,
    /// `ingressClassName` of the Ingress objects (with `--ingress ingress`).
    #[arg(long, value_name = "CLASS")]
    pub ingress_class: Option<String>,
    /// `storageClassName` of the claims.
    #[arg(long, value_name = "CLASS")]
    pub storage_class: Option<String>,
    /// The image of an application, over its `kubernetes.image` (repeatable).
    #[arg(long, value_name = "APP=IMAGE", value_parser = app_image)]
    pub image: Vec<(String, String)>,
}

/// What entrances become in the export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IngressArg {
    /// HTTPRoutes of the Gateway API.
    GatewayApi,
    /// networking.k8s.io/v1 Ingresses.
    Ingress,
    /// Nothing.
    None,
}

/// `APP=IMAGE` of `--image`: the app checked against the name rule.
fn app_image(value: &str) -> Result<(String, String), String> {
    let (app, image) = value
        .split_once('=')
        .ok_or_else(|| format!("`{value}`: write APP=IMAGE"))?;
    lcc_compiler::rules::name(app)?;
    Ok((app.to_string(), image.to_string()))
}

/// Arguments of `lcc port`.
#[derive(Debug, Args)]
pub struct PortArgs {
    /// Check that this port is free instead of picking one.
    #[arg(long, value_name = "PORT")]
    pub check: Option<u16>,
    /// Pick from this inclusive range, e.g. `30000-31999`.
    #[arg(long, value_name = "LO-HI")]
    pub range: Option<String>,
}

/// Arguments of `lcc fetch`.
#[derive(Debug, Args)]
pub struct FetchArgs {
    /// http(s)://, file:// URL or a path.
    pub url: String,
    /// Directory that receives the extracted site.
    #[arg(long)]
    pub into: PathBuf,
    /// Expected sha256 of the archive.
    #[arg(long)]
    pub sha256: Option<String>,
    /// Subdirectory of the archive to keep.
    #[arg(long)]
    pub root: Option<String>,
    /// Limit on the extracted total, in bytes.
    #[arg(long, default_value_t = 1 << 30)]
    pub max_size: u64,
    /// Replace DIR even if lcc did not fill it (no `.lcc-site` mark): everything in it is
    /// deleted. Never a protected path (`/`, the home, system directories, mount points,
    /// the current directory or one holding it); a symlink is replaced, not followed.
    #[arg(long)]
    pub force: bool,
}

/// Arguments of `lcc serve-static`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Directory to serve.
    pub dir: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8000")]
    pub listen: String,
    /// Serve index.html for unknown paths (single-page apps).
    #[arg(long)]
    pub spa: bool,
    /// How long a client may take to send a request head, e.g. `30s`, `500ms`.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub header_timeout: std::time::Duration,
}

/// Arguments of `lcc up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Cluster directory (default: `-C` or the current directory).
    pub dir: Option<PathBuf>,
    /// Return once the pods are started, leaving the daemon running.
    #[arg(short, long)]
    pub detach: bool,
    /// With `-d`: return once every instance is ready and served, or exit 1 as soon as
    /// one cannot become ready (a Failed instance, a pod that cannot be made, a listen
    /// address taken).
    #[arg(long)]
    pub wait: bool,
    /// With `--wait`: how long to wait at most, e.g. `90s`, `2m` (default 60s, or
    /// `$LCC_WAIT_TIMEOUT` seconds).
    #[arg(long, value_name = "D", requires = "wait", value_parser = duration)]
    pub wait_timeout: Option<std::time::Duration>,
    /// Start even when a listen address of the cluster is taken by another program: the
    /// proxy serves the rest and takes that address once it is free.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub load: LoadArgs,
}

/// How `lcc up` (and the daemon it starts) reads the manifests and what it brings up.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct LoadArgs {
    /// Variables for `${VAR}` in the manifests, below the shell's environment and above
    /// the cluster directory's `.env`.
    #[arg(long, value_name = "FILE")]
    pub env_file: Option<PathBuf>,
    /// Bring up what has this profile too (repeatable; default `$LCC_PROFILES`,
    /// comma-separated). What has no profile always comes up.
    #[arg(
        long = "profile",
        value_name = "P",
        env = "LCC_PROFILES",
        value_delimiter = ','
    )]
    pub profiles: Vec<String>,
    /// Bring up only these Instances or InstanceGroups (after DIR) and what they depend
    /// on.
    #[arg(value_name = "NAME", value_parser = object_name)]
    pub names: Vec<String>,
    /// Restart instances when the paths of their `watch:` change (debounced 300 ms; a
    /// group one replica at a time).
    #[arg(long)]
    pub watch: bool,
}

impl LoadArgs {
    /// The compiler's options, paths made absolute (the daemon may run elsewhere).
    pub fn options(&self) -> lcc_compiler::LoadOptions {
        let absolute = |p: &PathBuf| std::path::absolute(p).unwrap_or_else(|_| p.clone());
        lcc_compiler::LoadOptions {
            env_file: self.env_file.as_ref().map(absolute),
            select: Some(lcc_compiler::Select {
                profiles: self.profiles.clone(),
                names: self.names.clone(),
            }),
        }
    }

    /// The same options as arguments of `lcc daemon`.
    pub fn to_args(&self) -> Vec<std::ffi::OsString> {
        let options = self.options();
        let mut args = Vec::new();
        if let Some(file) = options.env_file {
            args.push("--env-file".into());
            args.push(file.into_os_string());
        }
        for profile in &self.profiles {
            args.push("--profile".into());
            args.push(profile.into());
        }
        if self.watch {
            args.push("--watch".into());
        }
        args.extend(self.names.iter().map(Into::into));
        args
    }
}

/// `lcc storage` subcommands.
#[derive(Debug, Subcommand)]
pub enum StorageCommand {
    /// List storages, their directories and who binds them.
    Ls,
    /// Delete a storage's data: only a folder lcc made for it (its `.lcc-storage` mark),
    /// bound by no instance; asks first on a terminal.
    Rm {
        /// Storage name.
        #[arg(value_parser = object_name)]
        name: String,
        /// Do not ask for confirmation.
        #[arg(short, long)]
        yes: bool,
        /// Delete the folder even without lcc's mark (never a protected folder: `/`, the
        /// home, system directories, mount points, the cluster directory, its `.lcc/`...).
        #[arg(long)]
        force: bool,
    },
}

/// `lcc api` subcommands.
#[derive(Debug, Subcommand)]
pub enum ApiCommand {
    /// Print the bearer token of the API over TCP (`.lcc/api.token`, made at the first
    /// `lcc up` or now).
    Token {
        /// Replace it with a new one first (a running daemon takes it at its next start).
        #[arg(long)]
        rotate: bool,
    },
}

/// Output formats of listing commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A table for people.
    Table,
    /// JSON for programs.
    Json,
}

/// An instance, group or storage name given on the command line: checked against the
/// manifest name rule before it is joined to any path (clap exits 2 with the rule).
fn object_name(value: &str) -> Result<String, String> {
    lcc_compiler::rules::name(value).map(|()| value.to_string())
}

/// A duration as manifests write them (`500ms`, `90s`, `2m`).
fn duration(value: &str) -> Result<std::time::Duration, String> {
    lcc_compiler::rules::duration(value).map(std::time::Duration::from_millis)
}
