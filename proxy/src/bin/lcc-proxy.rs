//! `lcc-proxy --config FILE`: serve gateways and entrances from FILE.

fn main() {}
