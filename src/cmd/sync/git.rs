//! The operator's checkout as `lcc sync` sees it, through the `git` command: the
//! commit (HEAD), whether the tree is clean, the tracked files, and how a host's
//! recorded commit relates to HEAD (the facts lcc-sync's history decision takes).

use anyhow::{bail, Context};
use lcc_sync::history::Facts;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A git work tree holding the cluster directory.
#[derive(Debug, Clone)]
pub struct Checkout {
    /// The cluster directory (git runs there; paths are relative to it).
    dir: PathBuf,
}

/// A tracked file: its git mode (`100644`, `100755`, `120000` link, `160000`
/// submodule) and its path relative to the cluster directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracked {
    /// Git's mode of the entry.
    pub mode: String,
    /// Path relative to the cluster directory.
    pub path: String,
}

impl Checkout {
    /// The checkout holding `dir`; an error when `dir` is not in a git work tree.
    pub fn open(dir: &Path) -> anyhow::Result<Checkout> {
        let c = Checkout {
            dir: dir.to_path_buf(),
        };
        let inside = c.git(&["rev-parse", "--is-inside-work-tree"]);
        if !matches!(inside, Ok(ref out) if out.trim() == "true") {
            bail!(
                "{} is not a git work tree: lcc sync sends a commit (git init, git add, git commit)",
                dir.display()
            );
        }
        Ok(c)
    }

    /// The commit to sync, HEAD (full hex).
    pub fn head(&self) -> anyhow::Result<String> {
        let out = self
            .git(&["rev-parse", "--verify", "HEAD^{commit}"])
            .context("the checkout has no commit yet (git commit)")?;
        Ok(out.trim().to_string())
    }

    /// Uncommitted changes under the cluster directory: `XY path` as `git status`
    /// prints them (tracked changes and untracked files not ignored; `.lcc/` aside).
    pub fn dirty(&self) -> anyhow::Result<Vec<String>> {
        let out = self.git(&[
            "status",
            "--porcelain=v1",
            "-z",
            "--untracked-files=all",
            "--",
            ".",
            ":(exclude).lcc",
        ])?;
        let mut entries = Vec::new();
        let mut parts = out.split('\0').filter(|p| !p.is_empty());
        while let Some(entry) = parts.next() {
            // a rename or copy is followed by its origin: one change
            if entry.starts_with('R') || entry.starts_with('C') {
                parts.next();
            }
            entries.push(entry.to_string());
        }
        Ok(entries)
    }

    /// Every tracked file under the cluster directory.
    pub fn tracked(&self) -> anyhow::Result<Vec<Tracked>> {
        let out = self.git(&["ls-files", "--stage", "-z", "--", "."])?;
        let mut files = Vec::new();
        for entry in out.split('\0').filter(|e| !e.is_empty()) {
            let (meta, path) = entry
                .split_once('\t')
                .with_context(|| format!("unexpected git ls-files line `{entry}`"))?;
            let mode = meta.split(' ').next().unwrap_or("").to_string();
            files.push(Tracked {
                mode,
                path: path.to_string(),
            });
        }
        Ok(files)
    }

    /// How `host` (a commit a host recorded) relates to `head`, in git's words. A
    /// commit this checkout does not have is neither ancestor nor descendant.
    pub fn facts(&self, host: Option<&str>, head: &str) -> Facts {
        let Some(host) = host else {
            return Facts {
                recorded: false,
                same: false,
                host_is_ancestor: false,
                ours_is_ancestor: false,
            };
        };
        let known = self.ok(&["cat-file", "-e", &format!("{host}^{{commit}}")]);
        let ancestor = |a: &str, b: &str| known && self.ok(&["merge-base", "--is-ancestor", a, b]);
        Facts {
            recorded: true,
            same: host == head,
            host_is_ancestor: ancestor(host, head),
            ours_is_ancestor: ancestor(head, host),
        }
    }

    /// Runs git in the cluster directory; its stdout, or its stderr as the error.
    fn git(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = self
            .command(args)
            .output()
            .context("cannot run git (is it installed?)")?;
        if !out.status.success() {
            bail!(
                "git {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Whether git succeeds (a yes/no question such as `merge-base --is-ancestor`).
    fn ok(&self, args: &[&str]) -> bool {
        self.command(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("git");
        cmd.arg("-C").arg(&self.dir).args(args);
        cmd
    }
}
