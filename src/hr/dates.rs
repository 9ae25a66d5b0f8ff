//! Reading the dates HR systems send: plain dates, date-times with an offset (Personio), RFC 3339,
//! and OData's `/Date(ms)/` (SuccessFactors).
//!
//! A date-time is read as the calendar date *written in it*, in the offset it carries: Personio's
//! `2014-11-09 00:00:00+01:00` is 9 November, not 8 November in UTC. HR means a day, not an instant.

use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime};
use serde::Deserialize;

use crate::problem::ConfigProblem;

/// `[hr.dates]`: how date fields (`hire_date`, `termination_date`) are read.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatesConfig {
    /// Formats tried in order until one reads the whole value. Each is a chrono strftime pattern
    /// (`"%Y-%m-%d"`, `"%d.%m.%Y"`, `"%Y-%m-%d %H:%M:%S%:z"`), or `"rfc3339"`, or `"odata"` for
    /// `/Date(1388534400000)/` and `/Date(1587059032000+0000)/`. A pattern with a time of day
    /// gives the date as written in the value. The default covers the vendors' documented
    /// formats: `%Y-%m-%d`, `rfc3339`, `%Y-%m-%d %H:%M:%S%:z`, `%Y-%m-%dT%H:%M:%S%.f%z`,
    /// `%Y-%m-%dT%H:%M:%S%.f`, `%Y-%m-%d%:z`, `odata`.
    #[serde(default = "default_formats")]
    pub formats: Vec<String>,
    /// Values that mean "no date" (BambooHR sends `0000-00-00` for "not terminated"). Compared
    /// exactly, after trimming spaces. Default `["0000-00-00", ""]`.
    #[serde(default = "default_null_values")]
    pub null_values: Vec<String>,
}

impl Default for DatesConfig {
    fn default() -> Self {
        Self {
            formats: default_formats(),
            null_values: default_null_values(),
        }
    }
}

fn default_formats() -> Vec<String> {
    [
        "%Y-%m-%d",
        RFC3339,
        "%Y-%m-%d %H:%M:%S%:z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d%:z",
        ODATA,
    ]
    .map(String::from)
    .to_vec()
}

fn default_null_values() -> Vec<String> {
    vec!["0000-00-00".to_string(), String::new()]
}

const RFC3339: &str = "rfc3339";
const ODATA: &str = "odata";

/// What a date value turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DateValue {
    /// One of the null values: no date.
    Null,
    Date(NaiveDate),
    /// No format read it.
    Unreadable,
    /// A format read it, but the date is outside [`YEARS`] (or beyond any date at all:
    /// `/Date(8210266876799999+0001)/`).
    OutOfRange,
}

/// The years hrsync takes a date in: those every HR system and every directory time syntax
/// (four-digit GeneralizedTime) write. A year 0, a negative year or a year 200000 is an export
/// gone wrong, not a hire date: it rejects the record, named, like any unreadable date, rather
/// than schedule a termination no one meant. (9999-12-31, SAP's "no end date", is in.)
pub(crate) const YEARS: std::ops::RangeInclusive<i32> = 1..=9999;

/// What one format made of a value it read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    Date(NaiveDate),
    /// The value has the format's shape, but names no date chrono can hold (an OData timestamp
    /// or offset that overflows the calendar).
    OutOfRange,
}

impl DatesConfig {
    pub(crate) fn validate(&self, problems: &mut Vec<ConfigProblem>) {
        if self.formats.is_empty() {
            problems.push(ConfigProblem::new(
                "hr.dates.formats",
                "must list at least one format",
            ));
        }
        for (i, format) in self.formats.iter().enumerate() {
            if format == RFC3339 || format == ODATA {
                continue;
            }
            let items: Vec<Item<'_>> = StrftimeItems::new(format).collect();
            if items.contains(&Item::Error) || format.trim().is_empty() {
                problems.push(ConfigProblem::new(
                    format!("hr.dates.formats[{i}]"),
                    format!(
                        "{format:?} is not a chrono strftime pattern (like \"%Y-%m-%d\"), \
                         \"{RFC3339}\" or \"{ODATA}\""
                    ),
                ));
            }
        }
    }

    /// Reads a value with the first format that reads it. Never panics, whatever the value: an
    /// HR value is untrusted input, and one bad date must reject its record, not the run.
    pub(crate) fn read(&self, value: &str) -> DateValue {
        let trimmed = value.trim();
        if self.null_values.iter().any(|n| n.trim() == trimmed) {
            return DateValue::Null;
        }
        let reading = self
            .formats
            .iter()
            .find_map(|format| read_with(trimmed, format));
        match reading {
            None => DateValue::Unreadable,
            Some(Reading::Date(date)) if YEARS.contains(&date.year()) => DateValue::Date(date),
            Some(Reading::Date(_) | Reading::OutOfRange) => DateValue::OutOfRange,
        }
    }
}

fn read_with(value: &str, format: &str) -> Option<Reading> {
    match format {
        ODATA => read_odata(value),
        _ => parse_with(value, format).map(Reading::Date),
    }
}

/// A date by a strftime pattern or `rfc3339` (OData has [`read_odata`]).
fn parse_with(value: &str, format: &str) -> Option<NaiveDate> {
    // The usual case, read directly: the general way below first tries the pattern as a
    // date-time with an offset, then without, before it reads a plain date.
    if format == PLAIN_DATE {
        if let Some(date) = plain_date(value) {
            return Some(date);
        }
    }
    // chrono's parsers check their ranges (a date-time whose offset would carry it past the
    // calendar is an error, not a panic); only the OData reading shifts a date itself.
    match format {
        RFC3339 => DateTime::parse_from_rfc3339(value)
            .ok()
            .map(|dt| dt.date_naive()),
        pattern => DateTime::parse_from_str(value, pattern)
            .map(|dt| dt.date_naive())
            .or_else(|_| NaiveDateTime::parse_from_str(value, pattern).map(|dt| dt.date()))
            .or_else(|_| NaiveDate::parse_from_str(value, pattern))
            .ok(),
    }
}

const PLAIN_DATE: &str = "%Y-%m-%d";

/// `YYYY-MM-DD` with exactly four, two and two digits, when it is a date. Anything else (a
/// shorter year, a sign, an impossible day) is left to chrono, which decides what it means.
fn plain_date(value: &str) -> Option<NaiveDate> {
    let bytes = value.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        bytes[range].iter().try_fold(0u32, |n, b| {
            b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
        })
    };
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let year = i32::try_from(digits(0..4)?).ok()?;
    NaiveDate::from_ymd_opt(year, digits(5..7)?, digits(8..10)?)
}

/// `/Date(1388534400000)/` or `/Date(1587059032000+0000)/`: milliseconds since the epoch (UTC),
/// with an optional offset (`+HHMM`, `-HHMM`, minutes under 60) that says in which zone the
/// date is meant. `None` when the value is not in this shape; `OutOfRange` when it is, but the
/// instant, or the date in the stated zone, is beyond the calendar chrono holds. (Shifting by
/// the offset with `with_timezone(..).date_naive()` panics there: `/Date(8210266876799999+0001)/`
/// is the last millisecond chrono can hold, one minute east.)
fn read_odata(value: &str) -> Option<Reading> {
    let (millis, offset) = odata_parts(value)?;
    let local = DateTime::from_timestamp_millis(millis)
        .and_then(|utc| utc.naive_utc().checked_add_offset(offset));
    Some(local.map_or(Reading::OutOfRange, |local| Reading::Date(local.date())))
}

/// The milliseconds and the offset of an OData date, checked for shape only.
fn odata_parts(value: &str) -> Option<(i64, FixedOffset)> {
    let inner = value.strip_prefix("/Date(")?.strip_suffix(")/")?;
    // The sign of the offset, if any, is after the first digit (the milliseconds may be negative).
    let split = inner
        .char_indices()
        .skip(1)
        .find(|(_, c)| *c == '+' || *c == '-')
        .map(|(i, _)| i);
    let (millis, offset) = match split {
        Some(i) => (&inner[..i], Some(&inner[i..])),
        None => (inner, None),
    };
    let millis: i64 = millis.parse().ok()?;
    let offset = match offset {
        None => FixedOffset::east_opt(0)?,
        Some(text) => odata_offset(text)?,
    };
    Some((millis, offset))
}

/// `+HHMM` or `-HHMM`, under 24 hours, minutes under 60.
fn odata_offset(text: &str) -> Option<FixedOffset> {
    let sign = if text.starts_with('-') { -1 } else { 1 };
    let digits = text.get(1..)?;
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i32 = digits[..2].parse().ok()?;
    let minutes: i32 = digits[2..].parse().ok()?;
    if minutes >= 60 {
        return None;
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> DateValue {
        DateValue::Date(NaiveDate::from_ymd_opt(y, m, d).unwrap())
    }

    #[test]
    fn default_formats_read_every_documented_vendor_shape() {
        let dates = DatesConfig::default();
        // BambooHR, HiBob, Deel
        assert_eq!(dates.read("2023-03-20"), date(2023, 3, 20));
        // Personio v1: the date as written, not shifted to UTC (which would be 8 November).
        assert_eq!(dates.read("2014-11-09 00:00:00+01:00"), date(2014, 11, 9));
        // RFC 3339 and ISO forms
        assert_eq!(dates.read("2024-01-31T23:30:00-05:00"), date(2024, 1, 31));
        assert_eq!(dates.read("2024-01-31T23:30:00Z"), date(2024, 1, 31));
        assert_eq!(
            dates.read("2024-01-31T08:00:00.000+0100"),
            date(2024, 1, 31)
        );
        assert_eq!(dates.read("2024-01-31T08:00:00"), date(2024, 1, 31));
        assert_eq!(dates.read("2024-01-31+02:00"), date(2024, 1, 31));
        // SuccessFactors OData
        assert_eq!(dates.read("/Date(1388534400000)/"), date(2014, 1, 1));
        assert_eq!(dates.read("/Date(1587059032000+0000)/"), date(2020, 4, 16));
    }

    #[test]
    fn null_values_mean_no_date_and_garbage_is_unreadable() {
        let dates = DatesConfig::default();
        assert_eq!(dates.read("0000-00-00"), DateValue::Null);
        assert_eq!(dates.read(" "), DateValue::Null);
        assert_eq!(dates.read("31/12/2020"), DateValue::Unreadable);
        assert_eq!(dates.read("2020-02-30"), DateValue::Unreadable);
        assert_eq!(dates.read("2020-01-01 trailing"), DateValue::Unreadable);
        assert_eq!(dates.read("/Date(abc)/"), DateValue::Unreadable);
    }

    fn odata(value: &str) -> Option<NaiveDate> {
        match read_odata(value)? {
            Reading::Date(date) => Some(date),
            Reading::OutOfRange => None,
        }
    }

    #[test]
    fn odata_offsets_move_the_date_into_the_stated_zone() {
        // 2020-04-16T23:30:00Z is already 17 April at +01:00.
        assert_eq!(
            odata("/Date(1587079800000+0100)/"),
            NaiveDate::from_ymd_opt(2020, 4, 17)
        );
        assert_eq!(
            odata("/Date(1587079800000)/"),
            NaiveDate::from_ymd_opt(2020, 4, 16)
        );
        assert_eq!(
            odata("/Date(-86400000)/"),
            NaiveDate::from_ymd_opt(1969, 12, 31)
        );
        // 2020-04-16T00:30:00Z is still 15 April at -01:00.
        assert_eq!(
            odata("/Date(1586997000000-0100)/"),
            NaiveDate::from_ymd_opt(2020, 4, 15)
        );
    }

    /// Issue 16.10a: this value panicked inside chrono (`Local time out of range`), which
    /// stopped every run; it is a date past the calendar, and rejects its record only.
    #[test]
    fn dates_past_the_calendar_are_out_of_range_not_a_panic() {
        let dates = DatesConfig::default();
        for value in [
            "/Date(8210266876799999+0001)/",
            "/Date(8210266876799999+2359)/",
            "/Date(-8334601228800000-2359)/",
            "/Date(9223372036854775807)/",
            "/Date(-9223372036854775808)/",
            "/Date(9223372036854775807+2359)/",
            // Dates chrono holds, outside the years HR means.
            "/Date(8210266876799999)/",
            "/Date(-62135596800001)/",
            "/Date(253402300800000)/",
            "0000-01-01",
            "+10000-01-01",
            "+262142-12-31",
            "-0001-12-31",
            "-262143-01-01T00:00:00+00:00",
        ] {
            assert_eq!(dates.read(value), DateValue::OutOfRange, "{value:?}");
        }
        // The first and last days in range, SAP's 9999-12-31 among them.
        assert_eq!(dates.read("0001-01-01"), date(1, 1, 1));
        assert_eq!(dates.read("/Date(-62135596800000)/"), date(1, 1, 1));
        assert_eq!(dates.read("/Date(253402214400000)/"), date(9999, 12, 31));
        assert_eq!(dates.read("9999-12-31T23:59:59-23:59"), date(9999, 12, 31));
    }

    #[test]
    fn odata_offsets_must_be_hours_and_minutes() {
        let dates = DatesConfig::default();
        for value in [
            "/Date(0+0060)/",
            "/Date(0+2400)/",
            "/Date(0+99999)/",
            "/Date(0+01)/",
            "/Date(0+)/",
            "/Date(0-)/",
            "/Date(0+０１００)/",
            "/Date(+)/",
            "/Date()/",
        ] {
            assert_eq!(dates.read(value), DateValue::Unreadable, "{value:?}");
        }
        assert_eq!(dates.read("/Date(0+2359)/"), date(1970, 1, 1));
        assert_eq!(dates.read("/Date(0-0001)/"), date(1969, 12, 31));
    }

    /// The strings the property test builds: shapes every format accepts, with their numbers
    /// (years, milliseconds, offsets) pushed to and past their limits.
    fn date_like() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let offset = prop_oneof![
            Just(String::new()),
            Just("Z".to_string()),
            (any::<bool>(), 0u32..100, 0u32..100)
                .prop_map(|(east, h, m)| format!("{}{h:02}:{m:02}", if east { '+' } else { '-' })),
            (any::<bool>(), 0u32..10000)
                .prop_map(|(east, hm)| format!("{}{hm:04}", if east { '+' } else { '-' })),
        ];
        let year = prop_oneof![
            any::<i32>().prop_map(|y| y.to_string()),
            (-300_000i32..300_000).prop_map(|y| format!("{y:+}")),
            (0u32..10000).prop_map(|y| format!("{y:04}")),
            Just("99999999999999999999".to_string()),
        ];
        let millis = prop_oneof![
            any::<i64>(),
            -8_400_000_000_000_000i64..8_400_000_000_000_000,
            Just(8_210_266_876_799_999i64),
            Just(-8_334_601_228_800_000i64),
        ];
        prop_oneof![
            (millis, offset.clone())
                .prop_map(|(ms, off)| { format!("/Date({ms}{})/", off.replace([':', 'Z'], "")) }),
            (year, 0u32..14, 0u32..33, 0u32..25, 0u32..61, offset).prop_map(
                |(y, mo, d, h, mi, off)| match h % 3 {
                    0 => format!("{y}-{mo:02}-{d:02}{off}"),
                    1 => format!("{y}-{mo:02}-{d:02}T{h:02}:{mi:02}:59.999{off}"),
                    _ => format!("{y}-{mo:02}-{d:02} {h:02}:{mi:02}:00{off}"),
                }
            ),
            ".{0,40}",
        ]
    }

    proptest::proptest! {
        /// No string makes the date reader panic, with the default formats and with patterns
        /// that read timestamps, week dates and ordinals; a date it returns is in [`YEARS`].
        #[test]
        fn no_string_makes_the_date_reader_panic(value in date_like()) {
            let configured = DatesConfig {
                formats: vec![
                    "%s".into(),
                    "%G-W%V-%u".into(),
                    "%Y-%j".into(),
                    "%d.%m.%Y %H:%M %z".into(),
                    "%+".into(),
                ],
                null_values: vec![],
            };
            for dates in [DatesConfig::default(), configured] {
                if let DateValue::Date(date) = dates.read(&value) {
                    proptest::prop_assert!(YEARS.contains(&date.year()), "{value:?}: {date}");
                }
            }
        }
    }

    #[test]
    fn configured_formats_are_tried_in_order() {
        let dates = DatesConfig {
            formats: vec!["%d.%m.%Y".into(), "%m/%d/%Y".into()],
            null_values: vec![],
        };
        assert_eq!(dates.read("03.04.2021"), date(2021, 4, 3));
        assert_eq!(dates.read("04/03/2021"), date(2021, 4, 3));
        assert_eq!(dates.read(""), DateValue::Unreadable);
    }

    #[test]
    fn a_bad_pattern_is_a_problem_naming_its_position() {
        let mut problems = Vec::new();
        DatesConfig {
            formats: vec!["%Y-%m-%d".into(), "%Q".into()],
            null_values: vec![],
        }
        .validate(&mut problems);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].key, "hr.dates.formats[1]");
    }

    /// What chrono makes of a value with a pattern, the way [`parse_with`] asks it.
    fn by_chrono(value: &str, pattern: &str) -> Option<NaiveDate> {
        DateTime::parse_from_str(value, pattern)
            .map(|dt| dt.date_naive())
            .or_else(|_| NaiveDateTime::parse_from_str(value, pattern).map(|dt| dt.date()))
            .or_else(|_| NaiveDate::parse_from_str(value, pattern))
            .ok()
    }

    #[test]
    fn plain_dates_read_directly_agree_with_chrono() {
        for value in [
            "2023-03-20",
            "0000-01-01",
            "9999-12-31",
            "2024-02-29",
            "2023-02-29",
            "2023-13-01",
            "2023-00-10",
            "2023-01-32",
            "2023-1-05",
            "23-01-2023",
            "2023/01/05",
            "+2023-01-05",
            "-2023-01-05",
            "2023-01-05 ",
            "2023-01-0x",
            "２０２３-01-05",
            "",
        ] {
            assert_eq!(
                parse_with(value, PLAIN_DATE),
                by_chrono(value, PLAIN_DATE),
                "{value:?}"
            );
        }
        // Every month and day of a leap and a common year, and beyond.
        for year in ["2023", "2024", "1900", "2000"] {
            for month in 0..=13 {
                for day in 0..=32 {
                    let value = format!("{year}-{month:02}-{day:02}");
                    assert_eq!(
                        parse_with(&value, PLAIN_DATE),
                        by_chrono(&value, PLAIN_DATE),
                        "{value:?}"
                    );
                }
            }
        }
    }
}
