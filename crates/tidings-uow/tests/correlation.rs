//! The correlation id of staged events: inherited from the caller's context, overridden by an
//! event that names its own, and — with no context — one new id shared by the events of one
//! unit of work, another for the next.

use tidings_core::{Message, context};
use tidings_memory::MemoryBackend;
use tidings_uow::UnitOfWork;

#[derive(serde::Serialize)]
struct Step {
    key: &'static str,
    conversation: Option<&'static str>,
}

impl Message for Step {
    fn message_type(&self) -> &str {
        "step"
    }
    fn aggregate_id(&self) -> String {
        self.key.to_owned()
    }
    fn topic(&self) -> Option<&str> {
        Some("steps")
    }
    fn correlation_id(&self) -> Option<String> {
        self.conversation.map(str::to_owned)
    }
}

/// The correlation ids of the events one unit of work stages: one of its own, then `given`.
async fn staged(uow: &UnitOfWork<MemoryBackend>, given: Option<&'static str>) -> Vec<String> {
    uow.run(async |work| {
        for conversation in [None, given] {
            work.stage(&Step {
                key: "k",
                conversation,
            })?;
        }
        Ok::<_, tidings_core::Error>(
            work.staged()
                .iter()
                .map(|e| e.correlation_id.clone().expect("a correlation id"))
                .collect(),
        )
    })
    .await
    .expect("unit of work")
}

#[tokio::test]
async fn staged_events_inherit_override_or_share_a_new_correlation_id() {
    let uow = UnitOfWork::new(MemoryBackend::new());
    let inherited = context::scope(
        context::Context::correlated("request-7"),
        staged(&uow, Some("its-own")),
    )
    .await;
    assert_eq!(inherited, ["request-7", "its-own"]);

    let first = staged(&uow, None).await;
    let second = staged(&uow, None).await;
    assert_eq!(first[0], first[1], "one unit of work, one conversation");
    assert_eq!(second[0], second[1]);
    assert_ne!(
        first[0], second[0],
        "each unit of work a conversation of its own"
    );
    assert_ne!(first[0], "request-7");
}
