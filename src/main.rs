//! `lcc`: the Local Cluster command line. Parses arguments and hands each command
//! to the crate that does the work; maps errors to exit codes (1 failure, 2 usage).

#![forbid(unsafe_code)]

mod cli;
mod cmd;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // a usage error quotes the argument: one holding hidden characters is shown
            // escaped (and so without clap's colours); anything else as clap writes it
            let text = e.render().to_string();
            if let std::borrow::Cow::Owned(shown) = lcc_core::visible::visible(&text) {
                eprint!("{shown}");
                return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
            }
            e.exit()
        }
    };
    lcc_core::log::init();
    match cmd::dispatch(cli) {
        Ok(code) => code,
        Err(err) => {
            // names from manifests and arguments are quoted in errors: no hidden characters
            eprintln!("lcc: {}", lcc_core::visible::visible(&render(&err)));
            ExitCode::from(1)
        }
    }
}

/// The error and its causes on one line, each cause once: library errors often name
/// their source in their own message already.
fn render(err: &anyhow::Error) -> String {
    let mut line = err.to_string();
    for cause in err.chain().skip(1).map(|c| c.to_string()) {
        if !line.contains(&cause) {
            line = format!("{line}: {cause}");
        }
    }
    line
}
