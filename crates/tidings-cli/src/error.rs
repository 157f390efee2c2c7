//! What the binary reports: one error type whose message is the one line printed.

/// Why a command failed. Printed as one line on stderr; the process exits with 1 (2 for a
/// command line clap refused).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// A bad or unknown configuration key or value.
    #[error("configuration: {0}")]
    Config(String),
    /// A URL whose scheme names no backend this build has.
    #[error("{0}")]
    Unsupported(String),
    /// The outbox, the broker or the listener failed.
    #[error("{what}: {source}")]
    Tidings {
        /// What was being done.
        what: String,
        /// The library's error.
        #[source]
        source: tidings::Error,
    },
    /// The HTTP listener or a signal handler could not start.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
}

impl CliError {
    /// Wraps a library error with what was being done.
    pub fn tidings(what: impl Into<String>) -> impl FnOnce(tidings::Error) -> Self {
        let what = what.into();
        move |source| Self::Tidings { what, source }
    }

    /// Wraps a system error with what was being done.
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| Self::Io { what, source }
    }
}
