//! Renders a [`PodSpec`](crate::PodSpec) into a standalone POSIX sh `pod` script from
//! the handlebars templates embedded from `templates/`.
