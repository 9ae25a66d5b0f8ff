//! The `[schedule]` of `hrsync run`: a cron expression and the time zone it is read in.
//!
//! A standard 5-field crontab line (`minute hour day-of-month month day-of-week`) is converted
//! for the `cron` crate, which wants a seconds field first and numbers the days of the week
//! 1 (Sunday) to 7 (Saturday) where crontab has 0 (or 7) for Sunday to 6 for Saturday. 6- and
//! 7-field expressions (with seconds, and years) and the `@hourly`-style shortcuts are the
//! `cron` crate's own and are taken as they are.

use std::collections::BTreeSet;
use std::str::FromStr;

use chrono::{DateTime, Utc};

/// A parsed schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The expression as written in the config.
    pub expression: String,
    /// The expression the `cron` crate parsed (with seconds, weekdays renumbered).
    pub converted: String,
    pub time_zone: chrono_tz::Tz,
    inner: cron::Schedule,
}

impl Schedule {
    /// Parses `expression` (see the module documentation). The error says what is wrong, for a
    /// config problem naming the key.
    pub fn parse(expression: &str, time_zone: chrono_tz::Tz) -> Result<Self, String> {
        let converted = convert(expression)?;
        let inner = cron::Schedule::from_str(&converted).map_err(|e| {
            if converted == expression.trim() {
                format!("\"{expression}\" is not a cron expression: {e}")
            } else {
                format!("\"{expression}\" (read as \"{converted}\") is not a cron expression: {e}")
            }
        })?;
        // A fixed instant (the clock is read only in `main`): does the schedule fire at all?
        let reference = DateTime::<Utc>::from_timestamp(1_767_225_600, 0).unwrap_or_default();
        if inner.after(&reference).next().is_none() {
            return Err(format!("\"{expression}\" never fires"));
        }
        Ok(Self {
            expression: expression.trim().to_string(),
            converted,
            time_zone,
            inner,
        })
    }

    /// The first run time strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.upcoming(after, 1).into_iter().next()
    }

    /// The next `count` run times strictly after `after`, in UTC.
    pub fn upcoming(&self, after: DateTime<Utc>, count: usize) -> Vec<DateTime<Utc>> {
        let local = after.with_timezone(&self.time_zone);
        self.inner
            .after(&local)
            .take(count)
            .map(|t| t.with_timezone(&Utc))
            .collect()
    }
}

/// Converts a 5-field crontab expression for the `cron` crate; other expressions are returned
/// as they are (trimmed).
pub fn convert(expression: &str) -> Result<String, String> {
    let trimmed = expression.trim();
    if trimmed.is_empty() {
        return Err("is empty: write a cron expression like \"*/15 * * * *\"".to_string());
    }
    if trimmed.starts_with('@') {
        if trimmed.eq_ignore_ascii_case("@reboot") {
            return Err(
                "@reboot is not a schedule: hrsync run starts when its service does, \
                        use schedule.run_on_start"
                    .to_string(),
            );
        }
        return Ok(trimmed.to_ascii_lowercase());
    }
    let fields: Vec<&str> = trimmed.split_whitespace().collect();
    match fields.len() {
        5 => {}
        6 | 7 => return Ok(fields.join(" ")),
        n => {
            return Err(format!(
                "\"{trimmed}\" has {n} field(s): write 5 (minute hour day-of-month month \
                 day-of-week, as in crontab), or 6-7 (seconds first, years last)"
            ));
        }
    }
    let (minute, hour, day_of_month, month, day_of_week) =
        (fields[0], fields[1], fields[2], fields[3], fields[4]);
    let any = |f: &str| f == "*" || f == "?";
    if !any(day_of_month) && !any(day_of_week) {
        // crontab fires when EITHER matches; the cron crate only when both do.
        return Err(format!(
            "\"{trimmed}\" restricts both the day of the month and the day of the week, which \
             crontab reads as either and the scheduler as both: restrict only one of them"
        ));
    }
    let day_of_week = weekdays(day_of_week)
        .map_err(|e| format!("\"{trimmed}\": day of the week \"{day_of_week}\": {e}"))?;
    Ok(format!(
        "0 {minute} {hour} {day_of_month} {month} {day_of_week}"
    ))
}

/// A crontab day-of-week field (0-7, Sunday is 0 and 7, names, ranges, lists, steps) as the
/// `cron` crate's numbers (1 = Sunday .. 7 = Saturday), expanded into a list.
fn weekdays(field: &str) -> Result<String, String> {
    if field == "*" || field == "?" {
        return Ok(field.to_string());
    }
    let mut days = BTreeSet::new();
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => {
                let step: u32 = step
                    .parse()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| format!("step \"{step}\" is not a positive number"))?;
                (range, step)
            }
            None => (item, 1),
        };
        let (first, last) = if range == "*" {
            (0, 6)
        } else if let Some((a, b)) = range.split_once('-') {
            (day(a)?, day(b)?)
        } else if step > 1 {
            // crontab: "N/S" means N to the end, every S.
            (day(range)?, 6)
        } else {
            let d = day(range)?;
            (d, d)
        };
        // "5-7" (Friday to Sunday) is fine in crontab, 7 being Sunday again.
        let last = if last == 7 && first > 0 { 7 } else { last };
        let first = if first == 7 && last == 7 { 7 } else { first };
        if first > last {
            return Err(format!(
                "range \"{range}\" goes backwards (Sunday is 0 or 7)"
            ));
        }
        for d in (first..=last).step_by(step as usize) {
            days.insert(d % 7);
        }
    }
    if days.len() == 7 {
        return Ok("*".to_string());
    }
    Ok(days
        .iter()
        .map(|d| (d + 1).to_string())
        .collect::<Vec<_>>()
        .join(","))
}

/// A crontab day of the week: 0-7 or a name (sun, monday ...).
fn day(value: &str) -> Result<u32, String> {
    if let Ok(n) = value.parse::<u32>() {
        return if n <= 7 {
            Ok(n)
        } else {
            Err(format!(
                "{n} is not a day of the week (0-7, Sunday is 0 or 7)"
            ))
        };
    }
    let lower = value.to_ascii_lowercase();
    ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
        .iter()
        .position(|name| {
            lower.len() >= 3 && name.starts_with(&lower[..3]) && lower.starts_with(name)
        })
        .and_then(|i| u32::try_from(i).ok())
        .ok_or_else(|| format!("\"{value}\" is not a day of the week"))
}

#[cfg(test)]
mod tests {
    use chrono::{Datelike, TimeZone, Timelike, Weekday};

    use super::*;

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    #[test]
    fn five_fields_get_seconds_and_renumbered_weekdays() {
        assert_eq!(convert("*/15 * * * *").unwrap(), "0 */15 * * * *");
        assert_eq!(convert("0 9 * * 1-5").unwrap(), "0 0 9 * * 2,3,4,5,6");
        assert_eq!(convert("0 9 * * 0").unwrap(), "0 0 9 * * 1");
        assert_eq!(convert("0 9 * * 7").unwrap(), "0 0 9 * * 1");
        assert_eq!(convert("0 9 * * 5-7").unwrap(), "0 0 9 * * 1,6,7");
        assert_eq!(convert("0 9 * * sat,sun").unwrap(), "0 0 9 * * 1,7");
        assert_eq!(convert("0 9 * * Mon-Fri").unwrap(), "0 0 9 * * 2,3,4,5,6");
        assert_eq!(convert("0 9 * * */2").unwrap(), "0 0 9 * * 1,3,5,7");
        assert_eq!(convert("0 9 * * 0-6").unwrap(), "0 0 9 * * *");
        assert_eq!(convert("30 2 1 * *").unwrap(), "0 30 2 1 * *");
    }

    #[test]
    fn six_and_seven_fields_and_shortcuts_are_taken_as_they_are() {
        assert_eq!(convert("* * * * * *").unwrap(), "* * * * * *");
        assert_eq!(
            convert(" 0 0 9 * * Mon-Fri 2030 ").unwrap(),
            "0 0 9 * * Mon-Fri 2030"
        );
        assert_eq!(convert("@hourly").unwrap(), "@hourly");
    }

    #[test]
    fn monday_to_friday_means_monday_to_friday() {
        let schedule = Schedule::parse("0 9 * * 1-5", chrono_tz::UTC).unwrap();
        // 2026-11-27 is a Friday.
        let runs = schedule.upcoming(utc(2026, 11, 27, 10, 0), 6);
        let days: Vec<Weekday> = runs.iter().map(|t| t.weekday()).collect();
        assert_eq!(
            days,
            [
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
                Weekday::Mon
            ]
        );
        assert!(runs.iter().all(|t| t.hour() == 9 && t.minute() == 0));
        assert_eq!(runs[0], utc(2026, 11, 30, 9, 0));
    }

    #[test]
    fn every_fifteen_minutes() {
        let schedule = Schedule::parse("*/15 * * * *", chrono_tz::UTC).unwrap();
        assert_eq!(
            schedule.upcoming(utc(2026, 11, 27, 10, 7), 3),
            [
                utc(2026, 11, 27, 10, 15),
                utc(2026, 11, 27, 10, 30),
                utc(2026, 11, 27, 10, 45)
            ]
        );
        assert_eq!(
            schedule.next_after(utc(2026, 11, 27, 10, 15)),
            Some(utc(2026, 11, 27, 10, 30)),
            "strictly after"
        );
    }

    #[test]
    fn every_second_with_six_fields() {
        let schedule = Schedule::parse("* * * * * *", chrono_tz::UTC).unwrap();
        let start = utc(2026, 11, 27, 10, 0);
        assert_eq!(
            schedule.next_after(start),
            Some(start + chrono::Duration::seconds(1))
        );
    }

    #[test]
    fn read_in_the_time_zone() {
        let schedule = Schedule::parse("0 9 * * *", chrono_tz::Europe::Berlin).unwrap();
        // November: Berlin is UTC+1, so 09:00 there is 08:00 UTC.
        assert_eq!(
            schedule.next_after(utc(2026, 11, 27, 10, 0)),
            Some(utc(2026, 11, 28, 8, 0))
        );
    }

    #[test]
    fn invalid_expressions_say_what_is_wrong() {
        for (expression, expected) in [
            ("", "empty"),
            ("* * * *", "4 field(s)"),
            ("0 9 * * 8", "8 is not a day of the week"),
            ("0 9 * * funday", "\"funday\" is not a day of the week"),
            (
                "0 9 1 * 1",
                "both the day of the month and the day of the week",
            ),
            ("61 * * * *", "is not a cron expression"),
            ("0 9 * * 5-2", "goes backwards"),
            ("@reboot", "run_on_start"),
        ] {
            let error = Schedule::parse(expression, chrono_tz::UTC).unwrap_err();
            assert!(error.contains(expected), "{expression:?}: {error}");
        }
    }
}
