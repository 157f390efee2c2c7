use rdkafka::message::{Headers, Message};
use tidings_core::cloudevents::Record;

/// The broker-neutral [`Record`] of a received Kafka message, ready for
/// [`cloudevents::decode`](tidings_core::cloudevents::decode).
pub fn to_record<M: Message>(message: &M) -> Record {
    let headers = message
        .headers()
        .map(|headers| {
            headers
                .iter()
                .map(|h| {
                    (
                        h.key.to_owned(),
                        h.value.map(<[u8]>::to_vec).unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Record {
        topic: message.topic().to_owned(),
        key: message.key().map(<[u8]>::to_vec),
        headers,
        value: message.payload().map(<[u8]>::to_vec).unwrap_or_default(),
    }
}
