//! `#[derive(Message)]` as a service uses it: every option on a struct, an enum with a type per
//! variant, and the trait's defaults where an option is left out.

use serde::Serialize;
use tidings::{Message, MessageId};

#[derive(Serialize, Message)]
#[tidings(
    type = "user.created",
    topic = "users",
    aggregate = user_id,
    key = tenant,
    subject = email,
    id = request_id
)]
struct UserCreated {
    user_id: u64,
    tenant: String,
    email: String,
    request_id: String,
}

#[test]
fn a_struct_takes_every_option_from_its_fields() {
    let event = UserCreated {
        user_id: 42,
        tenant: "acme".into(),
        email: "ada@example.com".into(),
        request_id: "req-1".into(),
    };
    assert_eq!(event.message_type(), "user.created");
    assert_eq!(event.topic(), Some("users"));
    assert_eq!(event.aggregate_id(), "42");
    assert_eq!(event.partition_key(), "acme");
    assert_eq!(event.subject().as_deref(), Some("ada@example.com"));
    assert_eq!(event.message_id(), MessageId::from("req-1"));
}

#[derive(Serialize, Message)]
#[tidings(aggregate = 0)]
struct Renamed(String);

#[test]
fn left_out_options_keep_the_defaults_of_the_trait() {
    let event = Renamed("u-7".into());
    assert_eq!(event.message_type(), "Renamed", "the type's name");
    assert_eq!(event.aggregate_id(), "u-7");
    assert_eq!(event.partition_key(), "u-7", "the aggregate id");
    assert_eq!(event.topic(), None, "the router's choice");
    assert_eq!(event.subject(), None);
    assert_ne!(
        event.message_id(),
        event.message_id(),
        "a new UUIDv7 each time"
    );
}

#[derive(Serialize, Message)]
#[tidings(aggregate = account, topic = "accounts")]
enum AccountEvent {
    #[tidings(type = "account.opened", subject = owner)]
    Opened {
        account: String,
        owner: String,
    },
    #[tidings(type = "account.moved", key = to, topic = "transfers")]
    Moved {
        account: String,
        to: String,
    },
    Closed {
        account: String,
    },
    #[tidings(aggregate = 0, id = 1)]
    Merged(String, uuid::Uuid),
}

#[test]
fn an_enum_is_one_event_type_per_variant() {
    let opened = AccountEvent::Opened {
        account: "a-1".into(),
        owner: "ada".into(),
    };
    assert_eq!(
        (opened.message_type(), opened.topic(), opened.aggregate_id()),
        ("account.opened", Some("accounts"), "a-1".to_owned())
    );
    assert_eq!(opened.subject().as_deref(), Some("ada"));
    assert_eq!(opened.partition_key(), "a-1");

    let moved = AccountEvent::Moved {
        account: "a-1".into(),
        to: "a-2".into(),
    };
    assert_eq!(moved.message_type(), "account.moved");
    assert_eq!(moved.topic(), Some("transfers"), "the variant's topic wins");
    assert_eq!(moved.partition_key(), "a-2");
    assert_eq!(moved.subject(), None);

    let closed = AccountEvent::Closed {
        account: "a-1".into(),
    };
    assert_eq!(closed.message_type(), "Closed");
    assert_eq!(closed.topic(), Some("accounts"));

    let id = uuid::Uuid::now_v7();
    let merged = AccountEvent::Merged("a-3".into(), id);
    assert_eq!(merged.aggregate_id(), "a-3");
    assert_eq!(merged.message_id(), MessageId::from(id));
}

#[test]
fn a_derived_event_stages_like_a_hand_written_one() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let backend = tidings::memory::MemoryBackend::new();
        let uow = tidings::memory::MemoryUnitOfWork::new(backend.clone());
        let envelope = uow
            .run(async |work| {
                work.stage(&AccountEvent::Closed {
                    account: "a-9".into(),
                })?;
                Ok::<_, tidings::Error>(work.staged()[0].clone())
            })
            .await
            .expect("stage");
        assert_eq!(
            (envelope.message_type.as_str(), envelope.key.as_str()),
            ("Closed", "a-9")
        );
        assert_eq!(envelope.topic, "accounts");
        assert_eq!(envelope.payload, br#"{"Closed":{"account":"a-9"}}"#);
    });
}
