//! The compiled `pod` script, run under `dash` and `bash`: its golden renderings,
//! quoting, lifecycle, the `lcc probe`/`lcc port` commands it calls, remote and static
//! apps.

mod golden;
mod inject;
mod lifecycle;
mod net;
mod remote;
mod static_site;
