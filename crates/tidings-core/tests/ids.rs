//! Event ids (UUIDv7 by default, ULIDs from a factory set to them, as XZepr's consumers
//! expect, an id a message gives itself kept either way) and the default topic of events
//! that name none.

use tidings_core::{EnvelopeFactory, IdScheme, Message, MessageId};

#[derive(serde::Serialize)]
struct Deployed {
    id: Option<&'static str>,
}

impl Message for Deployed {
    fn message_type(&self) -> &str {
        "deployment.success"
    }
    fn aggregate_id(&self) -> String {
        "app".to_owned()
    }
    fn topic(&self) -> Option<&str> {
        Some("deployments")
    }
    fn message_id(&self) -> MessageId {
        self.id
            .map_or_else(MessageId::new, |id| MessageId::from(id.to_owned()))
    }
}

fn is_ulid(id: &str) -> bool {
    id.len() == 26 && ulid::Ulid::from_string(id).is_ok()
}

#[test]
fn a_factory_set_to_ulids_makes_ulids_and_keeps_a_message_s_own_id() {
    let ulids = EnvelopeFactory::new("xzepr").with_ids(IdScheme::Ulid);
    let made = ulids
        .envelope(&Deployed { id: None }, None)
        .expect("envelope");
    assert!(is_ulid(made.id.as_str()), "{}", made.id);
    let own = ulids
        .envelope(
            &Deployed {
                id: Some("given-1"),
            },
            None,
        )
        .expect("envelope");
    assert_eq!(own.id.as_str(), "given-1");
    // The scheme is the factory's while it builds, not the thread's afterwards.
    assert!(uuid::Uuid::parse_str(MessageId::new().as_str()).is_ok());
    let ordered: Vec<String> = (0..200)
        .map(|_| {
            let made = ulids.envelope(&Deployed { id: None }, None);
            made.expect("envelope").id.to_string()
        })
        .collect();
    assert!(
        ordered.windows(2).all(|w| w[0] < w[1]),
        "ULIDs out of the order they were made"
    );

    let default = EnvelopeFactory::new("svc").envelope(&Deployed { id: None }, None);
    let id = default.expect("envelope").id;
    let uuid = uuid::Uuid::parse_str(id.as_str()).expect("a UUID");
    assert_eq!(uuid.get_version_num(), 7);
    assert!(is_ulid(MessageId::new_in(IdScheme::Ulid).as_str()));
}

#[derive(serde::Serialize)]
struct Unrouted;

impl Message for Unrouted {
    fn message_type(&self) -> &str {
        "unrouted"
    }
    fn aggregate_id(&self) -> String {
        "a".to_owned()
    }
}

#[test]
fn an_event_naming_no_topic_goes_to_the_default_topic_or_is_refused() {
    let refused = EnvelopeFactory::new("svc").envelope(&Unrouted, None);
    assert!(matches!(refused, Err(tidings_core::Error::NoTopic(_))));
    let router = |t: &str| (t == "other").then(|| "routed".to_owned());
    let factory = EnvelopeFactory::new("svc")
        .with_router(router)
        .with_default_topic("xzepr.dev.events");
    let placed = factory
        .envelope(&Unrouted, None)
        .expect("the default topic");
    assert_eq!(placed.topic, "xzepr.dev.events");
    let named = factory
        .envelope(&Deployed { id: None }, None)
        .expect("its own");
    assert_eq!(named.topic, "deployments");
    let routed = factory.envelope(&Other, None).expect("the router's");
    assert_eq!(
        routed.topic, "routed",
        "the router comes before the default topic"
    );
}

#[derive(serde::Serialize)]
struct Other;

impl Message for Other {
    fn message_type(&self) -> &str {
        "other"
    }
    fn aggregate_id(&self) -> String {
        "a".to_owned()
    }
}
