//! Reading a Prometheus text-format scrape (what the daemon's `/metrics` serves, what
//! `PrometheusHandle::render` returns) in tests.

/// The sum of the samples of `name` in `scrape`: every label set of a plain name
/// (`outbox_queue_depth`), or the one sample of a name with labels
/// (`outbox_relay_errors_total{kind="event"}`). 0 when there is none.
pub fn series(scrape: &str, name: &str) -> f64 {
    scrape
        .lines()
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::series;

    const SCRAPE: &str = "# TYPE outbox_relay_errors_total counter\n\
        outbox_relay_errors_total{kind=\"event\"} 2\n\
        outbox_relay_errors_total{kind=\"batch\"} 1\n\
        outbox_relay_errors_total_other 7\n\
        outbox_events_published_total 3\n";

    #[test]
    fn sums_label_sets_and_picks_one() {
        assert_eq!(series(SCRAPE, "outbox_relay_errors_total"), 3.0);
        assert_eq!(
            series(SCRAPE, "outbox_relay_errors_total{kind=\"event\"}"),
            2.0
        );
        assert_eq!(series(SCRAPE, "outbox_events_published_total"), 3.0);
        assert_eq!(series(SCRAPE, "outbox_events_added_total"), 0.0);
    }
}
