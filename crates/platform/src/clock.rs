//! An injectable clock.
//!
//! Services never call `Utc::now()` directly: they hold a [`SharedClock`]. Production uses
//! [`SystemClock`]; a demo or training deployment may start the clock at a chosen instant and let
//! it run ([`SystemClock::simulated`]); tests use [`ManualClock`] and move time explicitly, so
//! deadline rules are tested without waiting.
//!
//! A simulated clock never runs backwards across restarts. Every process of a stack is given the
//! same pair (`--clock-start`, `--clock-anchor`: the real instant at which the simulated clock
//! read the start), so they share one timeline and a restarted process rejoins it instead of
//! starting over. At start a service moves its simulated clock forward to the latest time its
//! database has recorded ([`Clock::continue_from`]), should it still read earlier, and a consumer
//! moves it forward to the send time of each message it takes in (as a Lamport clock would), so
//! a receipt is never recorded before its sending. The machine's clock is never moved.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, NaiveDate, Utc};

/// The source of "now" for a service.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;

    /// Today's date in Finland (Europe/Helsinki is UTC+2/+3; legal dates follow local time).
    fn today(&self) -> NaiveDate {
        finnish_date(self.now())
    }

    /// Makes a simulated clock read no earlier than `t` (the latest time the service recorded);
    /// returns whether it moved. The machine's clock and test clocks never move.
    fn continue_from(&self, _t: DateTime<Utc>) -> bool {
        false
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

/// The machine's clock, optionally shifted so that it reads a chosen instant at a chosen real
/// moment (a simulated clock, for demos and training).
#[derive(Debug, Default)]
pub struct SystemClock {
    /// Microseconds added to the machine's clock; 0 for the machine's clock itself.
    offset_micros: AtomicI64,
    simulated: bool,
}

impl SystemClock {
    pub fn new() -> Self {
        Self::default()
    }

    /// A clock that read `start` at the real instant `anchor` and runs at normal speed from
    /// there. Processes given the same pair share one timeline.
    pub fn simulated(start: DateTime<Utc>, anchor: DateTime<Utc>) -> Self {
        Self {
            offset_micros: AtomicI64::new((start - anchor).num_microseconds().unwrap_or(0)),
            simulated: true,
        }
    }

    /// A clock that reads `start` now and then runs at normal speed.
    pub fn starting_at(start: DateTime<Utc>) -> Self {
        Self::simulated(start, Utc::now())
    }

    pub fn shared(self) -> SharedClock {
        Arc::new(self)
    }
}

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + Duration::microseconds(self.offset_micros.load(Ordering::Relaxed))
    }

    fn continue_from(&self, t: DateTime<Utc>) -> bool {
        if !self.simulated {
            return false;
        }
        let behind = (t - self.now()).num_microseconds().unwrap_or(0);
        if behind <= 0 {
            return false;
        }
        // One microsecond past `t`: the next thing recorded comes after it.
        self.offset_micros.fetch_add(behind + 1, Ordering::Relaxed);
        true
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
    fn processes_with_one_anchor_share_one_timeline() {
        let start = Utc.with_ymd_and_hms(2024, 9, 2, 6, 0, 0).unwrap();
        let anchor = Utc::now() - Duration::hours(1);
        // Started an hour apart (a restart), both read an hour past the start.
        let a = SystemClock::simulated(start, anchor);
        let b = SystemClock::simulated(start, anchor);
        let (ta, tb) = (a.now(), b.now());
        assert!(ta >= start + Duration::hours(1), "{ta}");
        assert!((tb - ta).abs() < Duration::minutes(1), "{ta} {tb}");
    }

    #[test]
    fn a_simulated_clock_continues_from_the_latest_recorded_time() {
        let start = Utc.with_ymd_and_hms(2024, 9, 2, 6, 0, 0).unwrap();
        let clock = SystemClock::starting_at(start);
        let recorded = start + Duration::days(3);
        assert!(clock.continue_from(recorded));
        assert!(clock.now() > recorded);
        // Already past it: unchanged.
        assert!(!clock.continue_from(start));
        assert!(clock.now() > recorded);
        // The machine's clock is never moved.
        let machine = SystemClock::new();
        assert!(!machine.continue_from(Utc::now() + Duration::days(1)));
        assert!(machine.now() < Utc::now() + Duration::hours(1));
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
