//! `lcc cert ca`: the local CA that issues the https listener's certificates, and with
//! `--install` its place in the system's store of trusted authorities.

use anyhow::Context;
use lcc_core::trust_store::{self, Store};
use std::process::ExitCode;

/// Creates the CA unless it exists; prints its certificate's path first, then how to
/// trust it, or with `install` what installing it into the system store did.
pub fn ca(install: bool) -> anyhow::Result<ExitCode> {
    let dir = lcc_core::ca::default_dir()?;
    let (files, made) =
        lcc_core::ca::ensure(&dir).with_context(|| format!("local CA in {}", dir.display()))?;
    let cert = files.cert.display();
    println!("{cert}");
    println!(
        "{} the local CA; the https listener issues certificates from it.",
        if made { "created" } else { "using" }
    );
    if install {
        let done = trust_store::install(&files.cert)
            .with_context(|| format!("installing {cert} into the system store"))?;
        println!(
            "{} {} and ran {}: programs that read the system's bundle (curl, wget, \
             Python, Go, OpenSSL) trust it now.",
            if done.changed {
                "installed it as"
            } else {
                "already installed as"
            },
            done.target.display(),
            done.store.update().join(" ")
        );
        println!(
            "  Firefox/Chromium keep their own store: import {cert} as an authority in the browser's certificate settings"
        );
        return Ok(ExitCode::SUCCESS);
    }
    let debian = Store::Debian;
    println!("trust it:");
    println!("  curl:    curl --cacert {cert} https://docs.localhost:8443/");
    println!(
        "  Debian:  sudo cp {cert} {} && sudo {}",
        debian.target().display(),
        debian.update().join(" ")
    );
    println!("           (`lcc cert ca --install` does this for the CA of the user it runs as)");
    println!(
        "  Firefox/Chromium: import {cert} as an authority in the browser's certificate settings"
    );
    Ok(ExitCode::SUCCESS)
}
