//! The never-list: directories lcc refuses to delete, replace or use as a Storage, even
//! with `--force`: the file system root, the user's home (and what holds it), the
//! top-level system directories, mount points (and what holds one), and, for a cluster,
//! its directory with everything above it, its `.lcc/`, and every directory holding one
//! of its manifests.
//!
//! Paths are judged by where they lead: [`resolve`] follows symlinks and `..` first, so
//! `link/..` or a symlink to `/` cannot slip through. The list is built from a root, a
//! home and a mount table given by the caller ([`Protected::new`]), so tests exercise it
//! on fake roots; [`Protected::system`] reads the real ones.

use std::fmt;
use std::path::{Component, Path, PathBuf};

/// System directories under the root that lcc never deletes or replaces themselves
/// (their subdirectories are fine: `/var/lib/app` may be a Storage, `/var/lib` not).
pub const SYSTEM_DIRS: &[&str] = &[
    "bin",
    "boot",
    "dev",
    "etc",
    "home",
    "lib",
    "lib32",
    "lib64",
    "libx32",
    "lost+found",
    "media",
    "mnt",
    "opt",
    "proc",
    "root",
    "run",
    "sbin",
    "snap",
    "srv",
    "sys",
    "tmp",
    "usr",
    "var",
    "usr/bin",
    "usr/include",
    "usr/lib",
    "usr/lib64",
    "usr/libexec",
    "usr/local",
    "usr/sbin",
    "usr/share",
    "usr/src",
    "var/backups",
    "var/cache",
    "var/lib",
    "var/local",
    "var/log",
    "var/mail",
    "var/opt",
    "var/spool",
    "var/tmp",
    "var/www",
];

/// What a protected directory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum What {
    /// The root of the file system.
    Root,
    /// The user's home directory.
    Home,
    /// A top-level system directory ([`SYSTEM_DIRS`]).
    System,
    /// A mount point.
    MountPoint,
    /// The cluster directory.
    Cluster,
    /// The cluster's state directory, `.lcc/`.
    State,
    /// A directory holding a manifest of the cluster.
    Manifest,
    /// The current working directory.
    WorkingDir,
}

impl fmt::Display for What {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            What::Root => "the root of the file system",
            What::Home => "your home directory",
            What::System => "a system directory",
            What::MountPoint => "a mount point",
            What::Cluster => "the cluster directory",
            What::State => "the cluster's state directory (.lcc)",
            What::Manifest => "the cluster's manifest",
            What::WorkingDir => "the current directory",
        })
    }
}

/// Why a directory is on the never-list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The directory is one of the protected ones.
    #[error("it is {0}")]
    Is(What),
    /// The directory holds a protected one (deleting it would delete that too).
    #[error("it holds {what} {path}", what = .0, path = .1.display())]
    Holds(What, PathBuf),
}

/// The never-list of one machine (and, once given, one cluster).
#[derive(Debug, Clone)]
pub struct Protected {
    root: PathBuf,
    home: Option<PathBuf>,
    mounts: Vec<PathBuf>,
    cluster: Option<PathBuf>,
    manifests: Vec<PathBuf>,
    working_dir: Option<PathBuf>,
}

impl Protected {
    /// The never-list over a root (`/`, or a fake root in tests), a home directory and
    /// mount points, all resolved paths.
    pub fn new(root: &Path, home: Option<&Path>, mounts: Vec<PathBuf>) -> Protected {
        Protected {
            root: root.to_path_buf(),
            home: home.map(Path::to_path_buf),
            mounts,
            cluster: None,
            manifests: Vec::new(),
            working_dir: None,
        }
    }

    /// The never-list of this machine: `/`, `$HOME` and `/proc/self/mountinfo`.
    pub fn system() -> Protected {
        let home = dirs::home_dir().map(|h| resolve(&h));
        let mounts = std::fs::read_to_string("/proc/self/mountinfo")
            .map(|t| mount_points(&t))
            .unwrap_or_default();
        Protected::new(Path::new("/"), home.as_deref(), mounts)
    }

    /// Adds a cluster: its directory and everything above it, its `.lcc/`, and the
    /// directories of its manifest files.
    pub fn with_cluster(mut self, dir: &Path, manifests: &[PathBuf]) -> Protected {
        self.cluster = Some(resolve(dir));
        self.manifests = manifests.iter().map(|m| resolve(m)).collect();
        self
    }

    /// Adds the current directory and everything above it.
    pub fn with_working_dir(mut self) -> Protected {
        self.working_dir = std::env::current_dir().ok().map(|d| resolve(&d));
        self
    }

    /// Whether `path` (resolved with [`resolve`]) may be deleted or replaced; the error
    /// says what it is or holds.
    pub fn check(&self, path: &Path) -> Result<(), Refusal> {
        let is = |p: &Path| path == p;
        let holds = |p: &Path| p.starts_with(path) && p != path;
        if is(&self.root) {
            return Err(Refusal::Is(What::Root));
        }
        if self.home.as_deref().is_some_and(is) {
            return Err(Refusal::Is(What::Home));
        }
        if SYSTEM_DIRS.iter().any(|d| is(&self.root.join(d))) {
            return Err(Refusal::Is(What::System));
        }
        if self.mounts.iter().any(|m| is(m)) {
            return Err(Refusal::Is(What::MountPoint));
        }
        if let Some(cluster) = &self.cluster {
            if is(cluster) {
                return Err(Refusal::Is(What::Cluster));
            }
            if is(&cluster.join(".lcc")) {
                return Err(Refusal::Is(What::State));
            }
            if holds(cluster) {
                return Err(Refusal::Holds(What::Cluster, cluster.clone()));
            }
        }
        if let Some(wd) = self.working_dir.as_deref() {
            if is(wd) {
                return Err(Refusal::Is(What::WorkingDir));
            }
            if holds(wd) {
                return Err(Refusal::Holds(What::WorkingDir, wd.to_path_buf()));
            }
        }
        if let Some(home) = self.home.as_deref().filter(|h| holds(h)) {
            return Err(Refusal::Holds(What::Home, home.to_path_buf()));
        }
        if let Some(m) = self.manifests.iter().find(|m| m.starts_with(path)) {
            return Err(Refusal::Holds(What::Manifest, m.clone()));
        }
        if let Some(m) = self.mounts.iter().find(|m| holds(m)) {
            return Err(Refusal::Holds(What::MountPoint, m.clone()));
        }
        Ok(())
    }
}

/// The absolute path `path` leads to: each existing prefix with its symlinks followed,
/// then `..` applied to what came before, then the rest as written (it does not exist,
/// so nothing in it can be a symlink). Relative paths start at the current directory.
pub fn resolve(path: &Path) -> PathBuf {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::from("/");
    let mut exists = true;
    for c in abs.components() {
        match c {
            Component::RootDir | Component::Prefix(_) => out = PathBuf::from("/"),
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(name) => {
                out.push(name);
                if exists {
                    match std::fs::canonicalize(&out) {
                        Ok(real) => out = real,
                        Err(_) => exists = false,
                    }
                }
            }
        }
    }
    out
}

/// The mount points listed in a `/proc/self/mountinfo` text (its fifth field, with the
/// kernel's octal escapes for space, tab, newline and backslash undone).
pub fn mount_points(mountinfo: &str) -> Vec<PathBuf> {
    mountinfo
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|field| PathBuf::from(unescape(field)))
        .collect()
}

/// Undoes the `\ooo` escapes of mountinfo.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match octal {
            Some(d) => {
                let v = d.iter().fold(0u32, |acc, b| acc * 8 + u32::from(b - b'0'));
                out.push(v as u8);
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake() -> (tempfile::TempDir, Protected) {
        let top = tempfile::tempdir().expect("tempdir");
        let root = resolve(top.path());
        for d in [
            "etc",
            "usr/local",
            "home/ann/work/cluster/.lcc",
            "mnt/disk/a",
        ] {
            std::fs::create_dir_all(root.join(d)).expect("mkdir");
        }
        std::fs::write(root.join("home/ann/work/cluster/web.yaml"), "").expect("manifest");
        let p = Protected::new(
            &root,
            Some(&root.join("home/ann")),
            vec![root.clone(), root.join("mnt/disk")],
        )
        .with_cluster(
            &root.join("home/ann/work/cluster"),
            &[root.join("home/ann/work/cluster/web.yaml")],
        );
        (top, p)
    }

    #[test]
    fn never_list_on_a_fake_root() {
        let (top, p) = fake();
        let root = resolve(top.path());
        let cluster = root.join("home/ann/work/cluster");
        let table: &[(&str, Result<(), Refusal>)] = &[
            ("", Err(Refusal::Is(What::Root))),
            ("home/ann", Err(Refusal::Is(What::Home))),
            ("etc", Err(Refusal::Is(What::System))),
            ("usr/local", Err(Refusal::Is(What::System))),
            ("home", Err(Refusal::Is(What::System))),
            ("mnt/disk", Err(Refusal::Is(What::MountPoint))),
            ("home/ann/work/cluster", Err(Refusal::Is(What::Cluster))),
            ("home/ann/work/cluster/.lcc", Err(Refusal::Is(What::State))),
            (
                "home/ann/work",
                Err(Refusal::Holds(What::Cluster, cluster.clone())),
            ),
            ("mnt", Err(Refusal::Is(What::System))),
            ("usr/local/app", Ok(())),
            ("mnt/disk/a", Ok(())),
            ("home/ann/data", Ok(())),
            ("home/ann/work/cluster/.lcc/storage/notes", Ok(())),
            ("home/ann/work/cluster/data", Ok(())),
            ("etc/app", Ok(())),
        ];
        for (rel, want) in table {
            let path = resolve(&root.join(rel));
            assert_eq!(&p.check(&path), want, "{rel}");
        }
    }

    #[test]
    fn ancestors_of_home_manifests_and_mounts_are_held() {
        let top = tempfile::tempdir().expect("tempdir");
        let root = resolve(top.path());
        let p = Protected::new(
            &root,
            Some(&root.join("data/users/me")),
            vec![root.join("big/disk")],
        )
        .with_cluster(&root.join("c"), &[root.join("m/sub/x.yaml")]);
        let check = |rel: &str| p.check(&root.join(rel));
        assert_eq!(
            check("data/users"),
            Err(Refusal::Holds(What::Home, root.join("data/users/me")))
        );
        assert_eq!(
            check("m"),
            Err(Refusal::Holds(What::Manifest, root.join("m/sub/x.yaml")))
        );
        assert_eq!(
            check("m/sub"),
            Err(Refusal::Holds(What::Manifest, root.join("m/sub/x.yaml")))
        );
        assert_eq!(
            check("big"),
            Err(Refusal::Holds(What::MountPoint, root.join("big/disk")))
        );
        assert_eq!(check("m/other"), Ok(()));
    }

    #[test]
    fn resolve_follows_symlinks_and_dot_dot() {
        let top = tempfile::tempdir().expect("tempdir");
        let root = resolve(top.path());
        std::fs::create_dir_all(root.join("a/b")).expect("mkdir");
        std::os::unix::fs::symlink(root.join("a/b"), root.join("link")).expect("symlink");
        std::os::unix::fs::symlink(&root, root.join("up")).expect("symlink");
        assert_eq!(resolve(&root.join("link/..")), root.join("a"));
        assert_eq!(resolve(&root.join("a/b/../../x/y")), root.join("x/y"));
        assert_eq!(resolve(&root.join("up/a")), root.join("a"));
        assert_eq!(resolve(&root.join("missing/../a/./b")), root.join("a/b"));
        assert_eq!(
            resolve(&root.join("a/b/../../..")),
            resolve(&root.join(".."))
        );
    }

    #[test]
    fn mountinfo_fields_are_unescaped() {
        let text = "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n\
                    30 22 0:5 / /mnt/my\\040disk rw - tmpfs t rw\n";
        assert_eq!(
            mount_points(text),
            vec![PathBuf::from("/"), PathBuf::from("/mnt/my disk")]
        );
    }
}
