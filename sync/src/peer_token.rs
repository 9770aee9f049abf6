//! Whether a host's peer token (`.lcc/sync/token`) lets this checkout sync it: the
//! token is made once, by the first sync, and every host and operator must share it.
//! A fresh clone of the cluster's repository has none (`.lcc/` is never committed) and
//! would make a new one; sending that would split the hosts, each daemon keeping the
//! token it started with. So a host that has a token other than the checkout's is
//! refused, whatever `--force` says.

use crate::receive::TOKEN_ENTRY;

/// `Err` (the report's reason) when the host's token digest `theirs` is not `ours`; a
/// host without a token takes the checkout's.
pub fn check(theirs: Option<&str>, ours: &str) -> Result<(), String> {
    match theirs {
        Some(theirs) if theirs != ours => Err(format!(
            "the host has another peer token than this checkout's {TOKEN_ENTRY} (a new clone makes a new one): copy {TOKEN_ENTRY} from the checkout that synced first, so that the hosts keep one token"
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_keeps_the_token_it_has() {
        let table = [
            (None, "aa", true),
            (Some("aa"), "aa", true),
            (Some("bb"), "aa", false),
        ];
        for (theirs, ours, ok) in table {
            assert_eq!(check(theirs, ours).is_ok(), ok, "{theirs:?} {ours}");
        }
    }
}
