//! Native probes: one HTTP GET or TCP connect with a deadline, no process spawned.
