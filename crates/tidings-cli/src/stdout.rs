//! The `stdout` sink: each event one line, a structured CloudEvent (the JSON event format),
//! for piping and debugging. It keeps the publisher contract: order per key, a failed event
//! holds back the rest of its key, invalid topics and records over the size limit refused.

use std::{
    collections::HashSet,
    io::Write,
    sync::{Arc, Mutex, PoisonError},
};

use tidings::{
    Envelope, Error, EventPublisher, PublishOutcome, Result,
    cloudevents::{self, Record},
    memory::DEFAULT_MAX_MESSAGE_BYTES,
};

/// Writes events to `W` (standard output by default), one structured CloudEvent per line.
pub struct StdoutPublisher<W> {
    out: Arc<Mutex<W>>,
    max_message_bytes: usize,
}

impl<W> Clone for StdoutPublisher<W> {
    fn clone(&self) -> Self {
        Self {
            out: Arc::clone(&self.out),
            max_message_bytes: self.max_message_bytes,
        }
    }
}

impl StdoutPublisher<std::io::Stdout> {
    /// A sink writing to standard output.
    pub fn stdout() -> Self {
        Self::new(std::io::stdout())
    }
}

impl<W: Write + Send> StdoutPublisher<W> {
    /// A sink writing to `out`, refusing records over Kafka's default message size.
    pub fn new(out: W) -> Self {
        Self {
            out: Arc::new(Mutex::new(out)),
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        }
    }

    /// Refuses records larger than `bytes`.
    pub fn with_max_message_bytes(mut self, bytes: usize) -> Self {
        self.max_message_bytes = bytes;
        self
    }

    /// The largest record it takes.
    pub fn max_message_bytes(&self) -> usize {
        self.max_message_bytes
    }

    /// The line of `envelope`, if the sink takes it.
    fn line(&self, envelope: &Envelope) -> Result<Record> {
        tidings::validate_topic(&envelope.topic)?;
        let record = cloudevents::encode_structured(envelope)?;
        let (size, limit) = (record.value.len(), self.max_message_bytes);
        if size > limit {
            return Err(Error::PayloadTooLarge { size, limit });
        }
        Ok(record)
    }

    fn write(&self, lines: &[Record]) -> std::io::Result<()> {
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        for line in lines {
            out.write_all(&line.value)?;
            out.write_all(b"\n")?;
        }
        out.flush()
    }
}

impl<W: Write + Send> EventPublisher for StdoutPublisher<W> {
    async fn publish_batch(&self, envelopes: &[Envelope]) -> PublishOutcome {
        let mut failed_keys: HashSet<&str> = HashSet::new();
        let mut lines = Vec::with_capacity(envelopes.len());
        let mut outcome: Vec<Result<()>> = Vec::with_capacity(envelopes.len());
        for envelope in envelopes {
            let line = if failed_keys.contains(envelope.key.as_str()) {
                Err(Error::Publish {
                    topic: envelope.topic.clone(),
                    source: "not sent: an earlier event of the same key failed".into(),
                })
            } else {
                self.line(envelope)
            };
            match line {
                Ok(line) => {
                    lines.push(line);
                    outcome.push(Ok(()));
                }
                Err(error) => {
                    failed_keys.insert(envelope.key.as_str());
                    outcome.push(Err(error));
                }
            }
        }
        if let Err(error) = self.write(&lines) {
            let message = error.to_string();
            for (result, envelope) in outcome.iter_mut().zip(envelopes) {
                if result.is_ok() {
                    *result = Err(Error::Publish {
                        topic: envelope.topic.clone(),
                        source: message.clone().into(),
                    });
                }
            }
        }
        outcome
    }
}

/// The events of `output` (lines a [`StdoutPublisher`] wrote), read as if from `topic`.
pub fn read_lines(output: &[u8], topic: &str) -> Result<Vec<Envelope>> {
    output
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| {
            cloudevents::decode(&Record {
                topic: topic.to_owned(),
                key: None,
                headers: vec![(
                    "content-type".to_owned(),
                    b"application/cloudevents+json".to_vec(),
                )],
                value: line.to_vec(),
            })
        })
        .collect()
}
