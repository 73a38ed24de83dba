//! An injectable clock.
//!
//! Services never call `Utc::now()` directly: they hold a [`SharedClock`]. Production uses
//! [`SystemClock`]; a demo or training deployment may start the clock at a chosen instant and let
//! it run ([`SystemClock::starting_at`]); tests use [`ManualClock`] and move time explicitly, so
//! deadline rules are tested without waiting.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, NaiveDate, Utc};

/// The source of "now" for a service.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;

    /// Today's date in Finland (Europe/Helsinki is UTC+2/+3; legal dates follow local time).
    fn today(&self) -> NaiveDate {
        finnish_date(self.now())
    }
}

/// A clock shared by every part of a service.
pub type SharedClock = Arc<dyn Clock>;

/// The calendar date in Finland of an instant. Finland is UTC+2 in winter and UTC+3 in summer
/// (EU rule: last Sunday of March to last Sunday of October, at 01:00 UTC).
pub fn finnish_date(t: DateTime<Utc>) -> NaiveDate {
    use chrono::Datelike;
    let year = t.year();
    let summer_start = last_sunday_0100_utc(year, 3);
    let summer_end = last_sunday_0100_utc(year, 10);
    let offset = if t >= summer_start && t < summer_end {
        3
    } else {
        2
    };
    (t + Duration::hours(offset)).date_naive()
}

fn last_sunday_0100_utc(year: i32, month: u32) -> DateTime<Utc> {
    use chrono::{Datelike, Weekday};
    let mut day = NaiveDate::from_ymd_opt(year, month + 1, 1)
        .and_then(|d| d.pred_opt())
        .unwrap_or(NaiveDate::MIN);
    while day.weekday() != Weekday::Sun {
        day = day.pred_opt().unwrap_or(NaiveDate::MIN);
    }
    day.and_hms_opt(1, 0, 0).unwrap_or_default().and_utc()
}

/// The machine's clock, optionally shifted so that it started at a chosen instant.
#[derive(Debug, Clone, Default)]
pub struct SystemClock {
    offset: Duration,
}

impl SystemClock {
    pub fn new() -> Self {
        Self::default()
    }

    /// A clock that reads `start` now and then runs at normal speed (demos, training, replays).
    pub fn starting_at(start: DateTime<Utc>) -> Self {
        Self {
            offset: start - Utc::now(),
        }
    }

    pub fn shared(self) -> SharedClock {
        Arc::new(self)
    }
}

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.offset
    }
}

/// A clock that moves only when told to.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: Arc::new(Mutex::new(start)),
        }
    }

    pub fn set(&self, t: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(|e| e.into_inner()) = t;
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn finnish_date_follows_local_midnight() {
        // 22:30 UTC in January is 00:30 next day in Helsinki (UTC+2).
        let t = Utc.with_ymd_and_hms(2024, 1, 15, 22, 30, 0).unwrap();
        assert_eq!(
            finnish_date(t),
            NaiveDate::from_ymd_opt(2024, 1, 16).unwrap()
        );
        // 21:30 UTC in July is 00:30 next day (UTC+3), 20:30 UTC is still the same day.
        let t = Utc.with_ymd_and_hms(2024, 7, 15, 21, 30, 0).unwrap();
        assert_eq!(
            finnish_date(t),
            NaiveDate::from_ymd_opt(2024, 7, 16).unwrap()
        );
        let t = Utc.with_ymd_and_hms(2024, 7, 15, 20, 30, 0).unwrap();
        assert_eq!(
            finnish_date(t),
            NaiveDate::from_ymd_opt(2024, 7, 15).unwrap()
        );
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let start = Utc.with_ymd_and_hms(2024, 3, 4, 8, 0, 0).unwrap();
        let clock = ManualClock::new(start);
        assert_eq!(clock.now(), start);
        clock.advance(Duration::days(2));
        assert_eq!(clock.now(), start + Duration::days(2));
    }

    #[test]
    fn shifted_system_clock_starts_at_the_given_instant() {
        let start = Utc.with_ymd_and_hms(2024, 3, 4, 8, 0, 0).unwrap();
        let clock = SystemClock::starting_at(start);
        let drift = clock.now() - start;
        assert!(
            drift >= Duration::zero() && drift < Duration::minutes(1),
            "{drift}"
        );
    }
}
