//! A whole stack from manifests alone: `${VAR}` interpolation from the shell, an
//! `--env-file` and `.env`; `envFile:` lists; discovery of gateways.

mod depends;
mod discovery;
mod interpolate;
mod jobs;
mod profiles;
mod watch;
