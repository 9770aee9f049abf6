//! The `ssh` command line of a sync: the system client as a child process, never an
//! SSH library. The remote command is a shell string on the far side, so every word
//! of it is quoted here; the local side passes arguments without a shell.

/// How to reach a host (from its `kind: Host`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    /// Host name or IP address.
    pub address: String,
    /// Login user.
    pub user: Option<String>,
    /// Port.
    pub port: u16,
    /// Private key file.
    pub identity_file: Option<String>,
    /// Jump host.
    pub jump_host: Option<String>,
    /// Extra `-o` options, `Key=value` each.
    pub options: Vec<String>,
}

/// Quotes a word for a POSIX shell: single quotes, a `'` written as `'\''`.
pub fn quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:@%+,".contains(&b))
    {
        return word.to_string();
    }
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// The remote command: each word quoted, joined by spaces.
pub fn remote_command(argv: &[&str]) -> String {
    argv.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ")
}

/// The arguments of `ssh` (without `ssh` itself) that run `argv` on the target.
/// `BatchMode=yes`: a sync never stops to ask for a password or a host key.
pub fn args(target: &Target, connect_timeout_s: u64, argv: &[&str]) -> Vec<String> {
    args_all(target, connect_timeout_s, &[argv])
}

/// [`args`] for several commands run one after the other while each succeeds
/// (joined by `&&` on the far side, each word quoted): one connection for all.
pub fn args_all(target: &Target, connect_timeout_s: u64, commands: &[&[&str]]) -> Vec<String> {
    let mut out = vec![
        "-o".to_string(),
        "BatchMode=yes".to_string(),
        "-o".to_string(),
        format!("ConnectTimeout={connect_timeout_s}"),
        "-p".to_string(),
        target.port.to_string(),
    ];
    if let Some(user) = &target.user {
        out.extend(["-l".to_string(), user.clone()]);
    }
    if let Some(key) = &target.identity_file {
        out.extend(["-i".to_string(), key.clone()]);
    }
    if let Some(jump) = &target.jump_host {
        out.extend(["-J".to_string(), jump.clone()]);
    }
    for option in &target.options {
        out.extend(["-o".to_string(), option.clone()]);
    }
    // `--` ends ssh's options: the address is never read as one
    out.extend([
        "--".to_string(),
        target.address.clone(),
        commands
            .iter()
            .map(|argv| remote_command(argv))
            .collect::<Vec<_>>()
            .join(" && "),
    ]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        let table = [
            ("lcc", "lcc"),
            ("/srv/lcc/shop", "/srv/lcc/shop"),
            ("", "''"),
            ("a b", "'a b'"),
            ("$(reboot)", "'$(reboot)'"),
            ("it's", r"'it'\''s'"),
            ("a;b", "'a;b'"),
            ("~/x", "'~/x'"),
            ("x\ny", "'x\ny'"),
        ];
        for (word, quoted) in table {
            assert_eq!(quote(word), quoted, "{word:?}");
        }
    }

    #[test]
    fn quoted_words_come_back_whole_through_a_shell() {
        let words = [
            "plain",
            "a b",
            "$(echo no)",
            "it's",
            "`x`",
            "\"q\"",
            "*",
            "",
        ];
        let script = format!("printf '%s\\n' {}", remote_command(&words));
        let out = std::process::Command::new("sh")
            .args(["-c", &script])
            .output()
            .expect("run sh");
        let expected: String = words.iter().map(|w| format!("{w}\n")).collect();
        assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
    }

    #[test]
    fn ssh_arguments() {
        let target = Target {
            address: "10.0.0.2".into(),
            user: Some("deploy".into()),
            port: 2222,
            identity_file: Some("/k/id".into()),
            jump_host: Some("bastion".into()),
            options: vec!["StrictHostKeyChecking=accept-new".into()],
        };
        let got = args(&target, 5, &["lcc", "receive", "/srv/my cluster"]);
        let expected = [
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=5",
            "-p",
            "2222",
            "-l",
            "deploy",
            "-i",
            "/k/id",
            "-J",
            "bastion",
            "-o",
            "StrictHostKeyChecking=accept-new",
            "--",
            "10.0.0.2",
            "lcc receive '/srv/my cluster'",
        ];
        assert_eq!(got, expected);
        let two = args_all(
            &Target::default(),
            5,
            &[&["lcc", "--version"], &["lcc", "sync-state", "a b"]],
        );
        assert_eq!(
            two.last().map(String::as_str),
            Some("lcc --version && lcc sync-state 'a b'")
        );
    }
}
