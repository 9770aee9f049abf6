//! `lcc probe` and `lcc port`: the network chores a pod script delegates to `lcc`.
//!
//! Both answer with an exit code (0 pass / free, 1 fail / in use) and at most one line,
//! so that a pod can call them without parsing anything but a port number.

use crate::cli::PortArgs;
use lcc_supervisor::{ports, probe};
use std::collections::HashSet;
use std::process::ExitCode;

/// `lcc probe URL [--timeout D] [--expect LO-HI]`.
pub fn probe(url: &str, timeout: &str, expect: &str) -> anyhow::Result<ExitCode> {
    let (timeout, expect) = match (probe::parse_timeout(timeout), probe::parse_expect(expect)) {
        (Ok(t), Ok(e)) => (t, e),
        (Err(err), _) | (_, Err(err)) => return Ok(usage(&err.to_string())),
    };
    if let Err(err @ probe::ProbeError::BadUrl { .. }) = probe::Target::parse(url) {
        return Ok(usage(&err.to_string()));
    }
    match probe::probe_url(url, timeout, expect) {
        Ok(_) => Ok(ExitCode::SUCCESS),
        Err(err) => {
            eprintln!("lcc probe: {err}");
            Ok(ExitCode::from(1))
        }
    }
}

/// `lcc port [--range LO-HI] [--check PORT]`.
pub fn port(args: &PortArgs) -> anyhow::Result<ExitCode> {
    if let Some(port) = args.check {
        if ports::is_free(port) {
            return Ok(ExitCode::SUCCESS);
        }
        eprintln!("lcc port: port {port} is in use");
        return Ok(ExitCode::from(1));
    }
    let range = match args.range.as_deref() {
        None => ports::DEFAULT_RANGE,
        Some(text) => match ports::parse_range(text) {
            Some(range) => range,
            None => return Ok(usage(&format!("bad range {text:?}, expected LO-HI"))),
        },
    };
    match ports::pick_free(range.clone(), &HashSet::new()) {
        Some(port) => {
            println!("{port}");
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!(
                "lcc port: no free port in {}-{}",
                range.start(),
                range.end()
            );
            Ok(ExitCode::from(1))
        }
    }
}

/// Prints a usage error and returns exit code 2.
fn usage(message: &str) -> ExitCode {
    eprintln!("lcc: {message}");
    ExitCode::from(2)
}
