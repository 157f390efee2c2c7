//! The persistent publisher in one call, as hexkit's `construct(config, compacted_topics,
//! topics_not_stored, collection_name)`, on SecantusDB (MongoDB protocol) and Tansu (Kafka):
//! the copy lands in `{service_name}PersistedEvents` and the event on the topic.

use tidings::{
    EventStore, StoredEventQuery, cloudevents,
    kafka::KafkaAdmin,
    persistent::{EventParts, MongoKafkaConfig, construct},
};
use tidings_testkit::{kafka::read_topic, server_from_env, unique, unique_ident};

#[tokio::test]
async fn construct_connects_both_and_stores_in_the_service_collection() {
    let (Some(brokers), Some(mongodb)) = (
        server_from_env("KAFKA_BOOTSTRAP_SERVERS"),
        server_from_env("MONGODB_URL"),
    ) else {
        return;
    };
    let database = unique_ident("construct");
    let config = MongoKafkaConfig::new("abc", &[brokers.as_str()], &mongodb, &database);
    let topic = unique("users");
    let admin = KafkaAdmin::new(&config.kafka).expect("admin");
    admin.ensure_topic(&topic, 1).await.expect("create topic");
    let both = construct(&config, [topic.clone()], [topic.clone()], None).await;
    let error = both.expect_err("a topic both compacted and not stored");
    assert!(
        error.to_string().contains("both compacted and not stored"),
        "{error}"
    );

    let publisher = construct(&config, [topic.clone()], Vec::<String>::new(), None)
        .await
        .expect("constructed");
    assert_eq!(publisher.store().collection(), "abcPersistedEvents");
    let parts = EventParts::new(
        serde_json::json!({"name": "Ada"}),
        "user.registered",
        "u-1",
        &topic,
    );
    let id = publisher.publish_parts(&parts).await.expect("published");

    let record = &read_topic(&config.kafka, &topic, 1, 1).await[0];
    let sent = cloudevents::decode(record).expect("a CloudEvent");
    assert_eq!((&sent.id, sent.source.as_str()), (&id, "abc"));
    let stored = publisher
        .store()
        .page(&StoredEventQuery::all(10))
        .await
        .expect("stored copies");
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0].storage_id,
        format!("{topic}:u-1"),
        "compacted: <topic>:<key>"
    );
    assert!(stored[0].published);
    admin.delete_topics(&[&topic]).await.expect("delete topic");
    let client = mongodb::Client::with_uri_str(&mongodb)
        .await
        .expect("client");
    client
        .database(&database)
        .drop()
        .await
        .expect("drop database");
}
