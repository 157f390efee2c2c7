//! What reached a topic, against what had to: every record of the topic read back and counted
//! per key as lost, duplicated or out of order.

use std::{
    collections::{BTreeSet, HashMap},
    time::Duration,
};

use rdkafka::{
    Offset, TopicPartitionList,
    consumer::{Consumer, StreamConsumer},
};
use tidings::{cloudevents, cloudevents::Record, kafka::KafkaConfig};

use crate::{Step, unique};

/// Longest wait for the next record while some that must come have not.
const READ_LIMIT: Duration = Duration::from_secs(30);

/// The counts of one audit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Events that had to arrive.
    pub expected: usize,
    /// Records that arrived.
    pub delivered: usize,
    /// Events that never arrived.
    pub lost: usize,
    /// Records repeating an event that had arrived already (at-least-once redelivery).
    pub duplicates: usize,
    /// First arrivals that came after a later event of their key.
    pub out_of_order: usize,
}

impl Tally {
    /// Audits `records` (steps, in topic order) against `expected` steps per key. Order is
    /// judged on first arrivals: a redelivered run of a key repeats what came before it, which
    /// a consumer's inbox skips, and is counted as duplicates, not disorder.
    pub fn of(records: &[Record], expected: &HashMap<String, BTreeSet<u32>>) -> Self {
        let mut seen: HashMap<String, BTreeSet<u32>> = HashMap::new();
        let mut last: HashMap<String, u32> = HashMap::new();
        let mut tally = Tally {
            expected: expected.values().map(BTreeSet::len).sum(),
            delivered: records.len(),
            ..Tally::default()
        };
        for record in records {
            let step: Step = cloudevents::decode(record)
                .expect("a CloudEvent")
                .decode_json()
                .expect("a step");
            if !seen.entry(step.account.clone()).or_default().insert(step.n) {
                tally.duplicates += 1;
                continue;
            }
            if last
                .get(&step.account)
                .is_some_and(|&previous| step.n < previous)
            {
                tally.out_of_order += 1;
            }
            last.insert(step.account, step.n);
        }
        tally.lost = expected
            .iter()
            .map(|(key, values)| {
                let arrived = seen.get(key);
                values
                    .iter()
                    .filter(|n| !arrived.is_some_and(|a| a.contains(n)))
                    .count()
            })
            .sum();
        tally
    }
}

/// Steps `0..per_key` of keys `acct-0 … acct-{keys-1}`, as [`Pipeline::produce`] stages them.
///
/// [`Pipeline::produce`]: crate::Pipeline::produce
pub(super) fn steps(keys: u32, per_key: u32) -> HashMap<String, BTreeSet<u32>> {
    (0..keys)
        .map(|k| (format!("acct-{k}"), (0..per_key).collect()))
        .collect()
}

/// How long the topic must stay quiet before the reader takes it as read to the end.
const QUIET: Duration = Duration::from_secs(3);

/// Every record on `topic`: at least `at_least` of them (the distinct events that must be
/// there), then whatever else comes until the topic has been quiet for [`QUIET`]. (Tansu's high
/// watermarks can stop short of a partition's last batch, so they cannot say where the end is.)
pub(super) async fn read_everything(
    kafka: &KafkaConfig,
    topic: &str,
    partitions: i32,
    at_least: usize,
) -> Vec<Record> {
    let consumer: StreamConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &kafka.bootstrap_servers)
        .set("group.id", unique("audit"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("a reader");
    let mut assignment = TopicPartitionList::new();
    for partition in 0..partitions {
        assignment
            .add_partition_offset(topic, partition, Offset::Beginning)
            .expect("a partition");
    }
    consumer.assign(&assignment).expect("assign");
    let mut records = Vec::new();
    let started = std::time::Instant::now();
    loop {
        let limit = if records.len() < at_least {
            READ_LIMIT
        } else {
            QUIET
        };
        match tokio::time::timeout(limit, consumer.recv()).await {
            Ok(message) => records.push(tidings::kafka::to_record(&message.expect("a record"))),
            Err(_) if records.len() >= at_least => return records,
            Err(_) => {
                eprintln!(
                    "only {} of at least {at_least} records on {topic} after {:?}",
                    records.len(),
                    started.elapsed()
                );
                return records;
            }
        }
    }
}
