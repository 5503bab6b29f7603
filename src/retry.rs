//! How soon, and how often, work that failed for a passing reason is tried again: a growing
//! back-off with jitter (so processes that failed together do not return together) and a budget.

use std::time::Duration;

use rand::Rng;

/// The back-off schedule and the attempt budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait after the 1st, 2nd, … failure; the last step repeats. Never empty.
    steps: Vec<Duration>,
    /// Attempts an export gets in all (kills, outages and passing errors alike).
    pub max_attempts: i32,
}

/// Each wait is its step times a factor drawn from `1 ± JITTER`.
const JITTER: f64 = 0.2;

impl Default for RetryPolicy {
    /// 5 s, 20 s, 60 s, 3 min, then 5 min; six attempts span about ten minutes: a database
    /// restart, a failover or a store's outage of a few minutes.
    fn default() -> Self {
        RetryPolicy {
            steps: [5, 20, 60, 180, 300].map(Duration::from_secs).to_vec(),
            max_attempts: DEFAULT_MAX_ATTEMPTS,
        }
    }
}

/// The default attempt budget.
pub const DEFAULT_MAX_ATTEMPTS: i32 = 6;

impl RetryPolicy {
    /// A policy with these steps (at least one; every step under a day).
    pub fn new(steps: Vec<Duration>, max_attempts: i32) -> Result<RetryPolicy, String> {
        if steps.is_empty() {
            return Err("needs at least one step".into());
        }
        if steps.iter().any(|step| *step > Duration::from_secs(86_400)) {
            return Err("a step is longer than a day".into());
        }
        if !(1..=100).contains(&max_attempts) {
            return Err("the attempt budget must be between 1 and 100".into());
        }
        Ok(RetryPolicy { steps, max_attempts })
    }

    /// Reads `"5,20,60"` (seconds) as steps.
    pub fn parse_steps(text: &str) -> Result<Vec<Duration>, String> {
        text.split(',')
            .map(|step| {
                step.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|secs| secs.is_finite() && *secs >= 0.0)
                    .map(Duration::from_secs_f64)
                    .ok_or_else(|| format!("{step:?} is not a number of seconds"))
            })
            .collect()
    }

    /// The waits after the 1st, 2nd, … failure, before jitter.
    pub fn steps(&self) -> &[Duration] {
        &self.steps
    }

    /// The wait after failure number `failures` (1-based), before jitter.
    pub fn nominal(&self, failures: i32) -> Duration {
        let index = usize::try_from(failures.max(1) - 1).unwrap_or(0);
        self.steps[index.min(self.steps.len() - 1)]
    }

    /// The wait after failure number `failures`, with jitter.
    pub fn delay(&self, failures: i32) -> Duration {
        let factor = rand::thread_rng().gen_range(1.0 - JITTER..=1.0 + JITTER);
        self.nominal(failures).mul_f64(factor)
    }

    /// The shortest and longest wait `delay(failures)` can return.
    pub fn bounds(&self, failures: i32) -> (Duration, Duration) {
        let nominal = self.nominal(failures);
        (nominal.mul_f64(1.0 - JITTER), nominal.mul_f64(1.0 + JITTER))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_then_holds_at_its_last_step() {
        let policy = RetryPolicy::default();
        let secs: Vec<u64> = (1..=7).map(|n| policy.nominal(n).as_secs()).collect();
        assert_eq!(secs, [5, 20, 60, 180, 300, 300, 300]);
    }

    #[test]
    fn jitter_stays_within_a_fifth_and_varies() {
        let policy = RetryPolicy::default();
        let (low, high) = policy.bounds(2);
        let waits: Vec<Duration> = (0..200).map(|_| policy.delay(2)).collect();
        assert!(waits.iter().all(|wait| (low..=high).contains(wait)), "{waits:?}");
        let distinct: std::collections::HashSet<_> = waits.iter().collect();
        assert!(distinct.len() > 100, "jitter spreads the waits");
    }

    #[test]
    fn parses_steps_and_refuses_nonsense() {
        assert_eq!(
            RetryPolicy::parse_steps("1, 2.5,10").unwrap(),
            [1000, 2500, 10_000].map(Duration::from_millis)
        );
        assert!(RetryPolicy::parse_steps("5,soon").unwrap_err().contains("soon"));
        assert!(RetryPolicy::parse_steps("-1").is_err());
        assert!(RetryPolicy::new(vec![], 3).is_err());
        assert!(RetryPolicy::new(vec![Duration::from_secs(1)], 0).is_err());
    }
}
