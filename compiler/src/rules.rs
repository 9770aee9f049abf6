//! The value rules of manifests: names, durations, ports, os/arch, signals, paths.
//! Each check returns the message to report, or `Ok` with the parsed value.

/// Operating systems a local platform may name (`uname -s`, lowercased).
pub(crate) const OSES: &[&str] = &["linux", "darwin", "freebsd", "openbsd", "netbsd"];

/// Architectures a local platform may name (`uname -m`).
pub(crate) const ARCHES: &[&str] = &[
    "x86_64", "amd64", "aarch64", "arm64", "armv6l", "armv7l", "i386", "i686", "riscv64",
    "ppc64le", "s390x",
];

/// Signals `stop.signal` may name.
pub(crate) const SIGNALS: &[&str] = &["TERM", "INT", "QUIT", "HUP", "KILL", "USR1", "USR2"];

/// Checks an object or interface name: `^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`.
pub fn name(value: &str) -> Result<(), String> {
    let bytes = value.as_bytes();
    let ok = !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0].is_ascii_lowercase()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[bytes.len() - 1] != b'-';
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid name `{value}`: use 1-63 lowercase letters, digits and `-`, starting with a letter and not ending with `-`"
        ))
    }
}

/// Checks an environment variable name; `LCC_` names are reserved for the pod.
pub(crate) fn env_name(value: &str) -> Result<(), String> {
    let mut chars = value.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "invalid environment variable name `{value}`: use letters, digits and `_`, not starting with a digit"
        ));
    }
    if value.starts_with("LCC_") {
        return Err(format!("environment variable `{value}` is reserved: names starting with LCC_ are set by the pod"));
    }
    Ok(())
}

/// Parses a duration: a whole number followed by `ms`, `s`, `m` or `h`; in milliseconds.
pub fn duration(value: &str) -> Result<u64, String> {
    let bad = || {
        format!("invalid duration `{value}`: write a whole number followed by ms, s, m or h (e.g. 500ms, 2s, 1m)")
    };
    let digits = value.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = value.split_at(digits);
    let factor = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return Err(bad()),
    };
    let n: u64 = number.parse().map_err(|_| bad())?;
    n.checked_mul(factor).ok_or_else(bad)
}

/// Checks a port number.
pub(crate) fn port(value: i64) -> Result<u16, String> {
    match u16::try_from(value) {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!("port {value} is out of range 1-65535")),
    }
}

/// Parses a `LO-HI` port range.
pub(crate) fn port_range(value: &str) -> Result<(u16, u16), String> {
    let bad = || {
        format!("invalid port range `{value}`: write LO-HI with 1 <= LO <= HI <= 65535 (e.g. 30000-31999)")
    };
    let (lo, hi) = value.split_once('-').ok_or_else(bad)?;
    let lo: u16 = lo.trim().parse().map_err(|_| bad())?;
    let hi: u16 = hi.trim().parse().map_err(|_| bad())?;
    if lo == 0 || lo > hi {
        return Err(bad());
    }
    Ok((lo, hi))
}

/// Parses a `HOST:PORT` listen address.
pub(crate) fn listen_addr(value: &str) -> Result<(String, u16), String> {
    let bad = || format!("invalid listen address `{value}`: write HOST:PORT, e.g. 127.0.0.1:8080");
    let (host, port) = value.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    if host.is_empty() || port == 0 {
        return Err(bad());
    }
    Ok((host.to_string(), port))
}

/// Checks a path that must stay inside its directory: relative, no `..`, not empty.
pub(crate) fn inner_path(value: &str) -> Result<(), String> {
    let escapes = value.split('/').any(|part| part == "..");
    if value.is_empty() || value.starts_with('/') || escapes || value.contains('\0') {
        return Err(format!(
            "invalid path `{value}`: it must be relative and must not contain `..`"
        ));
    }
    Ok(())
}

/// Checks a storage binding's path under `run/`: an inner path written plainly, since
/// the pod makes `run/<path>` a symlink (a trailing `/` would make it a directory).
pub(crate) fn binding_path(value: &str) -> Result<(), String> {
    inner_path(value)?;
    if value.split('/').any(|part| part.is_empty() || part == ".") {
        return Err(format!(
            "invalid binding path `{value}`: write it without `./`, `//` or a trailing `/`, e.g. `{}`",
            value
                .split('/')
                .filter(|p| !p.is_empty() && *p != ".")
                .collect::<Vec<_>>()
                .join("/")
        ));
    }
    Ok(())
}

/// Checks a sha256 written in hex.
pub(crate) fn sha256(value: &str) -> Result<(), String> {
    if value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(format!(
            "invalid sha256 `{value}`: expected 64 hexadecimal digits"
        ))
    }
}

/// Checks a Kubernetes quantity as `lcc export kubernetes` writes it: a decimal number
/// and an optional suffix (`250m`, `0.5`, `128Mi`, `1Gi`, `2G`); no exponents, no sign.
pub(crate) fn quantity(value: &str) -> Result<(), String> {
    const SUFFIXES: &[&str] = &[
        "", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei",
    ];
    let number_len = value
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b'.')
        .count();
    let (number, suffix) = value.split_at(number_len);
    let mut parts = number.split('.');
    let whole = parts.next().unwrap_or("");
    let fraction = parts.next();
    let well_formed = !whole.is_empty()
        && parts.next().is_none()
        && fraction.is_none_or(|f| !f.is_empty())
        && SUFFIXES.contains(&suffix);
    if well_formed {
        Ok(())
    } else {
        Err(format!(
            "invalid quantity `{value}`: write a number and an optional unit, e.g. 250m, 0.5, 128Mi, 1Gi"
        ))
    }
}

/// A file path relative to the cluster directory (or absolute) that does not climb out
/// with `..`.
pub fn inside_path(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("path must not be empty".into());
    }
    if std::path::Path::new(value)
        .components()
        .any(|c| c == std::path::Component::ParentDir)
    {
        return Err(format!("`{value}` must not contain `..`"));
    }
    Ok(())
}

/// Checks an ACME directory URL: `https://HOST[:PORT]/...` (RFC 8555 asks for https),
/// no whitespace.
pub fn acme_directory(value: &str) -> Result<(), String> {
    let host = value
        .strip_prefix("https://")
        .map(|r| r.split('/').next().unwrap_or(""));
    let bad = value.chars().any(|c| c.is_whitespace() || c.is_control());
    match host {
        Some(h) if !h.is_empty() && !bad => Ok(()),
        _ => Err(format!(
            "invalid ACME directory `{value}`: write its https URL, e.g. https://acme-v02.api.letsencrypt.org/directory"
        )),
    }
}

/// Checks a contact address: `name@domain`, no whitespace, `,` or `:` (it becomes a
/// `mailto:` URL).
pub fn email(value: &str) -> Result<(), String> {
    let ok = match value.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
        }
        None => false,
    };
    let bad = value
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, ',' | ':' | '<' | '>'));
    match ok && !bad && value.matches('@').count() == 1 {
        true => Ok(()),
        false => Err(format!(
            "invalid email `{value}`: write an address such as ops@example.com"
        )),
    }
}

/// Checks a container image reference: not empty, no whitespace or control characters,
/// not a URL (a registry host has no scheme).
pub fn image(value: &str) -> Result<(), String> {
    let bad_char = value.chars().any(|c| c.is_whitespace() || c.is_control());
    if value.is_empty() || bad_char || value.contains("://") {
        return Err(format!(
            "invalid image `{value}`: write a container image reference, e.g. python:3.12-slim or registry.example.com/team/app:1.0"
        ));
    }
    Ok(())
}

/// Checks a value from a fixed list.
pub(crate) fn one_of(what: &str, value: &str, allowed: &[&str]) -> Result<(), String> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(format!(
            "unknown {what} `{value}`, expected one of: {}",
            allowed.join(", ")
        ))
    }
}

/// The candidate closest to a misspelt `word`, if one is close enough to be a typo
/// (one edit for words up to 4 characters, two beyond; a swap of neighbours is one).
pub(crate) fn suggest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = if word.chars().count() <= 4 { 1 } else { 2 };
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// `dir` joined with a relative `path`, `.` and `..` resolved in the text (not
/// through links): `/m` + `../src/` is `/src`.
pub fn lexical_join(dir: &std::path::Path, path: &str) -> std::path::PathBuf {
    use std::path::Component;
    let mut out = std::path::PathBuf::new();
    for part in dir.join(path).components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// A cron schedule (`*/5 * * * *`, or six fields with seconds first), read by croner.
pub fn schedule(value: &str) -> Result<croner::Cron, String> {
    use std::str::FromStr as _;
    croner::Cron::from_str(value).map_err(|e| {
        let why = e.to_string();
        let why = why.trim_end_matches('.');
        format!("invalid schedule `{value}` ({why}): expected cron fields, e.g. `*/5 * * * *`")
    })
}

/// `; did you mean `x`?` for a message, or nothing.
pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> String {
    suggest(word, candidates)
        .map(|c| format!("; did you mean `{c}`?"))
        .unwrap_or_default()
}

/// Edit distance with adjacent transpositions (optimal string alignment).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acme_directories_and_emails() {
        let cases = [
            ("https://acme-v02.api.letsencrypt.org/directory", true),
            ("https://127.0.0.1:14000/dir", true),
            ("http://127.0.0.1:14000/dir", false),
            ("https:///dir", false),
            ("https://a b/dir", false),
            ("", false),
        ];
        for (url, ok) in cases {
            assert_eq!(acme_directory(url).is_ok(), ok, "{url}");
        }
        let cases = [
            ("ops@example.com", true),
            ("a.b+c@mail.example.org", true),
            ("ops", false),
            ("@example.com", false),
            ("ops@localhost", false),
            ("ops@.com", false),
            ("a@b@example.com", false),
            ("ops@example.com,x@y.z", false),
            ("ops @example.com", false),
            ("mailto:ops@example.com", false),
        ];
        for (email, ok) in cases {
            assert_eq!(super::email(email).is_ok(), ok, "{email}");
        }
    }

    #[test]
    fn names() {
        for good in ["a", "hello", "hello-2", "a1", &"a".repeat(63)] {
            assert!(name(good).is_ok(), "{good}");
        }
        for bad in ["", "A", "1a", "a-", "a_b", "héllo", &"a".repeat(64)] {
            assert!(name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(duration("500ms"), Ok(500));
        assert_eq!(duration("2s"), Ok(2_000));
        assert_eq!(duration("1m"), Ok(60_000));
        assert_eq!(duration("1h"), Ok(3_600_000));
        for bad in [
            "",
            "5",
            "s",
            "1.5s",
            "-1s",
            "2 s",
            "1d",
            "99999999999999999999s",
        ] {
            assert!(duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ports_and_ranges() {
        assert_eq!(port(1), Ok(1));
        assert!(port(0).is_err());
        assert!(port(65536).is_err());
        assert_eq!(port_range("30000-31999"), Ok((30000, 31999)));
        assert!(port_range("2-1").is_err());
        assert!(port_range("0-10").is_err());
        assert!(port_range("x").is_err());
        assert_eq!(
            listen_addr("127.0.0.1:8080"),
            Ok(("127.0.0.1".into(), 8080))
        );
        assert!(listen_addr("8080").is_err());
    }

    #[test]
    fn suggestions_for_typos_only() {
        let fields = ["name", "protocol", "port", "replicas"];
        assert_eq!(suggest("prot", fields), Some("port"));
        assert_eq!(suggest("replica", fields), Some("replicas"));
        assert_eq!(suggest("protocl", fields), Some("protocol"));
        assert_eq!(suggest("cwd", fields), None);
        assert_eq!(suggest("colour", fields), None);
        assert_eq!(did_you_mean("helo", ["hello"]), "; did you mean `hello`?");
        assert_eq!(did_you_mean("xyz", ["hello"]), "");
    }

    #[test]
    fn quantities_and_images() {
        for good in ["1", "250m", "0.5", "128Mi", "1Gi", "2G", "10"] {
            assert!(quantity(good).is_ok(), "{good}");
        }
        for bad in ["", "Gi", "-1", "1.", ".5", "1e3", "1 Gi", "1gi", "1.2.3"] {
            assert!(quantity(bad).is_err(), "{bad}");
        }
        assert!(image("python:3.12-slim").is_ok());
        for bad in ["", "a b", "https://x/y"] {
            assert!(image(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn env_names_and_paths() {
        assert!(env_name("GREETING_1").is_ok());
        assert!(env_name("1A").is_err());
        assert!(env_name("A-B").is_err());
        assert!(env_name("LCC_PORT_HTTP").is_err());
        assert!(inner_path("data/notes").is_ok());
        for bad in ["", "/abs", "../up", "a/../../b"] {
            assert!(inner_path(bad).is_err(), "{bad}");
        }
        assert!(binding_path("data/notes").is_ok());
        for (bad, hint) in [("data/", "`data`"), ("./a//b", "`a/b`"), ("a/./b", "`a/b`")] {
            let err = binding_path(bad).expect_err(bad);
            assert!(err.ends_with(&format!("e.g. {hint}")), "{err}");
        }
    }
}
