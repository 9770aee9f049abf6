//! lcc-core: what every part of Local Cluster agrees on and no part owns: which
//! directories lcc must never delete or replace ([`protected`]) and how a directory
//! says that lcc made it ([`ownership`]).

pub mod ownership;
pub mod protected;
