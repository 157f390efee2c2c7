use tidings_core::Error;

/// SQLite's primary result codes that the adapter reads (an extended code carries one of them
/// in its low byte).
mod result_code {
    /// The database file is locked by another connection.
    pub(super) const SQLITE_BUSY: i32 = 5;
    /// A table is locked by another statement of the same connection.
    pub(super) const SQLITE_LOCKED: i32 = 6;
}

/// Classifies a driver error: an unreachable, busy or locked database may work later; a
/// column that does not decode is a corrupt row; anything else will not work later either.
pub(crate) fn classify(error: sqlx::Error) -> Error {
    let transient = match &error {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
        sqlx::Error::Database(db) => {
            db.code()
                .and_then(|c| c.parse::<i32>().ok())
                .is_some_and(|c| {
                    let primary = c & 0xff;
                    primary == result_code::SQLITE_BUSY || primary == result_code::SQLITE_LOCKED
                })
        }
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::ColumnNotFound(_) => {
            return Error::corrupt("SQLite row", error.to_string());
        }
        _ => false,
    };
    if transient {
        Error::unavailable(error)
    } else {
        Error::backend(error)
    }
}
