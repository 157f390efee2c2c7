//! The scenario: what the service is asked to do, and what must come out of the relay.

use std::{fmt, sync::Arc};

use tidings::{
    UnitOfWorkError, cloudevents,
    events::{EventConfig, Events, TopicNames},
    memory::MemoryBroker,
    relay::{Relay, RelayConfig},
    sqlite::{SqliteBackend, SqliteUnitOfWork},
};

use crate::{
    UserError, UserService,
    service::{LOCK_AFTER, SCHEMA},
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// One event as the broker holds it.
#[derive(Clone, Debug)]
pub struct Delivered {
    /// Its topic.
    pub topic: String,
    /// Its type (`DATA_CREATED`, `user_created`, `login_failed`…).
    pub message_type: String,
    /// Its partition key.
    pub key: String,
    /// Its body.
    pub body: serde_json::Value,
}

/// What came out through the relay, and the topics it should have come out on.
#[derive(Debug)]
pub struct Report {
    /// Every record on the broker, topic by topic in the order of [`Report::expected`].
    pub delivered: Vec<Delivered>,
    /// Calls that failed and rolled back, with their errors.
    pub refused: Vec<String>,
    topics: TopicNames,
}

impl Report {
    /// Each topic with the types, in order, that must reach it.
    pub fn expected(&self) -> Result<Vec<(String, Vec<&'static str>)>, BoxError> {
        let t = &self.topics;
        let failed = vec!["login_failed"; LOCK_AFTER as usize];
        Ok(vec![
            (
                t.audit().to_owned(),
                vec!["DATA_CREATED", "DATA_CREATED", "DATA_UPDATED", "USER_LOGIN"],
            ),
            (
                t.notification().to_owned(),
                vec!["USER_WELCOME", "USER_WELCOME", "USER_ACCOUNT_LOCKED"],
            ),
            (t.domain("user", "user_created")?, vec!["user_created"; 2]),
            (t.domain("user", "user_updated")?, vec!["user_updated"]),
            (
                t.custom("auth.events")?,
                [vec!["login_successful"], failed].concat(),
            ),
        ])
    }

    /// What differs from what was expected; empty when all is well.
    pub fn problems(&self) -> Vec<String> {
        let expected = match self.expected() {
            Ok(expected) => expected,
            Err(e) => return vec![e.to_string()],
        };
        let mut problems = Vec::new();
        for (topic, types) in &expected {
            let got: Vec<&str> = self.on(topic).map(|d| d.message_type.as_str()).collect();
            if got != *types {
                problems.push(format!("{topic}: got {got:?}, expected {types:?}"));
            }
        }
        let known = |d: &&Delivered| expected.iter().any(|(t, _)| *t == d.topic);
        problems.extend(
            self.delivered
                .iter()
                .filter(|d| !known(d))
                .map(|d| format!("unexpected event {} on {}", d.message_type, d.topic)),
        );
        let leaked = self
            .delivered
            .iter()
            .filter(|d| d.body.to_string().contains("s3cret"));
        problems.extend(leaked.map(|d| format!("a password in {} on {}", d.message_type, d.topic)));
        if self.refused.len() != 2 {
            problems.push(format!("2 calls should be refused, got {:?}", self.refused));
        }
        problems
    }

    /// The events on `topic`, in order.
    pub fn on<'a>(&'a self, topic: &'a str) -> impl Iterator<Item = &'a Delivered> {
        self.delivered.iter().filter(move |d| d.topic == topic)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut topic = "";
        for event in &self.delivered {
            if event.topic != topic {
                topic = &event.topic;
                writeln!(f, "{topic}")?;
            }
            let data = ["operation_details", "event_data", "data", "subject"]
                .iter()
                .find_map(|field| event.body.get(*field))
                .map_or_else(String::new, ToString::to_string);
            writeln!(
                f,
                "  {:<22} key {:<8} {data}",
                event.message_type, event.key
            )?;
        }
        for refusal in &self.refused {
            writeln!(f, "refused, rolled back, no event: {refusal}")?;
        }
        Ok(())
    }
}

/// Plays the scenario on a new SQLite database with `config`, relays, and reports.
pub async fn run(config: &EventConfig) -> Result<Report, BoxError> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}/users.db", dir.path().display());
    let backend = SqliteBackend::connect(&url).await?;
    backend.migrate().await?;
    sqlx::query(SCHEMA).execute(backend.pool()).await?;
    let uow = SqliteUnitOfWork::new(backend.clone());
    let users = UserService::new(Arc::new(Events::new(config)?));
    let refused = play(&uow, &users).await?;

    let broker = MemoryBroker::new();
    Relay::new(backend, broker.clone(), RelayConfig::default())
        .drain()
        .await?;
    let topics = config.topics()?;
    let mut report = Report {
        delivered: Vec::new(),
        refused,
        topics,
    };
    for (topic, _) in report.expected()? {
        for record in broker.records(&topic) {
            let event = cloudevents::decode(&record)?;
            report.delivered.push(Delivered {
                topic: event.topic.clone(),
                message_type: event.message_type.clone(),
                key: event.key.clone(),
                body: event.decode_json()?,
            });
        }
    }
    Ok(report)
}

/// The calls; returns those refused (each rolled back).
async fn play(uow: &SqliteUnitOfWork, users: &UserService) -> Result<Vec<String>, BoxError> {
    let mut refused = Vec::new();
    for (id, email) in [
        ("ada", "ada@example.com"),
        ("bob", "bob@example.com"),
        ("ada", "again@example.com"),
    ] {
        let created = uow
            .run(async |work| {
                users
                    .create_user(work, id.into(), email.into(), "s3cret".into())
                    .await
            })
            .await;
        note(created, &mut refused)?;
    }
    for id in ["ada", "carol"] {
        let updated = uow
            .run(async |work| {
                users
                    .update_email(work, id.into(), "ada@work.example".into())
                    .await
            })
            .await;
        note(updated, &mut refused)?;
    }
    for (id, password) in [
        ("ada", "s3cret"),
        ("bob", "guess1"),
        ("bob", "guess2"),
        ("bob", "guess3"),
    ] {
        uow.run(async |work| {
            match users.authenticate(work, id.into(), password.into()).await {
                // The failed attempt and its event are kept: commit.
                Ok(()) | Err(UserError::WrongPassword(_)) => Ok(()),
                Err(other) => Err(other),
            }
        })
        .await?;
    }
    Ok(refused)
}

/// Keeps a refusal of the service (rolled back) as a line; any other failure is the scenario's.
fn note<T>(
    outcome: Result<T, UnitOfWorkError<UserError>>,
    refused: &mut Vec<String>,
) -> Result<(), BoxError> {
    match outcome {
        Ok(_) => Ok(()),
        Err(UnitOfWorkError::Handler(e @ (UserError::Exists(_) | UserError::NotFound(_)))) => {
            refused.push(e.to_string());
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}
