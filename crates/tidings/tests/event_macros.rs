//! The publishing attributes on a service's methods: their events staged in the method's unit
//! of work with its writes (and rolled back with them), built from the arguments and what the
//! method returned, sensitive values left out; a failure to publish becomes the method's error;
//! and a service test that swaps the publisher for a recording double asserts the call.

use std::sync::Arc;

use serde::Serialize;
use serde_json::json;
use tidings::{
    Envelope, UnitOfWorkError, Work,
    events::{
        AnyEvent, AuditEventType, DomainEvent, EventConfig, EventError, Events, HasEvents,
        PublishEvents, RecordingPublisher, audit_event, domain_event, publish_on_error,
        publish_on_success,
    },
    sqlite::{SqliteBackend, SqliteTransaction, SqliteUnitOfWork},
};

#[derive(Debug, thiserror::Error)]
enum ServiceError {
    #[error("user {0} exists")]
    Exists(String),
    #[error("wrong password for {0}")]
    WrongPassword(String),
    #[error(transparent)]
    Events(#[from] EventError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

#[derive(Clone, Debug, Serialize)]
struct Profile {
    email: String,
    ssn: String,
}

#[derive(Debug, Serialize, PartialEq)]
struct User {
    id: String,
    email: String,
}

struct UserService {
    events: Arc<dyn PublishEvents>,
    /// The aggregate type of its domain events (a space in it makes an invalid topic).
    aggregate: &'static str,
}

impl HasEvents for UserService {
    fn events(&self) -> &dyn PublishEvents {
        &*self.events
    }
}

type Tx = Work<SqliteTransaction>;

impl UserService {
    #[audit_event(
        event_type = DataCreated,
        action = "create_user",
        resource_type = "user",
        resource_id_field = user_id,
        user_id_field = "actor",
        include_args,
        sensitive(profile.ssn)
    )]
    #[domain_event(aggregate_type = self.aggregate, event_type = "user_created", aggregate_id_field = result.id)]
    async fn create_user(
        &self,
        work: &mut Work<SqliteTransaction>,
        actor: &str,
        user_id: String,
        profile: Profile,
        #[sensitive] password: String,
    ) -> Result<User, ServiceError> {
        let inserted =
            sqlx::query("INSERT OR IGNORE INTO users (id, email, password) VALUES (?, ?, ?)")
                .bind(&user_id)
                .bind(&profile.email)
                .bind(&password)
                .execute(&mut **work.transaction())
                .await?;
        if inserted.rows_affected() == 0 {
            return Err(ServiceError::Exists(user_id));
        }
        Ok(User {
            id: user_id,
            email: profile.email,
        })
    }

    // `Tx` is an alias, so the unit of work is named. `publish_on_error` comes first, nearest
    // the body, so that it sees the body's errors only, not a failure to publish the success.
    #[publish_on_error(topic = "auth.events", event_type = "login_failed", key_field = user_id, include_args, outbox = work)]
    #[publish_on_success(topic = "auth.events", event_type = "login_successful", key_field = user_id, outbox = work)]
    async fn authenticate(
        &self,
        work: &mut Tx,
        user_id: &str,
        #[sensitive] password: &str,
    ) -> Result<bool, ServiceError> {
        let matches: Option<(i64,)> =
            sqlx::query_as("SELECT 1 FROM users WHERE id = ? AND password = ?")
                .bind(user_id)
                .bind(password)
                .fetch_optional(&mut **work.transaction())
                .await?;
        if matches.is_none() {
            sqlx::query("UPDATE users SET failed_logins = failed_logins + 1 WHERE id = ?")
                .bind(user_id)
                .execute(&mut **work.transaction())
                .await?;
            return Err(ServiceError::WrongPassword(user_id.to_owned()));
        }
        Ok(true)
    }

    /// No unit of work: published through the publisher at once.
    #[domain_event(aggregate_type = "user", event_type = "user_renamed", aggregate_id_field = user_id, include_args)]
    async fn rename(&self, user_id: &str, name: &str) -> Result<(), ServiceError> {
        let _ = (user_id, name);
        Ok(())
    }
}

/// A free function names its publisher (which `include_args` leaves out: it is no argument of
/// the event's, and `Events` is not `Serialize`).
#[publish_on_success(topic = "maintenance", event_type = "cache_cleared", key_field = region, publisher = events, include_args)]
async fn clear_cache(events: &Events, region: &str) -> Result<usize, EventError> {
    let _ = (events, region);
    Ok(3)
}

async fn database() -> (tempfile::TempDir, SqliteBackend) {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}/users.db", dir.path().display());
    let backend = SqliteBackend::connect(&url).await.expect("open");
    backend.migrate().await.expect("migrate");
    sqlx::query(
        "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT NOT NULL, password TEXT NOT NULL, \
         failed_logins INTEGER NOT NULL DEFAULT 0)",
    )
    .execute(backend.pool())
    .await
    .expect("create users");
    (dir, backend)
}

fn service(aggregate: &'static str) -> UserService {
    let config = EventConfig::new("user-service").with_topic_prefix("marty");
    UserService {
        events: Arc::new(Events::new(&config).expect("valid")),
        aggregate,
    }
}

fn profile() -> Profile {
    Profile {
        email: "ada@example.com".into(),
        ssn: "078-05-1120".into(),
    }
}

async fn count(backend: &SqliteBackend, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(backend.pool())
        .await
        .expect("count")
}

#[tokio::test]
async fn a_method_stages_its_events_with_its_writes_built_from_its_arguments_and_result() {
    let (_dir, backend) = database().await;
    let uow = SqliteUnitOfWork::new(backend.clone());
    let users = service("user");
    let staged: Vec<Envelope> = uow
        .run(async |work| {
            let user = users
                .create_user(work, "admin", "user-1".into(), profile(), "hunter2".into())
                .await?;
            assert_eq!(user.id, "user-1");
            Ok::<_, ServiceError>(work.staged().to_vec())
        })
        .await
        .expect("created");
    let topics: Vec<&str> = staged.iter().map(|e| e.topic.as_str()).collect();
    // Stacked attributes publish in the order they are written.
    assert_eq!(
        topics,
        ["marty.audit.events", "marty.user-service.user.user_created"]
    );
    let domain: serde_json::Value = staged[1].decode_json().expect("json");
    assert_eq!(domain["aggregate_id"], "user-1");
    assert_eq!(
        domain["event_data"],
        json!({"id": "user-1", "email": "ada@example.com"})
    );
    let audit: serde_json::Value = staged[0].decode_json().expect("json");
    assert_eq!(staged[0].message_type, AuditEventType::DataCreated.as_str());
    assert_eq!(
        (audit["resource_id"].as_str(), staged[0].key.as_str()),
        (Some("user-1"), "user-1")
    );
    assert_eq!(audit["metadata"]["user_id"], "admin");
    assert_eq!(
        audit["operation_details"],
        json!({"actor": "admin", "user_id": "user-1", "profile": {"email": "ada@example.com"}}),
        "the password argument and the profile's ssn are left out"
    );
    let stored = count(&backend, "SELECT COUNT(*) FROM tidings_outbox").await;
    assert_eq!(stored, 2, "both events committed with the user");
}

#[tokio::test]
async fn a_method_that_fails_stages_nothing_and_its_unit_of_work_rolls_back() {
    let (_dir, backend) = database().await;
    let uow = SqliteUnitOfWork::new(backend.clone());
    let users = service("user");
    let create = async |id: &str| {
        uow.run(async |work| {
            users
                .create_user(work, "admin", id.into(), profile(), "pw".into())
                .await
        })
        .await
    };
    create("user-1").await.expect("first");
    let again = create("user-1").await.expect_err("exists");
    assert!(
        matches!(again, UnitOfWorkError::Handler(ServiceError::Exists(_))),
        "{again}"
    );
    assert_eq!(
        count(&backend, "SELECT COUNT(*) FROM tidings_outbox").await,
        2
    );
}

#[tokio::test]
async fn an_event_that_cannot_be_published_fails_the_method_and_rolls_back_its_writes() {
    let (_dir, backend) = database().await;
    let uow = SqliteUnitOfWork::new(backend.clone());
    let users = service("user account");
    let error = uow
        .run(async |work| {
            users
                .create_user(work, "admin", "user-1".into(), profile(), "pw".into())
                .await
        })
        .await
        .expect_err("a space in the aggregate type");
    let UnitOfWorkError::Handler(ServiceError::Events(EventError::InvalidTopic { topic, .. })) =
        &error
    else {
        panic!("expected the invalid topic, got {error}");
    };
    assert_eq!(topic, "marty.user-service.user account.user_created");
    assert_eq!(count(&backend, "SELECT COUNT(*) FROM users").await, 0);
    assert_eq!(
        count(&backend, "SELECT COUNT(*) FROM tidings_outbox").await,
        0
    );
}

#[tokio::test]
async fn a_failed_login_stages_its_event_and_commits_when_the_caller_counts_it() {
    let (_dir, backend) = database().await;
    let uow = SqliteUnitOfWork::new(backend.clone());
    let users = service("user");
    uow.run(async |work| {
        users
            .create_user(work, "admin", "user-1".into(), profile(), "right".into())
            .await
    })
    .await
    .expect("created");
    let login = async |password: &str| {
        uow.run(async |work| {
            let outcome = users.authenticate(work, "user-1", password).await;
            let staged = work.staged().last().cloned().expect("an event");
            match outcome {
                Ok(ok) => Ok((ok, staged)),
                // The failed attempt is counted: commit it and its event.
                Err(ServiceError::WrongPassword(_)) => Ok((false, staged)),
                Err(other) => Err(other),
            }
        })
        .await
        .expect("committed")
    };
    let (ok, succeeded) = login("right").await;
    assert!(ok);
    assert_eq!(succeeded.message_type, "login_successful");
    assert_eq!(succeeded.topic, "marty.auth.events");
    let body: serde_json::Value = succeeded.decode_json().expect("json");
    assert_eq!(body["data"], json!({"result": true}));

    let (ok, failed) = login("wrong").await;
    assert!(!ok);
    assert_eq!(
        (failed.message_type.as_str(), failed.key.as_str()),
        ("login_failed", "user-1")
    );
    let body: serde_json::Value = failed.decode_json().expect("json");
    assert_eq!(
        body["data"],
        json!({"error": "wrong password for user-1", "args": {"user_id": "user-1"}})
    );
    let failures = count(
        &backend,
        "SELECT failed_logins FROM users WHERE id = 'user-1'",
    )
    .await;
    assert_eq!(failures, 1);
    assert_eq!(
        count(&backend, "SELECT COUNT(*) FROM tidings_outbox").await,
        4
    );
}

#[tokio::test]
async fn a_service_test_swaps_in_a_recording_publisher_and_asserts_the_call() {
    let recorder = Arc::new(RecordingPublisher::new());
    let users = UserService {
        events: recorder.clone(),
        aggregate: "user",
    };
    users.rename("user-1", "Ada").await.expect("renamed");
    assert_eq!(
        recorder.domain_events(),
        [DomainEvent::new(
            "user",
            "user-1",
            "user_renamed",
            json!({"result": null, "args": {"user_id": "user-1", "name": "Ada"}})
        )]
    );
    assert!(
        !recorder.calls()[0].staged,
        "no unit of work: published at once"
    );

    // With the outbox on (the default), a method given no unit of work is refused, not sent.
    let refused = service("user")
        .rename("user-1", "Ada")
        .await
        .expect_err("outbox on");
    assert!(
        matches!(
            refused,
            ServiceError::Events(EventError::OutboxRequired { kind: "domain" })
        ),
        "{refused}"
    );

    let events = Events::new(&EventConfig::new("ops").with_outbox(false)).expect("valid");
    let error = clear_cache(&events, "eu").await.expect_err("no broker");
    assert!(
        matches!(error, EventError::NoBroker { kind: "custom" }),
        "{error}"
    );
    let calls = recorder.calls();
    assert!(
        matches!(calls[..], [_]),
        "the free function used its own publisher"
    );
    assert!(matches!(&calls[0].event, AnyEvent::Domain(_)));
}
