//! The correlation context: which conversation the current work belongs to and what caused it.
//!
//! A unit of work that handles an incoming event sets it from that event, so every event the
//! handler stages carries the same correlation id, the incoming id as causation id and the same
//! trace parent. Producers (an HTTP handler, say) can set it with [`scope`].

use std::future::Future;

use crate::Envelope;

/// Correlation attributes inherited by the events staged while it is in force.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Context {
    /// Id shared by every event of one business conversation.
    pub correlation_id: Option<String>,
    /// Id of the event being handled.
    pub causation_id: Option<String>,
    /// W3C `traceparent` of the operation.
    pub traceparent: Option<String>,
}

impl Context {
    /// The context for handling `incoming`: its correlation id (or its own id when it has none),
    /// its id as causation, its trace parent.
    pub fn caused_by(incoming: &Envelope) -> Self {
        Self {
            correlation_id: Some(
                incoming
                    .correlation_id
                    .clone()
                    .unwrap_or_else(|| incoming.id.to_string()),
            ),
            causation_id: Some(incoming.id.to_string()),
            traceparent: incoming.traceparent.clone(),
        }
    }

    /// A context that only sets the correlation id.
    pub fn correlated(correlation_id: impl Into<String>) -> Self {
        Self {
            correlation_id: Some(correlation_id.into()),
            ..Self::default()
        }
    }
}

tokio::task_local! {
    static CURRENT: Context;
}

/// Runs `future` with `context` as the current context.
pub async fn scope<F: Future>(context: Context, future: F) -> F::Output {
    CURRENT.scope(context, future).await
}

/// The context set by the innermost enclosing [`scope`], if any.
pub fn current() -> Option<Context> {
    CURRENT.try_with(Clone::clone).ok()
}
