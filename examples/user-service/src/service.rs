//! The service: every method runs in the caller's unit of work, and its attributes stage the
//! events of what it did in that same transaction.

use std::sync::Arc;

use serde::Serialize;
use tidings::{
    Work,
    events::{
        EventError, HasEvents, NotificationEvent, NotificationEventType, PublishEvents,
        audit_event, domain_event, publish_on_error, publish_on_success,
    },
    sqlite::SqliteTransaction,
};

/// After this many failed logins in a row the account is locked.
pub(crate) const LOCK_AFTER: i64 = 3;

/// What a user is, as the service returns (and publishes) it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct User {
    /// Its id.
    pub id: String,
    /// Its e-mail address.
    pub email: String,
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UserError {
    /// A user of that id exists.
    #[error("user {0} exists")]
    Exists(String),
    /// No user has that id.
    #[error("no user {0}")]
    NotFound(String),
    /// The password does not match.
    #[error("wrong password for user {0}")]
    WrongPassword(String),
    /// The account is locked after too many failed logins.
    #[error("user {0} is locked")]
    Locked(String),
    /// An event could not be published.
    #[error(transparent)]
    Events(#[from] EventError),
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// The service; it holds its publisher as a trait object, so a test can hand it a double.
pub struct UserService {
    events: Arc<dyn PublishEvents>,
}

impl HasEvents for UserService {
    fn events(&self) -> &dyn PublishEvents {
        &*self.events
    }
}

/// The schema of the service's own table.
pub(crate) const SCHEMA: &str = "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT NOT NULL, \
     password TEXT NOT NULL, failed_logins INTEGER NOT NULL DEFAULT 0)";

impl UserService {
    /// A service publishing through `events`.
    pub fn new(events: Arc<dyn PublishEvents>) -> Self {
        Self { events }
    }

    /// Creates a user; an audit event (with the arguments but the password), a welcome
    /// notification and `user_created` commit with the row.
    #[audit_event(
        event_type = DataCreated,
        action = "create_user",
        resource_type = "user",
        resource_id_field = user_id,
        include_args
    )]
    #[domain_event(aggregate_type = "user", event_type = "user_created", aggregate_id_field = result.id)]
    pub async fn create_user(
        &self,
        work: &mut Work<SqliteTransaction>,
        user_id: String,
        email: String,
        // The example keeps it as given; a real service stores a slow hash (argon2).
        #[sensitive] password: String,
    ) -> Result<User, UserError> {
        let inserted =
            sqlx::query("INSERT OR IGNORE INTO users (id, email, password) VALUES (?, ?, ?)")
                .bind(&user_id)
                .bind(&email)
                .bind(&password)
                .execute(&mut **work.transaction())
                .await?;
        if inserted.rows_affected() == 0 {
            return Err(UserError::Exists(user_id));
        }
        let welcome = NotificationEvent::new(
            NotificationEventType::UserWelcome,
            "user",
            vec![user_id.clone()],
            "Welcome",
            format!("Your account {user_id} is ready."),
        );
        self.events
            .publish_notification_event(Some(&mut *work), welcome)
            .await?;
        Ok(User { id: user_id, email })
    }

    /// Changes a user's e-mail address; `user_updated` carries the user as it now is.
    #[audit_event(
        event_type = DataUpdated,
        action = "update_email",
        resource_type = "user",
        resource_id_field = user_id,
        include_args
    )]
    #[domain_event(aggregate_type = "user", event_type = "user_updated", aggregate_id_field = user_id)]
    pub async fn update_email(
        &self,
        work: &mut Work<SqliteTransaction>,
        user_id: String,
        email: String,
    ) -> Result<User, UserError> {
        let updated = sqlx::query("UPDATE users SET email = ? WHERE id = ?")
            .bind(&email)
            .bind(&user_id)
            .execute(&mut **work.transaction())
            .await?;
        if updated.rows_affected() == 0 {
            return Err(UserError::NotFound(user_id));
        }
        Ok(User { id: user_id, email })
    }

    /// Checks a password. A failure is counted, and is an event too: the caller commits the
    /// unit of work on [`UserError::WrongPassword`] so that both stay. The third in a row locks
    /// the account and tells the user.
    // publish_on_error first, nearest the body: it sees the body's errors, not a failure to
    // publish the success.
    #[publish_on_error(topic = "auth.events", event_type = "login_failed", key_field = user_id, include_args)]
    #[publish_on_success(topic = "auth.events", event_type = "login_successful", key_field = user_id)]
    #[audit_event(event_type = UserLogin, action = "authenticate", resource_type = "session", resource_id_field = user_id)]
    pub async fn authenticate(
        &self,
        work: &mut Work<SqliteTransaction>,
        user_id: String,
        #[sensitive] password: String,
    ) -> Result<(), UserError> {
        let row: Option<(String, i64)> =
            sqlx::query_as("SELECT password, failed_logins FROM users WHERE id = ?")
                .bind(&user_id)
                .fetch_optional(&mut **work.transaction())
                .await?;
        let Some((stored, failed)) = row else {
            return Err(UserError::NotFound(user_id));
        };
        if failed >= LOCK_AFTER {
            return Err(UserError::Locked(user_id));
        }
        let failed = if stored == password { 0 } else { failed + 1 };
        sqlx::query("UPDATE users SET failed_logins = ? WHERE id = ?")
            .bind(failed)
            .bind(&user_id)
            .execute(&mut **work.transaction())
            .await?;
        if failed == 0 {
            return Ok(());
        }
        if failed == LOCK_AFTER {
            let locked = NotificationEvent::new(
                NotificationEventType::UserAccountLocked,
                "user",
                vec![user_id.clone()],
                "Account locked",
                format!("{LOCK_AFTER} failed logins in a row locked your account."),
            );
            self.events
                .publish_notification_event(Some(&mut *work), locked)
                .await?;
        }
        Err(UserError::WrongPassword(user_id))
    }
}
