//! Schedules: a cron expression read in an IANA time zone, the fire times it makes, and
//! what happens to fires missed while no scheduler ran.

use std::str::FromStr as _;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;

use crate::FieldError;

/// A cron expression (five fields, or six with seconds first) in a time zone.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    cron: Cron,
    zone: Tz,
}

impl CronSchedule {
    /// Reads `pattern` in `zone`, naming `cron` or `timezone` when either does not
    /// hold; fires closer together than `min_seconds` are refused (`SCHEDULE_MIN_SECONDS`).
    pub fn parse(pattern: &str, zone: &str, min_seconds: u32) -> Result<Self, Vec<FieldError>> {
        let mut problems = Vec::new();
        let cron = if pattern.len() > 200 {
            problems.push(FieldError::new("cron", "must be at most 200 characters"));
            None
        } else {
            Cron::from_str(pattern)
                .map_err(|why| {
                    problems.push(FieldError::new("cron", format!("does not read: {why}")))
                })
                .ok()
        };
        let zone = Tz::from_str(zone)
            .map_err(|_| {
                problems.push(FieldError::new(
                    "timezone",
                    "must be an IANA time zone (Asia/Seoul, UTC)",
                ));
            })
            .ok();
        let (Some(cron), Some(zone)) = (cron, zone) else {
            return Err(problems);
        };
        let schedule = Self { cron, zone };
        let now = Utc::now();
        match schedule.upcoming(now, 2).as_slice() {
            [first, second] if (*second - *first).num_seconds() < i64::from(min_seconds) => {
                Err(vec![FieldError::new(
                    "cron",
                    format!(
                        "fires more often than every {min_seconds} seconds (SCHEDULE_MIN_SECONDS)"
                    ),
                )])
            }
            [] => Err(vec![FieldError::new("cron", "never fires")]),
            _ => Ok(schedule),
        }
    }

    /// The first fire time strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_next_occurrence(&after.with_timezone(&self.zone), false)
            .ok()
            .map(|at| at.with_timezone(&Utc))
    }

    /// The next `count` fire times after `after`.
    pub fn upcoming(&self, after: DateTime<Utc>, count: usize) -> Vec<DateTime<Utc>> {
        let mut times = Vec::with_capacity(count);
        let mut at = after;
        while times.len() < count {
            let Some(next) = self.next_after(at) else {
                break;
            };
            times.push(next);
            at = next;
        }
        times
    }
}

/// What a schedule does about fires that came while no scheduler ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissedPolicy {
    /// Records them as missed and waits for the next fire time.
    Skip,
    /// Runs once on return, however many were missed.
    RunOnce,
}

impl MissedPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Skip => "skip",
            Self::RunOnce => "run_once",
        }
    }
}

impl std::str::FromStr for MissedPolicy {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "skip" => Ok(Self::Skip),
            "run_once" => Ok(Self::RunOnce),
            _ => Err("must be skip or run_once".to_owned()),
        }
    }
}

/// A fire this late is a missed one: no scheduler was running when it came.
pub const MISSED_AFTER_SECONDS: i64 = 60;

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    #[test]
    fn fire_times_follow_the_zone_and_refusals_name_the_field() {
        // 09:00 in Seoul is 00:00 UTC.
        let daily = CronSchedule::parse("0 9 * * *", "Asia/Seoul", 60).unwrap();
        let from = Utc.with_ymd_and_hms(2026, 12, 7, 1, 0, 0).unwrap();
        assert_eq!(
            daily.upcoming(from, 2),
            [
                Utc.with_ymd_and_hms(2026, 12, 8, 0, 0, 0).unwrap(),
                Utc.with_ymd_and_hms(2026, 12, 9, 0, 0, 0).unwrap()
            ]
        );
        let field = |result: Result<CronSchedule, Vec<FieldError>>| {
            result
                .unwrap_err()
                .into_iter()
                .map(|p| p.field)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            field(CronSchedule::parse("61 * * * *", "UTC", 60)),
            ["cron"]
        );
        assert_eq!(
            field(CronSchedule::parse("0 9 * * *", "Mars/Base", 60)),
            ["timezone"]
        );
        assert_eq!(
            field(CronSchedule::parse("* * * * * *", "UTC", 60)),
            ["cron"]
        );
        assert!(CronSchedule::parse("* * * * * *", "UTC", 1).is_ok());
    }
}
