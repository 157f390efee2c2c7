//! The drain figures: the two ceilings (raw producer, SQL-only) and the relay's drain to Kafka,
//! each with published rows kept and with them deleted, in one run so they compare.

use serde_json::{Map, Value, json};
use tidings_kafka::KafkaConfig;
use tidings_postgres::PublishedRows;

use crate::{Row, measure};

/// The lower ceiling a relay is compared with, per settling mode.
#[derive(Clone, Copy)]
pub(crate) struct Ceilings {
    keeping: f64,
    deleting: f64,
}

impl Ceilings {
    /// No ceilings measured: ratios print as NaN.
    pub(crate) fn unmeasured() -> Self {
        Self {
            keeping: f64::NAN,
            deleting: f64::NAN,
        }
    }

    fn of(self, published: PublishedRows) -> f64 {
        match published {
            PublishedRows::Delete => self.deleting,
            _ => self.keeping,
        }
    }
}

fn mode_name(published: PublishedRows) -> &'static str {
    match published {
        PublishedRows::Delete => "deleted",
        _ => "kept",
    }
}

/// The raw producer ceiling and the SQL-only ceiling in both modes.
pub(crate) async fn ceilings(
    url: &str,
    kafka: &KafkaConfig,
    backlog: u64,
    rows: &mut Vec<Row>,
    results: &mut Map<String, Value>,
) -> Ceilings {
    eprintln!("bench: raw producer ceiling…");
    let raw = measure::raw_producer(kafka, backlog).await;
    eprintln!("bench: SQL-only drain ceiling, rows kept…");
    let keeping = measure::sql_drain(url, backlog, PublishedRows::Keep).await;
    eprintln!("bench: SQL-only drain ceiling, rows deleted…");
    let deleting = measure::sql_drain(url, backlog, PublishedRows::Delete).await;
    rows.push(Row::info(
        "raw producer ceiling (events/s)",
        format!("{raw:.0}"),
    ));
    rows.push(Row::info(
        "SQL-only drain ceiling, rows kept (events/s)",
        format!("{keeping:.0}"),
    ));
    rows.push(Row {
        name: "SQL-only drain ceiling, rows deleted (events/s)",
        ours: format!("{deleting:.0} ({:.2}x kept)", deleting / keeping),
        reference: "-",
        target: ">= 60,000",
        met: Some(deleting >= 60_000.0),
    });
    results.insert(
        "ceilings".into(),
        json!({
            "raw_producer_events_per_s": raw,
            "sql_drain_events_per_s": keeping,
            "sql_drain_deleting_events_per_s": deleting,
        }),
    );
    Ceilings {
        keeping: raw.min(keeping),
        deleting: raw.min(deleting),
    }
}

/// The relay draining the backlog to Kafka, verified on the topic, in both modes.
pub(crate) async fn relay(
    url: &str,
    kafka: &KafkaConfig,
    (backlog, workers): (u64, usize),
    ceilings: Ceilings,
    rows: &mut Vec<Row>,
    results: &mut Map<String, Value>,
) {
    for (published, key) in [
        (PublishedRows::Keep, "relay_drain"),
        (PublishedRows::Delete, "relay_drain_deleting"),
    ] {
        let mode = mode_name(published);
        eprintln!("bench: relay drain to Kafka, rows {mode}, verified on the topic…");
        let (relay, v) = measure::relay_drain(url, kafka, backlog, workers, published).await;
        let ratio = relay / ceilings.of(published);
        rows.push(Row {
            name: match published {
                PublishedRows::Delete => "relay drain to Kafka, rows deleted (events/s)",
                _ => "relay drain to Kafka, rows kept (events/s)",
            },
            ours: format!("{relay:.0} ({ratio:.2}x ceiling)"),
            reference: "5,300",
            target: ">= 50,000 and >= 0.5x ceiling",
            met: Some(relay >= 50_000.0 && (ratio.is_nan() || ratio >= 0.5)),
        });
        rows.push(Row {
            name: "  lost / duplicated / out of order",
            ours: format!("{} / {} / {}", v.lost, v.duplicates, v.out_of_order),
            reference: "breaks order",
            target: "0 lost, 0 out of order",
            met: Some(v.lost == 0 && v.out_of_order == 0),
        });
        results.insert(
            key.into(),
            json!({
                "published_rows": mode, "events_per_s": relay, "ratio_to_lower_ceiling": ratio,
                "lost": v.lost, "duplicates": v.duplicates, "out_of_order": v.out_of_order,
                "records_on_topic": v.records,
            }),
        );
    }
}
