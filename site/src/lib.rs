//! lcc-site: static sites for Local Cluster: fetch an archive safely and serve it.
