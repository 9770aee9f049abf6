//! `lcc cert ca`: the local CA that issues the https listener's certificates.

use anyhow::Context;
use std::process::ExitCode;

/// Creates the CA unless it exists; prints its certificate's path first, then how to
/// trust it.
pub fn ca() -> anyhow::Result<ExitCode> {
    let dir = lcc_core::ca::default_dir()?;
    let (files, made) =
        lcc_core::ca::ensure(&dir).with_context(|| format!("local CA in {}", dir.display()))?;
    let cert = files.cert.display();
    println!("{cert}");
    println!(
        "{} the local CA; the https listener issues certificates from it.",
        if made { "created" } else { "using" }
    );
    println!("trust it:");
    println!("  curl:    curl --cacert {cert} https://docs.localhost:8443/");
    println!("  Debian:  sudo cp {cert} /usr/local/share/ca-certificates/lcc-local-ca.crt && sudo update-ca-certificates");
    println!(
        "  Firefox/Chromium: import {cert} as an authority in the browser's certificate settings"
    );
    Ok(ExitCode::SUCCESS)
}
