use tidings_core::Error;

/// The SQLSTATE codes and classes the adapter reads (PostgreSQL's appendix A).
mod sqlstate {
    /// Class 08: the connection failed or was lost.
    pub(super) const CONNECTION_EXCEPTION_CLASS: &str = "08";
    /// Another transaction's write made this one's unserialisable.
    pub(super) const SERIALIZATION_FAILURE: &str = "40001";
    /// Two transactions waited for each other; this one was chosen to fail.
    pub(super) const DEADLOCK_DETECTED: &str = "40P01";
    /// Class 53: out of connections, memory or disk.
    pub(super) const INSUFFICIENT_RESOURCES_CLASS: &str = "53";
    /// `57P01`..`57P03`: the server is shutting down, crashed, or not yet accepting.
    pub(super) const SERVER_UNAVAILABLE_PREFIX: &str = "57P0";
}

/// Classifies a driver error: a serialisation failure or a dead-lock is a conflict with a
/// concurrent transaction; connection trouble, a server shutting down and exhausted resources
/// may work later; a column that does not decode is a corrupt row; anything else will not
/// work later either.
pub(crate) fn classify(error: sqlx::Error) -> Error {
    let transient = match &error {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            if code == sqlstate::SERIALIZATION_FAILURE || code == sqlstate::DEADLOCK_DETECTED {
                return Error::Conflict(Box::new(error));
            }
            code.starts_with(sqlstate::CONNECTION_EXCEPTION_CLASS)
                || code.starts_with(sqlstate::INSUFFICIENT_RESOURCES_CLASS)
                || code.starts_with(sqlstate::SERVER_UNAVAILABLE_PREFIX)
        }
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::ColumnNotFound(_) => {
            return Error::corrupt("PostgreSQL row", error.to_string());
        }
        _ => false,
    };
    if transient {
        Error::unavailable(error)
    } else {
        Error::backend(error)
    }
}
