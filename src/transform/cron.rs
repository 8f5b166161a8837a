//! Schedules of models and pipelines: five-field cron expressions, the
//! `@hourly`-style shortcuts and `every N seconds|minutes|hours`, with the
//! next fire time computed in an IANA time zone.
//!
//! Cron fields follow the Vixie cron conventions users know from crontab(5):
//! ranges, steps, lists, month and weekday names, 7 as Sunday, and when both
//! day-of-month and day-of-week are restricted a day matches either.

use std::fmt;

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleError {
    pub message: String,
    pub hint: String,
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

fn err(message: impl Into<String>) -> ScheduleError {
    ScheduleError {
        message: message.into(),
        hint: "use five cron fields (minute hour day-of-month month day-of-week, e.g. \"*/15 * * * *\"), \
               @hourly, @daily, @weekly, @monthly, @yearly, or \"every N seconds|minutes|hours\""
            .into(),
    }
}

/// One cron field as a bit set of the values it allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Field {
    bits: u64,
    /// Written as `*` (or `*/1`): matters for the day-of-month/day-of-week rule.
    star: bool,
}

impl Field {
    fn has(&self, v: u32) -> bool {
        self.bits & (1u64 << v) != 0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minute: Field,
    hour: Field,
    dom: Field,
    month: Field,
    dow: Field,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    Cron(Cron),
    /// A fixed interval in seconds, aligned to the Unix epoch so that the
    /// fire times do not depend on when the scheduler started.
    Every(u32),
}

struct Spec {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MINUTE: Spec = Spec { name: "minute", min: 0, max: 59, names: &[] };
const HOUR: Spec = Spec { name: "hour", min: 0, max: 23, names: &[] };
const DOM: Spec = Spec { name: "day-of-month", min: 1, max: 31, names: &[] };
const MONTH: Spec = Spec {
    name: "month",
    min: 1,
    max: 12,
    names: &["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
};
// 7 is accepted for Sunday and folded onto 0.
const DOW: Spec = Spec { name: "day-of-week", min: 0, max: 7, names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"] };

fn value(spec: &Spec, s: &str) -> Result<u32, ScheduleError> {
    if let Ok(v) = s.parse::<u32>() {
        if v < spec.min || v > spec.max {
            return Err(err(format!(
                "{} value {} is out of range {}-{}",
                spec.name, v, spec.min, spec.max
            )));
        }
        return Ok(v);
    }
    let lower = s.to_ascii_lowercase();
    if let Some(i) = spec.names.iter().position(|n| *n == lower) {
        // Month names count from 1, weekday names from 0 (Sunday).
        return Ok(i as u32 + if spec.min == 1 { 1 } else { 0 });
    }
    Err(err(format!("invalid {} value \"{}\"", spec.name, s)))
}

fn field(spec: &Spec, text: &str) -> Result<Field, ScheduleError> {
    let mut bits = 0u64;
    let mut star = false;
    for item in text.split(',') {
        if item.is_empty() {
            return Err(err(format!("empty list item in {} field \"{}\"", spec.name, text)));
        }
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s
                    .parse()
                    .map_err(|_| err(format!("invalid step \"{}\" in {} field \"{}\"", s, spec.name, text)))?;
                if step == 0 {
                    return Err(err(format!("step 0 in {} field \"{}\"", spec.name, text)));
                }
                (r, step)
            }
            None => (item, 1),
        };
        let (lo, hi) = if range == "*" {
            if step == 1 {
                star = true;
            }
            (spec.min, if spec.name == "day-of-week" { 6 } else { spec.max })
        } else if let Some((a, b)) = range.split_once('-') {
            let (lo, hi) = (value(spec, a)?, value(spec, b)?);
            if lo > hi {
                return Err(err(format!(
                    "range {}-{} in {} field runs backwards",
                    a, b, spec.name
                )));
            }
            (lo, hi)
        } else {
            let lo = value(spec, range)?;
            // "N/step" means from N to the end of the field, as in Vixie cron.
            (lo, if item.contains('/') { spec.max } else { lo })
        };
        let mut v = lo;
        while v <= hi {
            bits |= 1u64 << v;
            v += step;
        }
    }
    if spec.name == "day-of-week" && bits & (1 << 7) != 0 {
        bits = (bits & !(1 << 7)) | 1;
    }
    Ok(Field { bits, star })
}

const DAYS_IN_MONTH: [u32; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

impl Schedule {
    pub fn parse(text: &str) -> Result<Schedule, ScheduleError> {
        let t = text.trim();
        let lower = t.to_ascii_lowercase();
        let expanded = match lower.as_str() {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            _ if lower.starts_with('@') => return Err(err(format!("unknown schedule shortcut \"{}\"", t))),
            _ if lower.starts_with("every") => return Self::parse_every(&lower, t),
            _ => t,
        };
        let parts: Vec<&str> = expanded.split_whitespace().collect();
        if parts.len() != 5 {
            return Err(err(format!(
                "cron schedule \"{}\" has {} field{}, expected 5",
                t,
                parts.len(),
                if parts.len() == 1 { "" } else { "s" }
            )));
        }
        let cron = Cron {
            minute: field(&MINUTE, parts[0])?,
            hour: field(&HOUR, parts[1])?,
            dom: field(&DOM, parts[2])?,
            month: field(&MONTH, parts[3])?,
            dow: field(&DOW, parts[4])?,
        };
        // A day-of-month that no allowed month has (30 February) never fires;
        // with a restricted weekday too, the weekday alone still fires.
        if cron.dow.star || cron.dom.star {
            let possible = (1..=12u32).any(|m| cron.month.has(m) && (1..=DAYS_IN_MONTH[m as usize - 1]).any(|d| cron.dom.has(d)));
            if !possible {
                return Err(err(format!("cron schedule \"{}\" never fires: no allowed month has that day", t)));
            }
        }
        Ok(Schedule::Cron(cron))
    }

    fn parse_every(lower: &str, original: &str) -> Result<Schedule, ScheduleError> {
        let words: Vec<&str> = lower.split_whitespace().collect();
        let bad = || err(format!("invalid interval \"{}\": write \"every N seconds|minutes|hours\"", original));
        if words.len() != 3 || words[0] != "every" {
            return Err(bad());
        }
        let n: u32 = words[1].parse().map_err(|_| bad())?;
        if n == 0 {
            return Err(err(format!("interval \"{}\" must be at least 1", original)));
        }
        let unit = match words[2] {
            "second" | "seconds" => 1,
            "minute" | "minutes" => 60,
            "hour" | "hours" => 3600,
            _ => return Err(bad()),
        };
        let secs = n.checked_mul(unit).filter(|s| *s <= 366 * 86400).ok_or_else(|| {
            err(format!("interval \"{}\" is longer than a year; use a cron expression", original))
        })?;
        Ok(Schedule::Every(secs))
    }

    /// The first fire time strictly after `after`, with cron fields read in
    /// time zone `tz`. A local time skipped by a daylight-saving jump fires
    /// at the first instant after the jump; a local time that occurs twice
    /// fires once, at its first occurrence. None only if nothing fires in
    /// the next five years (a weekday/day combination that is that rare).
    pub fn next_after(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Every(secs) => {
                let s = *secs as i64;
                let t = after.timestamp();
                let next = (t.div_euclid(s) + 1) * s;
                DateTime::from_timestamp(next, 0)
            }
            Schedule::Cron(c) => c.next_after(after, tz),
        }
    }
}

impl Cron {
    fn day_matches(&self, d: NaiveDate) -> bool {
        let dom = self.dom.has(d.day());
        let dow = self.dow.has(d.weekday().num_days_from_sunday());
        match (self.dom.star, self.dow.star) {
            (true, true) => true,
            (true, false) => dow,
            (false, true) => dom,
            (false, false) => dom || dow,
        }
    }

    fn next_after(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&tz).naive_local();
        // Start at the next whole minute of local wall time.
        let mut t = local.with_second(0)?.with_nanosecond(0)? + Duration::minutes(1);
        let limit = local + Duration::days(5 * 366);
        while t <= limit {
            if !self.month.has(t.month()) {
                let (y, m) = if t.month() == 12 { (t.year() + 1, 1) } else { (t.year(), t.month() + 1) };
                t = NaiveDate::from_ymd_opt(y, m, 1)?.and_hms_opt(0, 0, 0)?;
                continue;
            }
            if !self.day_matches(t.date()) {
                t = t.date().succ_opt()?.and_hms_opt(0, 0, 0)?;
                continue;
            }
            if !self.hour.has(t.hour()) {
                t = t.date().and_hms_opt(t.hour(), 0, 0)? + Duration::hours(1);
                continue;
            }
            if !self.minute.has(t.minute()) {
                t += Duration::minutes(1);
                continue;
            }
            if let Some(utc) = resolve_local(tz, t) {
                if utc > after {
                    return Some(utc);
                }
            }
            t += Duration::minutes(1);
        }
        None
    }
}

/// The instant of local wall time `t` in `tz`: the earlier one when it is
/// ambiguous, the end of the gap when it does not exist.
fn resolve_local(tz: Tz, t: NaiveDateTime) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&t) {
        LocalResult::Single(d) => Some(d.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, b) => Some(a.min(b).with_timezone(&Utc)),
        LocalResult::None => {
            // Gaps are whole minutes and at most a few hours long.
            let mut probe = t;
            for _ in 0..(24 * 60) {
                probe += Duration::minutes(1);
                if let LocalResult::Single(d) | LocalResult::Ambiguous(d, _) = tz.from_local_datetime(&probe) {
                    // The first wall-clock minute after the gap.
                    return Some(d.with_timezone(&Utc));
                }
            }
            None
        }
    }
}

/// An IANA time zone name such as `Europe/Berlin` or `UTC`.
pub fn parse_time_zone(name: &str) -> Result<Tz, ScheduleError> {
    name.parse::<Tz>().map_err(|_| ScheduleError {
        message: format!("unknown time zone \"{}\"", name),
        hint: "use an IANA time zone name such as UTC, Europe/Berlin or America/New_York (see pg_timezone_names)"
            .into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::{America::New_York, Europe::Berlin, UTC};

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn fires(expr: &str, tz: Tz, from: &str, n: usize) -> Vec<String> {
        let s = Schedule::parse(expr).unwrap();
        let mut t = utc(from);
        let mut out = vec![];
        for _ in 0..n {
            t = s.next_after(t, tz).unwrap();
            out.push(t.to_rfc3339());
        }
        out
    }

    /// Brute-force oracle: every minute in a window, checked field by field
    /// against the plain definition of each cron field.
    fn oracle(minutes: &[u32], hours: &[u32], doms: Option<&[u32]>, months: &[u32], dows: Option<&[u32]>,
              from: &str, n: usize) -> Vec<String> {
        let mut t = utc(from) + Duration::minutes(1);
        t = t.with_second(0).unwrap();
        let mut out = vec![];
        while out.len() < n {
            let day_ok = match (doms, dows) {
                (None, None) => true,
                (Some(d), None) => d.contains(&t.day()),
                (None, Some(w)) => w.contains(&t.weekday().num_days_from_sunday()),
                (Some(d), Some(w)) => d.contains(&t.day()) || w.contains(&t.weekday().num_days_from_sunday()),
            };
            if minutes.contains(&t.minute()) && hours.contains(&t.hour()) && months.contains(&t.month()) && day_ok {
                out.push(t.to_rfc3339());
            }
            t += Duration::minutes(1);
        }
        out
    }

    #[test]
    fn steps_ranges_lists_match_a_brute_force_oracle() {
        let all_h: Vec<u32> = (0..24).collect();
        let all_m: Vec<u32> = (1..=12).collect();
        assert_eq!(
            fires("*/15 * * * *", UTC, "2026-03-01T10:07:00Z", 6),
            oracle(&[0, 15, 30, 45], &all_h, None, &all_m, None, "2026-03-01T10:07:00Z", 6)
        );
        assert_eq!(
            fires("5,35 9-17/4 * * *", UTC, "2026-03-01T00:00:00Z", 8),
            oracle(&[5, 35], &[9, 13, 17], None, &all_m, None, "2026-03-01T00:00:00Z", 8)
        );
        assert_eq!(
            fires("0 12 * * MON-FRI", UTC, "2026-03-01T00:00:00Z", 7),
            oracle(&[0], &[12], None, &all_m, Some(&[1, 2, 3, 4, 5]), "2026-03-01T00:00:00Z", 7)
        );
        // day-of-month OR day-of-week when both are restricted
        assert_eq!(
            fires("30 6 13 * fri", UTC, "2026-01-01T00:00:00Z", 10),
            oracle(&[30], &[6], Some(&[13]), &all_m, Some(&[5]), "2026-01-01T00:00:00Z", 10)
        );
        assert_eq!(
            fires("0 0 1 jan,jul *", UTC, "2026-02-01T00:00:00Z", 3),
            oracle(&[0], &[0], Some(&[1]), &[1, 7], None, "2026-02-01T00:00:00Z", 3)
        );
        // 10/20 is 10, 30, 50
        assert_eq!(
            fires("10/20 * * * *", UTC, "2026-03-01T10:00:00Z", 3),
            vec!["2026-03-01T10:10:00+00:00", "2026-03-01T10:30:00+00:00", "2026-03-01T10:50:00+00:00"]
        );
    }

    #[test]
    fn sunday_is_0_and_7() {
        assert_eq!(Schedule::parse("0 0 * * 7").unwrap(), Schedule::parse("0 0 * * 0").unwrap());
        assert_eq!(Schedule::parse("0 0 * * sun").unwrap(), Schedule::parse("0 0 * * 0").unwrap());
        // 2026-03-01 is a Sunday
        assert_eq!(fires("0 0 * * 7", UTC, "2026-02-27T00:00:00Z", 1), vec!["2026-03-01T00:00:00+00:00"]);
    }

    #[test]
    fn shortcuts() {
        assert_eq!(fires("@hourly", UTC, "2026-03-01T10:07:00Z", 1), vec!["2026-03-01T11:00:00+00:00"]);
        assert_eq!(fires("@daily", UTC, "2026-03-01T10:07:00Z", 1), vec!["2026-03-02T00:00:00+00:00"]);
        assert_eq!(fires("@weekly", UTC, "2026-03-02T10:07:00Z", 1), vec!["2026-03-08T00:00:00+00:00"]);
        assert_eq!(fires("@monthly", UTC, "2026-03-02T10:07:00Z", 1), vec!["2026-04-01T00:00:00+00:00"]);
        assert_eq!(fires("@yearly", UTC, "2026-03-02T10:07:00Z", 1), vec!["2027-01-01T00:00:00+00:00"]);
    }

    #[test]
    fn every_interval_is_aligned_to_the_epoch() {
        assert_eq!(Schedule::parse("every 15 minutes").unwrap(), Schedule::Every(900));
        assert_eq!(Schedule::parse("Every 1 hour").unwrap(), Schedule::Every(3600));
        assert_eq!(fires("every 10 seconds", UTC, "2026-03-01T10:07:03Z", 2),
                   vec!["2026-03-01T10:07:10+00:00", "2026-03-01T10:07:20+00:00"]);
        // exactly on a boundary: strictly after
        assert_eq!(fires("every 5 minutes", UTC, "2026-03-01T10:05:00Z", 1), vec!["2026-03-01T10:10:00+00:00"]);
    }

    #[test]
    fn time_zone_is_honoured() {
        // 09:00 in Berlin is 08:00 UTC in winter, 07:00 UTC in summer.
        assert_eq!(fires("0 9 * * *", Berlin, "2026-01-10T12:00:00Z", 1), vec!["2026-01-11T08:00:00+00:00"]);
        assert_eq!(fires("0 9 * * *", Berlin, "2026-07-10T12:00:00Z", 1), vec!["2026-07-11T07:00:00+00:00"]);
    }

    #[test]
    fn daylight_saving_gaps_and_repeats() {
        // New York springs forward 2026-03-08 02:00 -> 03:00: 02:30 does not
        // exist that day and fires at 03:00 EDT (07:00 UTC), once.
        assert_eq!(
            fires("30 2 * * *", New_York, "2026-03-07T12:00:00Z", 3),
            vec!["2026-03-08T07:00:00+00:00", "2026-03-09T06:30:00+00:00", "2026-03-10T06:30:00+00:00"]
        );
        // Falls back 2026-11-01 02:00 -> 01:00: 01:30 happens twice, fires once (EDT).
        assert_eq!(
            fires("30 1 * * *", New_York, "2026-10-31T12:00:00Z", 2),
            vec!["2026-11-01T05:30:00+00:00", "2026-11-02T06:30:00+00:00"]
        );
        // Every 30 minutes through the repeated hour: local wall times repeat,
        // no instant is produced twice and the sequence increases.
        let got = fires("*/30 * * * *", New_York, "2026-11-01T04:00:00Z", 6);
        let mut sorted = got.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(got, sorted);
    }

    #[test]
    fn leap_day() {
        assert_eq!(fires("0 0 29 2 *", UTC, "2026-03-01T00:00:00Z", 1), vec!["2028-02-29T00:00:00+00:00"]);
    }

    #[test]
    fn errors_name_the_problem() {
        let msg = |s: &str| Schedule::parse(s).unwrap_err().message;
        assert_eq!(msg("* * * *"), "cron schedule \"* * * *\" has 4 fields, expected 5");
        assert_eq!(msg("60 * * * *"), "minute value 60 is out of range 0-59");
        assert_eq!(msg("* 24 * * *"), "hour value 24 is out of range 0-23");
        assert_eq!(msg("* * 0 * *"), "day-of-month value 0 is out of range 1-31");
        assert_eq!(msg("* * * foo *"), "invalid month value \"foo\"");
        assert_eq!(msg("*/0 * * * *"), "step 0 in minute field \"*/0\"");
        assert_eq!(msg("5-1 * * * *"), "range 5-1 in minute field runs backwards");
        assert_eq!(msg("1,,2 * * * *"), "empty list item in minute field \"1,,2\"");
        assert_eq!(msg("@often"), "unknown schedule shortcut \"@often\"");
        assert_eq!(msg("every 0 minutes"), "interval \"every 0 minutes\" must be at least 1");
        assert_eq!(msg("every 5 fortnights"), "invalid interval \"every 5 fortnights\": write \"every N seconds|minutes|hours\"");
        assert_eq!(msg("0 0 30 2 *"), "cron schedule \"0 0 30 2 *\" never fires: no allowed month has that day");
        assert!(Schedule::parse("").is_err());
        assert!(parse_time_zone("Mars/Olympus").unwrap_err().message.contains("Mars/Olympus"));
        assert_eq!(parse_time_zone("Europe/Berlin").unwrap(), Berlin);
    }
}
