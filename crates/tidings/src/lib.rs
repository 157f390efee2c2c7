// The README is the crate's guide, and its examples are doctests under every feature set: an
// example that needs an adapter's feature compiles to nothing without it.
#![doc = include_str!("../../../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use tidings_core::{
    BoxError, BoxFuture, ClaimRequest, DeadLetterQuery, DeadLetterRepository, Delivery,
    DynEventPublisher, DynOutboxRepository, DynamicEvent, Envelope, EnvelopeFactory, Error,
    EventPublisher, EventStore, ExtensionValue, Hints, IdScheme, InboxClaim, InboxRepository,
    Limits, Message, MessageId, Notifications, Notifier, OutboxInspector, OutboxRecord,
    OutboxRepository, OutboxRepositoryExt, OutboxStats, Outcome, Payload, PublishOutcome,
    PublishedQuery, RecordSource, RecordStatus, Result, RetryPolicy, Settlement, StatusGroup,
    StoredEvent, StoredEventQuery, TopicRouter, TopicStats, Transactional, claim_policy,
    cloudevents, context, ensure_idempotence, sequence, validate_topic, wire,
};
pub use tidings_uow::{Handled, UnitOfWork, UnitOfWorkError, Work, consume};

/// `#[derive(Message)]`: `Message` from `#[tidings(type, aggregate, key, topic, subject, id)]`
/// options on a struct, or on an enum variant by variant. See [`tidings_macros`].
#[cfg(feature = "macros")]
#[cfg_attr(docsrs, doc(cfg(feature = "macros")))]
pub use tidings_macros::Message;

/// Typed audit, notification and domain events, their topic names and their configuration
/// from the environment: see [`tidings_events`].
#[cfg(feature = "events")]
#[cfg_attr(docsrs, doc(cfg(feature = "events")))]
pub mod events {
    pub use tidings_events::*;
    /// Publish an event when an `async fn` returns (with feature `macros`): see
    /// [`tidings_macros`].
    #[cfg(feature = "macros")]
    pub use tidings_macros::{audit_event, domain_event, publish_on_error, publish_on_success};

    #[cfg(feature = "kafka")]
    pub use self::kafka::{kafka_config, kafka_events};

    /// The Kafka connection of an [`EventConfig`], with feature `kafka`.
    #[cfg(feature = "kafka")]
    #[cfg_attr(docsrs, doc(cfg(feature = "kafka")))]
    mod kafka {
        use std::sync::Arc;

        use tidings_events::{EventConfig, EventError, Events};
        use tidings_kafka::{KafkaConfig, KafkaPublisher, Secret};

        /// The Kafka connection `config` names: its brokers (`KAFKA_BROKERS`), security
        /// protocol and SASL settings, with the service's name as the client id.
        pub fn kafka_config(config: &EventConfig) -> Result<KafkaConfig, EventError> {
            let servers = config
                .bootstrap_servers()
                .ok_or(EventError::MissingVariable {
                    variable: "KAFKA_BROKERS",
                    why: "the brokers to send to when the outbox is off",
                })?;
            let mut kafka = KafkaConfig::new(servers).with_client_id(&config.service_name);
            // librdkafka takes the protocol in lower case; Marty's users write it upper.
            kafka.security_protocol = config.security_protocol.as_deref().map(str::to_lowercase);
            kafka.sasl_mechanism = config.sasl_mechanism.clone();
            kafka.sasl_username = config.sasl_username.clone();
            kafka.sasl_password = config.sasl_password.clone().map(Secret::new);
            Ok(kafka)
        }

        /// The publisher of `config`, sending through Kafka what is published without a unit
        /// of work (with the outbox on, it still stages and refuses to send directly).
        pub fn kafka_events(config: &EventConfig) -> Result<Events, EventError> {
            let publisher = KafkaPublisher::new(&kafka_config(config)?)?;
            Ok(Events::new(config)?.with_broker(Arc::new(publisher)))
        }
    }
}

/// mockall mocks of the ports, for a service's own tests: `MockEventPublisher`,
/// `MockDeadLetterRepository`, and `MockBackend` (outbox and inbox over a `()` transaction).
/// Hold the real adapter as `Arc<dyn DynEventPublisher>` / `Arc<dyn DynOutboxRepository<_>>`
/// and hand the service a mock in its tests.
#[cfg(feature = "mock")]
#[cfg_attr(docsrs, doc(cfg(feature = "mock")))]
pub mod mock {
    pub use tidings_core::mock::*;
}

/// OpenTelemetry trace context across the outbox (feature `otel`).
#[cfg(feature = "otel")]
#[cfg_attr(docsrs, doc(cfg(feature = "otel")))]
pub mod otel {
    pub use tidings_otel::*;
}

/// The trace context hook of the core; feature `otel` installs OpenTelemetry's.
pub use tidings_core::trace;

/// The persistent publisher: a copy of every event it sends, for `publish_pending` and
/// `republish`.
pub mod persistent {
    pub use tidings_persistent::*;

    #[cfg(all(feature = "mongodb", feature = "kafka"))]
    pub use self::mongo_kafka::{MongoKafkaConfig, construct};

    /// hexkit's `PersistentKafkaPublisher.construct`, with features `mongodb` and `kafka`.
    #[cfg(all(feature = "mongodb", feature = "kafka"))]
    #[cfg_attr(docsrs, doc(cfg(all(feature = "mongodb", feature = "kafka"))))]
    mod mongo_kafka {
        use tidings_core::{EnvelopeFactory, Result};
        use tidings_kafka::{HeaderProfile, KafkaConfig, KafkaPublisher};
        use tidings_mongodb::MongoEventStore;
        use tidings_persistent::{PersistentConfig, PersistentPublisher};

        /// What the persistent publisher needs of hexkit's `MongoKafkaConfig`: the service's
        /// name, its Kafka cluster, and its MongoDB database.
        #[derive(Clone, Debug)]
        #[non_exhaustive]
        pub struct MongoKafkaConfig {
            /// The service: the events' source, the Kafka client id, and the default
            /// collection `{service_name}PersistedEvents`.
            pub service_name: String,
            /// The cluster (`kafka_servers` in hexkit), with any security settings.
            pub kafka: KafkaConfig,
            /// The MongoDB URL.
            pub db_connection_str: String,
            /// The database.
            pub db_name: String,
            /// The headers events go with: by default both CloudEvents' and hexkit's, so the
            /// hexkit subscribers a service had keep reading while its consumers move over.
            pub headers: HeaderProfile,
        }

        impl MongoKafkaConfig {
            /// `service_name` on the cluster of `kafka_servers`, storing in `db_name` at
            /// `db_connection_str`.
            pub fn new(
                service_name: impl Into<String>,
                kafka_servers: &[&str],
                db_connection_str: impl Into<String>,
                db_name: impl Into<String>,
            ) -> Self {
                let service_name = service_name.into();
                Self {
                    kafka: KafkaConfig::new(kafka_servers.join(",")).with_client_id(&service_name),
                    service_name,
                    db_connection_str: db_connection_str.into(),
                    db_name: db_name.into(),
                    headers: HeaderProfile::CloudEventsAndHexkit,
                }
            }
        }

        /// The persistent publisher of `config` in one call, as hexkit's
        /// `construct(config, compacted_topics, topics_not_stored, collection_name)`: connects
        /// to MongoDB and creates the store's indexes, checks and makes the Kafka producer, and
        /// refuses a topic both compacted and not stored. The collection is
        /// `{service_name}PersistedEvents` unless `collection_name` names one.
        pub async fn construct<C, N>(
            config: &MongoKafkaConfig,
            compacted_topics: C,
            topics_not_stored: N,
            collection_name: Option<&str>,
        ) -> Result<PersistentPublisher<MongoEventStore, KafkaPublisher>>
        where
            C: IntoIterator,
            C::Item: Into<String>,
            N: IntoIterator,
            N::Item: Into<String>,
        {
            let persistent = PersistentConfig::new()
                .compacted(compacted_topics)
                .unstored(topics_not_stored);
            persistent.check()?;
            let default_collection = format!("{}PersistedEvents", config.service_name);
            let collection = collection_name.unwrap_or(&default_collection);
            let publisher = KafkaPublisher::new(&config.kafka)?.with_headers(config.headers);
            let store =
                MongoEventStore::open(&config.db_connection_str, &config.db_name, collection)
                    .await?;
            Ok(PersistentPublisher::new(store, publisher, persistent)?
                .with_factory(EnvelopeFactory::new(&config.service_name)))
        }
    }
}

/// The relay that moves outbox rows to the broker.
pub mod relay {
    pub use tidings_relay::*;
}

/// In-memory outbox, inbox, unit of work and broker.
#[cfg(feature = "memory")]
#[cfg_attr(docsrs, doc(cfg(feature = "memory")))]
pub mod memory {
    pub use tidings_memory::*;

    /// The unit of work over [`MemoryBackend`].
    pub type MemoryUnitOfWork = crate::UnitOfWork<MemoryBackend>;
}

/// DynamoDB outbox, inbox and unit of work.
#[cfg(feature = "dynamodb")]
#[cfg_attr(docsrs, doc(cfg(feature = "dynamodb")))]
pub mod dynamodb {
    pub use tidings_dynamodb::*;

    /// The unit of work over [`DynamoBackend`].
    pub type DynamoUnitOfWork = crate::UnitOfWork<DynamoBackend>;
}

/// Kafka publisher, idempotent consumer and topic admin.
#[cfg(feature = "kafka")]
#[cfg_attr(docsrs, doc(cfg(feature = "kafka")))]
pub mod kafka {
    pub use tidings_kafka::*;
}

/// MongoDB outbox, inbox and unit of work.
#[cfg(feature = "mongodb")]
#[cfg_attr(docsrs, doc(cfg(feature = "mongodb")))]
pub mod mongodb {
    pub use tidings_mongodb::*;

    /// The unit of work over [`MongoBackend`].
    pub type MongoUnitOfWork = crate::UnitOfWork<MongoBackend>;
}

/// PostgreSQL outbox, inbox and unit of work.
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub mod postgres {
    pub use tidings_postgres::*;

    /// The unit of work over [`PostgresBackend`].
    pub type PostgresUnitOfWork = crate::UnitOfWork<PostgresBackend>;
}

/// SQLite outbox, inbox and unit of work.
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub mod sqlite {
    pub use tidings_sqlite::*;

    /// The unit of work over [`SqliteBackend`].
    pub type SqliteUnitOfWork = crate::UnitOfWork<SqliteBackend>;
}
