//! Why a command run on a host for a sync failed, in the words of its report line,
//! from its exit code and the last line of its stderr: ssh's own errors exit 255, a
//! shell that finds no (executable) `lcc` exits 127 (126), anything else is `lcc`'s
//! own message.

/// The reason of a failed run: `what` ran (`lcc receive`), over ssh or not, with the
/// host's `lcc` at `lcc`; `code` and `stderr` are what it gave.
pub fn of_exit(code: Option<i32>, stderr: &str, over_ssh: bool, lcc: &str, what: &str) -> String {
    let last = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    match code {
        Some(127 | 126) => {
            format!("no lcc on the host at `{lcc}` (ssh.lcc; `lcc` means the login's PATH): {last}")
        }
        Some(255) if over_ssh && last.starts_with("ssh:") => last.to_string(),
        Some(255) if over_ssh => format!("ssh: {last}"),
        _ => match last.strip_prefix("lcc: ").unwrap_or(last) {
            "" => format!("{what} failed"),
            said => format!("{what}: {said}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons() {
        let table = [
            (
                Some(127),
                "sh: 1: /opt/lcc: not found\n",
                true,
                "no lcc on the host at `/opt/lcc` (ssh.lcc; `lcc` means the login's PATH): sh: 1: /opt/lcc: not found",
            ),
            (
                Some(255),
                "ssh: connect to host 10.0.0.2 port 22: Connection refused\n",
                true,
                "ssh: connect to host 10.0.0.2 port 22: Connection refused",
            ),
            (
                Some(255),
                "root@10.0.0.2: Permission denied (publickey).\n",
                true,
                "ssh: root@10.0.0.2: Permission denied (publickey).",
            ),
            (
                Some(1),
                "lcc: host is locked by another sync (x, 3s ago); it is stale after 120s\n\n",
                true,
                "lcc receive: host is locked by another sync (x, 3s ago); it is stale after 120s",
            ),
            (Some(1), "", false, "lcc receive failed"),
            (None, "lcc: killed\n", false, "lcc receive: killed"),
        ];
        for (code, stderr, ssh, expected) in table {
            assert_eq!(
                of_exit(code, stderr, ssh, "/opt/lcc", "lcc receive"),
                expected,
                "{stderr:?}"
            );
        }
    }
}
