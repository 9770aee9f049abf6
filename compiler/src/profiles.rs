//! Which objects `lcc up` brings up: profiles and named subsets, as Docker Compose
//! selects services.
//!
//! An Instance or InstanceGroup (a *service* here) is brought up when it has no
//! profile, or one of its profiles is active (`lcc up --profile P`, `LCC_PROFILES`);
//! one without profiles of its own takes its Application's. Naming services (`lcc up
//! DIR NAME...`) brings up those alone, whatever their profiles. Either way the
//! services they depend on (`dependsOn`) come too. A Gateway comes when its profiles
//! allow and its target comes; an Entrance with its Gateway.

use std::collections::{BTreeSet, HashMap};

/// A service as the selection sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service<'a> {
    /// Instance or group name.
    pub name: &'a str,
    /// Its profiles (its own, else its app's).
    pub profiles: &'a [String],
    /// The services it depends on.
    pub depends_on: Vec<&'a str>,
}

/// A Gateway as the selection sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gateway<'a> {
    /// Gateway name.
    pub name: &'a str,
    /// Its profiles.
    pub profiles: &'a [String],
    /// The service it targets.
    pub target: &'a str,
}

/// What is brought up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Instances and groups.
    pub services: BTreeSet<String>,
    /// Gateways.
    pub gateways: BTreeSet<String>,
}

/// Selects what comes up. `Err` lists the names given that are no service.
pub fn select(
    services: &[Service<'_>],
    gateways: &[Gateway<'_>],
    active: &[String],
    named: &[String],
) -> Result<Selection, Vec<String>> {
    let by_name: HashMap<&str, &Service<'_>> = services.iter().map(|s| (s.name, s)).collect();
    let unknown: Vec<String> = named
        .iter()
        .filter(|n| !by_name.contains_key(n.as_str()))
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(unknown);
    }
    let allowed =
        |profiles: &[String]| profiles.is_empty() || profiles.iter().any(|p| active.contains(p));
    let mut todo: Vec<&str> = if named.is_empty() {
        services
            .iter()
            .filter(|s| allowed(s.profiles))
            .map(|s| s.name)
            .collect()
    } else {
        named.iter().map(String::as_str).collect()
    };
    let mut chosen = BTreeSet::new();
    while let Some(name) = todo.pop() {
        if chosen.insert(name.to_string()) {
            if let Some(service) = by_name.get(name) {
                todo.extend(service.depends_on.iter().copied());
            }
        }
    }
    let gateways = gateways
        .iter()
        .filter(|g| allowed(g.profiles) && chosen.contains(g.target))
        .map(|g| g.name.to_string())
        .collect();
    Ok(Selection {
        services: chosen,
        gateways,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn table() {
        let none = words(&[]);
        let dev = words(&["dev"]);
        let debug = words(&["debug", "dev"]);
        let services = [
            Service {
                name: "web",
                profiles: &none,
                depends_on: vec!["db"],
            },
            Service {
                name: "db",
                profiles: &none,
                depends_on: vec![],
            },
            Service {
                name: "mail",
                profiles: &dev,
                depends_on: vec![],
            },
            Service {
                name: "shell",
                profiles: &debug,
                depends_on: vec!["tools"],
            },
            Service {
                name: "tools",
                profiles: &debug,
                depends_on: vec![],
            },
        ];
        let gateways = [
            Gateway {
                name: "web",
                profiles: &none,
                target: "web",
            },
            Gateway {
                name: "mail-ui",
                profiles: &none,
                target: "mail",
            },
            Gateway {
                name: "db-admin",
                profiles: &debug,
                target: "db",
            },
        ];
        /// Active profiles, named services -> services, gateways that come up.
        type Row<'a> = (&'a [&'a str], &'a [&'a str], &'a [&'a str], &'a [&'a str]);
        let table: &[Row<'_>] = &[
            (&[], &[], &["db", "web"], &["web"]),
            (
                &["dev"],
                &[],
                &["db", "mail", "shell", "tools", "web"],
                &["db-admin", "mail-ui", "web"],
            ),
            (
                &["debug"],
                &[],
                &["db", "shell", "tools", "web"],
                &["db-admin", "web"],
            ),
            (&["other"], &[], &["db", "web"], &["web"]),
            (&[], &["db"], &["db"], &[]),
            (&[], &["web"], &["db", "web"], &["web"]),
            (&[], &["shell"], &["shell", "tools"], &[]),
            (&["debug"], &["web"], &["db", "web"], &["db-admin", "web"]),
        ];
        for (active, named, want_services, want_gateways) in table {
            let got = select(&services, &gateways, &words(active), &words(named)).expect("known");
            let services: Vec<&str> = got.services.iter().map(String::as_str).collect();
            let gateways: Vec<&str> = got.gateways.iter().map(String::as_str).collect();
            assert_eq!(&services, want_services, "{active:?} {named:?}");
            assert_eq!(&gateways, want_gateways, "{active:?} {named:?}");
        }
    }

    #[test]
    fn unknown_names_are_listed() {
        let got = select(&[], &[], &[], &words(&["a", "b"]));
        assert_eq!(got, Err(words(&["a", "b"])));
    }
}
