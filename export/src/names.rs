//! The name rules of Kubernetes, checked rather than trusted: a name it refuses is an
//! export error naming the value and the rule, never an object `kubectl` rejects later.
//!
//! - DNS label (RFC 1123): 1-63 of `[a-z0-9-]`, alphanumeric at both ends; object
//!   names of Services, namespaces, container and volume names.
//! - DNS subdomain (RFC 1123): 1-253, dot-separated labels; names of most objects.
//! - port name (IANA service name): 1-15 of `[a-z0-9-]`, at least one letter, no `--`,
//!   no `-` at either end.
//! - label value: 0-63 of `[A-Za-z0-9._-]`, alphanumeric at both ends.

use crate::error::Error;

/// The error for `value` breaking `rule`.
fn refused(what: &str, value: &str, rule: &str) -> Error {
    Error::Name {
        what: what.to_string(),
        value: value.to_string(),
        rule: rule.to_string(),
    }
}

/// Whether `value` is an RFC 1123 label.
fn is_label(value: &str) -> bool {
    let b = value.as_bytes();
    let inner = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-';
    let edge = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    !b.is_empty()
        && b.len() <= 63
        && b.iter().all(inner)
        && b.first().is_some_and(edge)
        && b.last().is_some_and(edge)
}

/// Checks an RFC 1123 label (a namespace, a Service's name).
pub fn dns_label(what: &str, value: &str) -> Result<(), Error> {
    if is_label(value) {
        Ok(())
    } else {
        Err(refused(
            what,
            value,
            "use 1-63 lowercase letters, digits and `-`, starting and ending with a letter or digit (RFC 1123 label)",
        ))
    }
}

/// Checks an RFC 1123 subdomain (most object names, class names).
pub fn dns_subdomain(what: &str, value: &str) -> Result<(), Error> {
    if value.len() <= 253 && value.split('.').all(is_label) {
        Ok(())
    } else {
        Err(refused(
            what,
            value,
            "use at most 253 characters: lowercase letters, digits, `-` and `.`, each dot-separated part starting and ending with a letter or digit (RFC 1123 subdomain)",
        ))
    }
}

/// Checks a container port name (an IANA service name).
pub fn port_name(what: &str, value: &str) -> Result<(), Error> {
    let ok = value.len() <= 15
        && is_label(value)
        && value.bytes().any(|c| c.is_ascii_lowercase())
        && !value.contains("--");
    if ok {
        Ok(())
    } else {
        Err(refused(
            what,
            value,
            "a port name has 1-15 lowercase letters, digits and `-`, at least one letter, no `--` (rename the interface)",
        ))
    }
}

/// Checks a label value (the cluster's name goes into `app.kubernetes.io/part-of`).
pub fn label_value(what: &str, value: &str) -> Result<(), Error> {
    let b = value.as_bytes();
    let inner = |c: &u8| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.');
    let ok = b.len() <= 63
        && b.iter().all(inner)
        && b.first().is_none_or(u8::is_ascii_alphanumeric)
        && b.last().is_none_or(u8::is_ascii_alphanumeric);
    if ok {
        Ok(())
    } else {
        Err(refused(
            what,
            value,
            "a label value has at most 63 letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit (set `name` in kind: Cluster)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_subdomains() {
        assert!(dns_label("x", "hello-2").is_ok());
        for bad in ["", "-a", "a-", "A", "a.b", &"a".repeat(64)] {
            assert!(dns_label("x", bad).is_err(), "{bad}");
        }
        assert!(dns_subdomain("x", "example.com").is_ok());
        for bad in ["", "a..b", ".a", "A.b", &"a.".repeat(127)] {
            assert!(dns_subdomain("x", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn port_names_and_label_values() {
        assert!(port_name("x", "http").is_ok());
        assert!(port_name("x", "admin-api").is_ok());
        for bad in ["a--b", "123", "sixteen-chars-xx", ""] {
            assert!(port_name("x", bad).is_err(), "{bad}");
        }
        assert!(label_value("x", "My_Cluster.1").is_ok());
        assert!(label_value("x", "").is_ok());
        for bad in ["a b", "-a", "a.", &"a".repeat(64)] {
            assert!(label_value("x", bad).is_err(), "{bad}");
        }
    }
}
