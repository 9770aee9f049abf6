//! What a sync sends a host: the files whose digest differs from what the host
//! recorded, and the ones to remove. Pure: the digests are computed at the edges.

use std::collections::BTreeMap;

/// The files of a host: relative path -> content digest.
pub type Digests = BTreeMap<String, String>;

/// What to do to bring a host from `host` to `wanted`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// Files new or different on the host.
    pub send: Vec<String>,
    /// Files the host has that are no longer wanted.
    pub remove: Vec<String>,
}

impl Changes {
    /// Whether nothing is to be done.
    pub fn is_empty(&self) -> bool {
        self.send.is_empty() && self.remove.is_empty()
    }
}

/// The changes from the host's recorded digests to the wanted ones (sorted).
pub fn changes(wanted: &Digests, host: &Digests) -> Changes {
    Changes {
        send: wanted
            .iter()
            .filter(|(path, digest)| host.get(*path) != Some(*digest))
            .map(|(path, _)| path.clone())
            .collect(),
        remove: host
            .keys()
            .filter(|path| !wanted.contains_key(*path))
            .cloned()
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digests(pairs: &[(&str, &str)]) -> Digests {
        pairs
            .iter()
            .map(|(p, d)| (p.to_string(), d.to_string()))
            .collect()
    }

    /// Wanted, on the host, to send, to remove.
    type Row<'a> = (
        &'a [(&'a str, &'a str)],
        &'a [(&'a str, &'a str)],
        &'a [&'a str],
        &'a [&'a str],
    );

    #[test]
    fn table() {
        let table: [Row<'_>; 5] = [
            (&[("a", "1")], &[], &["a"], &[]),
            (&[("a", "1")], &[("a", "1")], &[], &[]),
            (
                &[("a", "2"), ("b", "1")],
                &[("a", "1"), ("b", "1")],
                &["a"],
                &[],
            ),
            (&[("a", "1")], &[("a", "1"), ("old", "9")], &[], &["old"]),
            (&[], &[("a", "1")], &[], &["a"]),
        ];
        for (wanted, host, send, remove) in table {
            let got = changes(&digests(wanted), &digests(host));
            assert_eq!(got.send, send, "{wanted:?} over {host:?}");
            assert_eq!(got.remove, remove, "{wanted:?} over {host:?}");
        }
        assert!(changes(&digests(&[("a", "1")]), &digests(&[("a", "1")])).is_empty());
    }
}
