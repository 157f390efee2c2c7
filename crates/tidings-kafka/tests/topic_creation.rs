//! Topics made before their first event (XZepr's start-up topic creation, done lazily), on a
//! real Kafka-protocol broker (Tansu, `KAFKA_BOOTSTRAP_SERVERS`).

use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use tidings_core::{Envelope, EventPublisher};
use tidings_kafka::{KafkaAdmin, KafkaConfig, KafkaPublisher, TopicCreation};
use tidings_testkit::{server_from_env, unique};

fn partitions_of(kafka: &KafkaConfig, topic: &str) -> usize {
    let client: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &kafka.bootstrap_servers)
        .create()
        .expect("a metadata client");
    let metadata = client
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("metadata");
    metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .map_or(0, |t| t.partitions().len())
}

#[tokio::test]
async fn a_topic_is_created_with_its_partitions_before_its_first_event() {
    let Some(servers) = server_from_env("KAFKA_BOOTSTRAP_SERVERS") else {
        return;
    };
    let kafka = KafkaConfig::new(servers);
    let topic = unique("created");
    let creation = TopicCreation::new(3, 1).expect("valid");
    let publisher = KafkaPublisher::new(&kafka)
        .expect("publisher")
        .with_topic_creation(&kafka, creation)
        .expect("admin client");
    let events: Vec<Envelope> = (0..4)
        .map(|n| {
            Envelope::new(
                &topic,
                format!("k{n}"),
                "made",
                "application/json",
                b"{}".to_vec(),
            )
        })
        .collect();
    for result in publisher.publish_batch(&events).await {
        result.expect("sent to a topic made for it");
    }
    assert_eq!(partitions_of(&kafka, &topic), 3);
    KafkaAdmin::new(&kafka)
        .expect("admin")
        .delete_topics(&[&topic])
        .await
        .expect("delete topic");
}

#[test]
fn a_topic_of_no_partitions_is_refused_naming_the_setting() {
    let error = TopicCreation::new(0, 1).expect_err("no partitions");
    assert!(
        error.to_string().contains("default_topic_partitions = 0"),
        "{error}"
    );
    let error = TopicCreation::new(1, 0).expect_err("no copies");
    assert!(
        error
            .to_string()
            .contains("default_topic_replication_factor"),
        "{error}"
    );
}

#[tokio::test]
async fn a_topic_that_cannot_be_made_fails_its_own_events_only() {
    let Some(servers) = server_from_env("KAFKA_BOOTSTRAP_SERVERS") else {
        return;
    };
    let kafka = KafkaConfig::new(servers);
    let good = unique("made");
    let publisher = KafkaPublisher::new(&kafka)
        .expect("publisher")
        .with_topic_creation(&kafka, TopicCreation::new(1, 1).expect("valid"))
        .expect("admin client");
    let event = |topic: &str, key: &str| {
        Envelope::new(topic, key, "made", "application/json", b"{}".to_vec())
    };
    // Built by hand, past staging's check: a name Kafka cannot take.
    let batch = [
        event(&good, "a"),
        event("no spaces allowed", "b"),
        event(&good, "b"),
    ];
    let results = publisher.publish_batch(&batch).await;
    assert!(results[0].is_ok(), "{:?}", results[0]);
    let refused = results[1].as_ref().expect_err("an invalid topic");
    assert!(
        refused.to_string().contains("no spaces allowed"),
        "{refused}"
    );
    assert!(
        results[2].is_err(),
        "a later event of the refused key must wait"
    );
    KafkaAdmin::new(&kafka)
        .expect("admin")
        .delete_topics(&[&good])
        .await
        .expect("delete topic");
}
