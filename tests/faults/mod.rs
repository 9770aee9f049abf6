//! The fault-injection suite (docs/faults.md): one module per fault family, each
//! injecting faults into the real binaries and checking that the cluster converges.
//! Each test prints what it measured on lines starting with `faults:`.

mod app_kill;
mod archive;
mod cli_input;
mod concurrent_cli;
mod corrupt_state;
mod daemon_input;
mod daemon_kill;
mod http;
mod input;
mod leftovers;
mod port_theft;
mod proxy_kill;
mod state_dir;
mod storage;
mod storage_rm;
