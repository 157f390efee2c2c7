//! The example runs under the test command: every expected event, and no other, comes out
//! through the relay, with the arguments the attributes include and without the passwords.

use serde_json::json;
use tidings::events::EventConfig;

#[tokio::test]
async fn the_user_service_publishes_what_it_did_and_nothing_it_rolled_back() {
    let config = EventConfig::new("user-service").with_topic_prefix("marty");
    let report = user_service::run(&config).await.expect("the scenario runs");
    assert_eq!(report.problems(), Vec::<String>::new(), "{report}");
    assert_eq!(report.delivered.len(), 14, "{report}");

    let created: Vec<_> = report.on("marty.user-service.user.user_created").collect();
    assert_eq!(created[0].key, "ada");
    assert_eq!(
        created[0].body["event_data"],
        json!({"id": "ada", "email": "ada@example.com"})
    );
    let audit = report
        .on("marty.audit.events")
        .next()
        .expect("an audit event");
    assert_eq!(
        audit.body["operation_details"],
        json!({"user_id": "ada", "email": "ada@example.com"}),
        "the password is left out"
    );
    let failed: Vec<_> = report
        .on("marty.auth.events")
        .filter(|d| d.message_type == "login_failed")
        .collect();
    assert_eq!(
        failed[0].body["data"],
        json!({"error": "wrong password for user bob", "args": {"user_id": "bob"}})
    );
    assert!(
        report.refused.iter().any(|r| r == "user ada exists"),
        "{:?}",
        report.refused
    );
}
