//! A user's service tested with mocked ports: it holds the publisher and the outbox as trait
//! objects, so its tests hand it `tidings::mock` mocks instead of Kafka and a database.

use std::sync::Arc;

use tidings::{
    DynEventPublisher, DynOutboxRepository, Envelope, Error, EventPublisher, OutboxRepository,
    OutboxStats,
    mock::{MockBackend, MockEventPublisher},
};

/// Tells users their password was reset, and says how far behind the outbox is.
struct AccountService {
    publisher: Arc<dyn DynEventPublisher>,
    outbox: Arc<dyn DynOutboxRepository<()>>,
}

impl AccountService {
    async fn password_reset(&self, user: &str) -> tidings::Result<()> {
        let event = Envelope::new(
            "notifications",
            user,
            "user.password_reset",
            "application/json",
            format!(r#"{{"user":"{user}"}}"#).into_bytes(),
        );
        self.publisher.publish(&event).await
    }

    async fn backlog(&self) -> tidings::Result<u64> {
        let stats = self.outbox.stats().await?;
        Ok(stats.pending + stats.leased)
    }
}

fn service(publisher: MockEventPublisher, outbox: MockBackend) -> AccountService {
    AccountService {
        publisher: Arc::new(publisher),
        outbox: Arc::new(outbox),
    }
}

#[tokio::test]
async fn a_password_reset_publishes_one_notification_for_the_user() {
    let mut publisher = MockEventPublisher::new();
    publisher
        .expect_publish()
        .withf(|event| {
            event.topic == "notifications"
                && event.key == "ada"
                && event.message_type == "user.password_reset"
        })
        .times(1)
        .returning(|_| Box::pin(async { Ok(()) }));
    let service = service(publisher, MockBackend::new());
    service.password_reset("ada").await.expect("published");
}

#[tokio::test]
async fn a_broker_failure_reaches_the_caller() {
    let mut publisher = MockEventPublisher::new();
    publisher
        .expect_publish()
        .returning(|_| Box::pin(async { Err(Error::unavailable("broker down")) }));
    let service = service(publisher, MockBackend::new());
    let error = service.password_reset("ada").await.expect_err("refused");
    assert!(error.is_transient(), "{error}");
}

#[tokio::test]
async fn the_backlog_counts_pending_and_leased_rows() {
    let mut outbox = MockBackend::new();
    outbox
        .expect_stats()
        .times(1)
        .returning(|| Box::pin(async { Ok(OutboxStats::new(7, 3, 100, 1)) }));
    let service = service(MockEventPublisher::new(), outbox);
    assert_eq!(service.backlog().await.expect("stats"), 10);
}
