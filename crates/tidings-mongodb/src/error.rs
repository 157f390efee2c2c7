use mongodb::error::{
    Error as MongoError, ErrorKind, TRANSIENT_TRANSACTION_ERROR, UNKNOWN_TRANSACTION_COMMIT_RESULT,
    WriteFailure,
};
use tidings_core::Error;

/// MongoDB's code for a duplicate key.
pub(crate) const DUPLICATE_KEY: i32 = 11000;

/// MongoDB's code for a write conflict between two transactions.
pub(crate) const WRITE_CONFLICT: i32 = 112;

/// MongoDB's code for a collection (namespace) that exists already.
pub(crate) const NAMESPACE_EXISTS: i32 = 48;

/// Classifies a driver error: a write conflict with another transaction is a
/// [`Error::Conflict`]; network trouble, server selection, and anything else the server
/// labels transient (a transaction to retry, a commit whose result is unknown) may work later;
/// anything else will not.
pub(crate) fn classify(error: MongoError) -> Error {
    if code(&error) == Some(WRITE_CONFLICT) {
        return Error::Conflict(Box::new(error));
    }
    let transient = error.contains_label(TRANSIENT_TRANSACTION_ERROR)
        || error.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT)
        || matches!(
            *error.kind,
            ErrorKind::Io(_)
                | ErrorKind::ConnectionPoolCleared { .. }
                | ErrorKind::ServerSelection { .. }
        );
    if transient {
        Error::unavailable(error)
    } else {
        Error::backend(error)
    }
}

/// Why writing a key's last sequence failed: another transaction writing the same key (a write
/// conflict, or a duplicate key when both create its document) is a [`Error::Conflict`] that
/// names the key.
pub(crate) fn classify_sequence_write(error: MongoError, key: &str) -> Error {
    if code(&error) == Some(WRITE_CONFLICT) || is_duplicate_key(&error) {
        sequence_conflict(key, error.to_string())
    } else {
        classify(error)
    }
}

/// A refused write of a key's last sequence, from the server's write error.
pub(crate) fn sequence_write_refused(code: i32, key: &str, message: String) -> Error {
    if code == WRITE_CONFLICT || code == DUPLICATE_KEY {
        sequence_conflict(key, message)
    } else {
        Error::backend(format!(
            "writing the last sequence of key {key:?} failed ({code}): {message}"
        ))
    }
}

fn sequence_conflict(key: &str, cause: String) -> Error {
    Error::Conflict(
        format!(
            "another transaction is writing events of key {key:?}: writers of a key commit one \
             at a time ({cause})"
        )
        .into(),
    )
}

/// Whether the server refused a write because the key exists.
pub(crate) fn is_duplicate_key(error: &MongoError) -> bool {
    match &*error.kind {
        ErrorKind::Write(WriteFailure::WriteError(write)) => write.code == DUPLICATE_KEY,
        ErrorKind::InsertMany(many) => many
            .write_errors
            .as_ref()
            .is_some_and(|errors| errors.iter().any(|e| e.code == DUPLICATE_KEY)),
        _ => code(error) == Some(DUPLICATE_KEY),
    }
}

/// The server's error code, where the error came from the server.
pub(crate) fn code(error: &MongoError) -> Option<i32> {
    match &*error.kind {
        ErrorKind::Command(command) => Some(command.code),
        ErrorKind::Write(WriteFailure::WriteError(write)) => Some(write.code),
        ErrorKind::Write(WriteFailure::WriteConcernError(concern)) => Some(concern.code),
        ErrorKind::InsertMany(many) => many
            .write_errors
            .as_ref()
            .and_then(|errors| errors.first().map(|e| e.code))
            .or_else(|| many.write_concern_error.as_ref().map(|e| e.code)),
        _ => None,
    }
}

/// Whether another transaction holds the document (the caller may start over).
pub(crate) fn is_write_conflict(error: &MongoError) -> bool {
    code(error) == Some(WRITE_CONFLICT) || error.contains_label(TRANSIENT_TRANSACTION_ERROR)
}
