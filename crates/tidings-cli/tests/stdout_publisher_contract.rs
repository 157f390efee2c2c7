//! The publisher contract of `tidings-testkit` on the `stdout` sink, writing into a buffer.

use std::{
    process::ExitCode,
    sync::{Arc, Mutex},
};

use tidings::Envelope;
use tidings_cli::stdout::{StdoutPublisher, read_lines};
use tidings_testkit::{PublisherUnderTest, Suite, unique};

/// A writer the test can read back.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Sink {
    buffer: Buffer,
    publisher: StdoutPublisher<Buffer>,
}

impl PublisherUnderTest for Sink {
    type Publisher = StdoutPublisher<Buffer>;

    fn publisher(&self) -> &StdoutPublisher<Buffer> {
        &self.publisher
    }

    async fn topic(&self, _partitions: i32) -> String {
        unique("stdout")
    }

    async fn read(&self, topic: &str, count: usize) -> Vec<Envelope> {
        let written = self.buffer.0.lock().expect("buffer").clone();
        let mut events = read_lines(&written, topic).expect("every line a CloudEvent");
        assert!(events.len() >= count, "{} lines, not {count}", events.len());
        events.truncate(count);
        events
    }

    fn max_payload_bytes(&self) -> usize {
        self.publisher.max_message_bytes()
    }
}

fn main() -> ExitCode {
    Suite::new()
        .publisher(|| async {
            let buffer = Buffer::default();
            let publisher = StdoutPublisher::new(buffer.clone()).with_max_message_bytes(10_000);
            Sink { buffer, publisher }
        })
        .run()
}
