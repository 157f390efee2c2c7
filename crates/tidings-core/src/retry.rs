use std::time::Duration;

/// When a failed delivery is tried again, and when it is given up and dead-lettered.
///
/// The delay after the n-th failure is `initial_delay * multiplier^(n-1)`, capped at
/// `max_delay`, with up to `jitter` of it taken off at random so that many failing events do not
/// come back at the same instant.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts before an event is moved to dead letters (at least 1).
    pub max_attempts: u32,
    /// Delay after the first failure.
    pub initial_delay: Duration,
    /// Longest delay.
    pub max_delay: Duration,
    /// Growth of the delay per failure.
    pub multiplier: f64,
    /// Fraction (0.0 to 1.0) of each delay that is randomised away.
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            initial_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(300),
            multiplier: 2.0,
            jitter: 0.2,
        }
    }
}

impl RetryPolicy {
    /// Sets the attempts before dead-lettering.
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Sets the first and the longest delay.
    pub fn with_delays(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_delay = initial;
        self.max_delay = max.max(initial);
        self
    }

    /// Sets the random share of each delay (clamped to 0.0..=1.0).
    pub fn with_jitter(mut self, jitter: f64) -> Self {
        self.jitter = jitter.clamp(0.0, 1.0);
        self
    }

    /// Whether an event that has now failed `attempts` times is to be dead-lettered.
    pub fn is_exhausted(&self, attempts: u32) -> bool {
        attempts >= self.max_attempts
    }

    /// The delay before the next attempt of an event that has failed `attempts` times, with
    /// `random` in 0.0..1.0 choosing the jitter.
    pub fn delay(&self, attempts: u32, random: f64) -> Duration {
        let exponent = attempts.saturating_sub(1).min(64) as i32;
        let full = self.initial_delay.as_secs_f64() * self.multiplier.powi(exponent);
        let capped = full.min(self.max_delay.as_secs_f64());
        let jittered = capped * (1.0 - self.jitter * random.clamp(0.0, 1.0));
        Duration::from_secs_f64(jittered.max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_grows_exponentially_up_to_the_cap() {
        let policy = RetryPolicy::default()
            .with_delays(Duration::from_millis(100), Duration::from_secs(1))
            .with_jitter(0.0);
        let delays: Vec<u128> = (1..=6).map(|n| policy.delay(n, 0.5).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1000, 1000]);
    }

    #[test]
    fn jitter_only_shortens_the_delay_by_its_share() {
        let policy = RetryPolicy::default()
            .with_delays(Duration::from_secs(1), Duration::from_secs(1))
            .with_jitter(0.25);
        assert_eq!(policy.delay(1, 0.0), Duration::from_secs(1));
        assert_eq!(policy.delay(1, 1.0), Duration::from_millis(750));
    }

    #[test]
    fn exhausted_after_max_attempts() {
        let policy = RetryPolicy::default().with_max_attempts(3);
        assert!(!policy.is_exhausted(2));
        assert!(policy.is_exhausted(3));
    }
}
