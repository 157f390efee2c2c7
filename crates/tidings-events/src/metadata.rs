//! What every typed event says about where it comes from.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The service, the request and the user behind an event. The publisher fills in what the
/// caller leaves out: the service's name and version from its configuration, the correlation
/// id from the current context (the incoming event or request), the trace id from the current
/// span when tracing is on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EventMetadata {
    /// The service that published the event.
    pub service_name: String,
    /// Its version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_version: Option<String>,
    /// The conversation the event belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// The user on whose behalf it happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The W3C trace id of the operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// When it happened; now when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<DateTime<Utc>>,
}

impl EventMetadata {
    /// Metadata of `service_name`, the rest left to the publisher.
    pub fn new(service_name: impl Into<String>) -> Self {
        Self {
            service_name: service_name.into(),
            ..Self::default()
        }
    }

    /// With the correlation id of the request (`X-Correlation-ID`, say).
    pub fn with_correlation_id(mut self, id: impl Into<String>) -> Self {
        self.correlation_id = Some(id.into());
        self
    }

    /// With the user on whose behalf it happened.
    pub fn with_user_id(mut self, id: impl Into<String>) -> Self {
        self.user_id = Some(id.into());
        self
    }

    /// With the trace id of the operation.
    pub fn with_trace_id(mut self, id: impl Into<String>) -> Self {
        self.trace_id = Some(id.into());
        self
    }

    /// With the service's version.
    pub fn with_service_version(mut self, version: impl Into<String>) -> Self {
        self.service_version = Some(version.into());
        self
    }

    /// `self`, with what it leaves out taken from `defaults`.
    pub fn or(self, defaults: &Self) -> Self {
        let pick = |mine: Option<String>, theirs: &Option<String>| mine.or_else(|| theirs.clone());
        Self {
            service_name: if self.service_name.is_empty() {
                defaults.service_name.clone()
            } else {
                self.service_name
            },
            service_version: pick(self.service_version, &defaults.service_version),
            correlation_id: pick(self.correlation_id, &defaults.correlation_id),
            user_id: pick(self.user_id, &defaults.user_id),
            trace_id: pick(self.trace_id, &defaults.trace_id),
            timestamp: self.timestamp.or(defaults.timestamp),
        }
    }
}

/// The trace id (32 hex digits) of a W3C `traceparent` (`00-<trace id>-<span id>-<flags>`).
pub fn trace_id_of(traceparent: &str) -> Option<&str> {
    let trace_id = traceparent.split('-').nth(1)?;
    (trace_id.len() == 32 && trace_id.bytes().all(|b| b.is_ascii_hexdigit())).then_some(trace_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_caller_gives_wins_and_the_rest_is_filled_in() {
        let defaults = EventMetadata::new("users")
            .with_service_version("1.2.0")
            .with_correlation_id("from-context");
        let given = EventMetadata::default().with_correlation_id("from-request");
        let merged = given.or(&defaults);
        assert_eq!(merged.service_name, "users");
        assert_eq!(merged.service_version.as_deref(), Some("1.2.0"));
        assert_eq!(merged.correlation_id.as_deref(), Some("from-request"));
        assert_eq!(merged.user_id, None);
    }

    #[test]
    fn the_trace_id_is_read_from_a_traceparent() {
        let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(
            trace_id_of(parent),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(trace_id_of("garbage"), None);
    }
}
