use tidings_core::Error;

/// Classifies a driver error: connection trouble, a server shutting down, too many connections,
/// serialisation failures and dead-locks may work later; anything else will not.
pub(crate) fn classify(error: sqlx::Error) -> Error {
    let transient = match &error {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // 08: connection exception, 40001/40P01: serialisation failure / dead-lock,
            // 53: insufficient resources, 57P0x: server shutting down or starting.
            code.starts_with("08")
                || code == "40001"
                || code == "40P01"
                || code.starts_with("53")
                || code.starts_with("57P0")
        }),
        _ => false,
    };
    if transient {
        Error::unavailable(error)
    } else {
        Error::backend(error)
    }
}
