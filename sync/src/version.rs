//! Whether the `lcc` on a host can take a sync from this one: its `lcc --version` line
//! (`lcc 0.1.0`) must name this version or a newer one.

/// Checks `seen` (the host's `lcc --version` output) against `ours` (`x.y.z`);
/// `Err` says what was seen, for the report.
pub fn check(ours: &str, seen: &str) -> Result<(), String> {
    let line = seen.lines().next().unwrap_or("").trim();
    let theirs = line.strip_prefix("lcc ").unwrap_or("");
    let (Some(t), Some(o)) = (parse(theirs), parse(ours)) else {
        return Err(format!(
            "the host's lcc did not tell its version (`{line}`); this is lcc {ours}"
        ));
    };
    if t < o {
        return Err(format!(
            "the host's lcc is {theirs}, older than this lcc {ours}: install lcc {ours} or newer there"
        ));
    }
    Ok(())
}

/// `x.y.z` (a pre-release or build suffix after `-`/`+` ignored) as numbers.
fn parse(v: &str) -> Option<(u64, u64, u64)> {
    let core = v.split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    let out = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        let table = [
            ("0.1.0", "lcc 0.1.0\n", Ok(())),
            ("0.1.0", "lcc 0.2.0", Ok(())),
            ("0.1.0", "lcc 0.1.0-dev", Ok(())),
            ("0.10.0", "lcc 0.9.9", Err("the host's lcc is 0.9.9, older than this lcc 0.10.0: install lcc 0.10.0 or newer there")),
            ("1.0.0", "lcc 0.9", Err("the host's lcc did not tell its version (`lcc 0.9`); this is lcc 1.0.0")),
            ("1.0.0", "", Err("the host's lcc did not tell its version (``); this is lcc 1.0.0")),
        ];
        for (ours, seen, expected) in table {
            assert_eq!(
                check(ours, seen),
                expected.map_err(str::to_string),
                "{ours} {seen:?}"
            );
        }
    }
}
