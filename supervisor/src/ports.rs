//! Interface ports: is a port free on 127.0.0.1, and pick a free one from a range.
