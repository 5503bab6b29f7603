//! The limits on requesting exports: per user and per organisation per hour, and how many may be
//! waiting or running at once (429s), and how much space an organisation's files may take (409).
//! Each refusal's message says which limit and what to do.

use std::time::Duration;

use crate::{config::ExportLimits, error::AppError, exports::repo::RecentRequests, format};

/// Refuses a new request that would go past a limit. `retention` is the default time files are
/// kept, for the quota's advice.
pub fn check(limits: &ExportLimits, recent: &RecentRequests, retention: Duration) -> Result<(), AppError> {
    let refuse = |message: String| Err(AppError::RateLimited { message });
    if recent.by_user >= i64::from(limits.per_user_per_hour) {
        return refuse(format!(
            "You have requested {} exports in the last hour, the most allowed. Try again later.",
            limits.per_user_per_hour
        ));
    }
    if recent.by_organization >= i64::from(limits.per_organization_per_hour) {
        return refuse(format!(
            "Your organisation has requested {} exports in the last hour, the most allowed. Try again later.",
            limits.per_organization_per_hour
        ));
    }
    if recent.active >= i64::from(limits.active_per_organization) {
        return refuse(format!(
            "Your organisation already has {} exports waiting or in progress. Try again when some have finished.",
            limits.active_per_organization
        ));
    }
    let quota = limits.storage_quota_bytes;
    if recent.stored_bytes.max(0) as u64 >= quota {
        return Err(AppError::Conflict {
            message: format!(
                "Your organisation's export files take {} of its {} quota. Delete exports you no longer need \
                 (files are also deleted when they expire, {} after they are made), then request again.",
                format::bytes(recent.stored_bytes.max(0) as u64),
                format::bytes(quota),
                format::duration(retention),
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEEK: Duration = Duration::from_secs(7 * 24 * 3600);
    const LIMITS: ExportLimits = ExportLimits {
        per_user_per_hour: 3,
        per_organization_per_hour: 5,
        active_per_organization: 2,
        confirm_rows: 100,
        storage_quota_bytes: 1_000,
    };

    fn recent(by_user: i64, by_organization: i64, active: i64) -> RecentRequests {
        RecentRequests {
            by_user,
            by_organization,
            active,
            stored_bytes: 0,
        }
    }

    fn message(result: Result<(), AppError>) -> String {
        match result {
            Err(AppError::RateLimited { message }) => message,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn each_limit_refuses_at_its_value_and_says_which() {
        assert!(check(&LIMITS, &recent(2, 4, 1), WEEK).is_ok());
        assert!(message(check(&LIMITS, &recent(3, 3, 0), WEEK)).starts_with("You have requested 3"));
        assert!(
            message(check(&LIMITS, &recent(0, 5, 0), WEEK)).starts_with("Your organisation has requested 5")
        );
        assert!(message(check(&LIMITS, &recent(0, 0, 2), WEEK)).contains("already has 2 exports waiting"));
    }

    #[test]
    fn an_organisation_at_its_storage_quota_is_refused_with_how_to_free_space() {
        let stored = |bytes| RecentRequests {
            stored_bytes: bytes,
            ..recent(0, 0, 0)
        };
        assert!(check(&LIMITS, &stored(999), WEEK).is_ok());
        match check(&LIMITS, &stored(1_000), WEEK) {
            Err(AppError::Conflict { message }) => {
                assert!(message.contains("1.0 KB of its 1.0 KB quota"), "{message}");
                assert!(message.contains("Delete exports you no longer need"), "{message}");
                assert!(message.contains("when they expire, 7 days after"), "{message}");
            }
            other => panic!("expected a conflict, got {other:?}"),
        }
    }
}
