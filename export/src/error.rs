//! Why an export fails: each error names the object and says how to fix it.

use std::path::PathBuf;

/// An export that cannot be made; nothing is written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A local application with no image anywhere.
    #[error("application `{app}` has no container image: add `kubernetes: {{image: IMAGE}}` to Application/{app}, or pass `--image {app}=IMAGE`")]
    NoImage {
        /// The application.
        app: String,
    },
    /// A local application with no command for Linux and none in `kubernetes:`.
    #[error("application `{app}` has no linux platform to take the container's command from: add a platform with `os: linux`, or `kubernetes: {{command: [...]}}` to Application/{app}")]
    NoLinuxCommand {
        /// The application.
        app: String,
    },
    /// A name or value Kubernetes would refuse.
    #[error("{what} `{value}` cannot be used in Kubernetes: {rule}")]
    Name {
        /// What the value is, e.g. `namespace`, `port name of interface x`.
        what: String,
        /// The value.
        value: String,
        /// The rule it breaks.
        rule: String,
    },
    /// `--image APP=IMAGE` for an unknown application or a bad image.
    #[error("--image {0}")]
    ImageOption(String),
    /// A file to carry cannot be read.
    #[error("cannot read `{}` (kubernetes.files of {owner}): {source}", path.display())]
    File {
        /// `Application/x`, `Instance/y`, ...
        owner: String,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Files or an archive too large for a ConfigMap.
    #[error("{what} of {owner} is {size} bytes, over the 1 MiB a ConfigMap holds: {hint}")]
    TooLarge {
        /// What is too large.
        what: String,
        /// `Application/x`, ...
        owner: String,
        /// Its size.
        size: u64,
        /// What to do instead.
        hint: &'static str,
    },
    /// A site archive cannot be read, or its format cannot be told from its name.
    #[error("archive `{archive}` of Application/{app}: {reason}")]
    Archive {
        /// The application.
        app: String,
        /// The archive.
        archive: String,
        /// Why.
        reason: String,
    },
    /// A schedule Kubernetes' CronJob cannot take.
    #[error("schedule `{schedule}` of Instance/{instance} cannot be a CronJob's: Kubernetes takes five cron fields (minute hour day month weekday), not seconds")]
    Schedule {
        /// The instance.
        instance: String,
        /// Its schedule.
        schedule: String,
    },
}
