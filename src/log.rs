//! hclog-compatible JSON log lines on stderr, which Terraform's plugin client re-emits.
//!
//! Terraform (through go-plugin) reads the provider's stderr; a line that parses as an
//! hclog JSON object is re-logged at its own level under `provider.terraform-provider-mrs`,
//! anything else is logged at DEBUG as raw text. Terraform 1.0.3 only accepts a
//! `@timestamp` with exactly six fractional digits, so the timestamp is formatted here
//! by hand rather than trusting a library's default precision.
//!
//! The level comes from `TF_LOG_PROVIDER`, else `TF_LOG` (the same variables Terraform
//! reads, and Terraform passes its environment to the provider), so `TF_LOG=debug
//! terraform plan` shows our debug lines and an ordinary run writes nothing.
//!
//! Never log a secret: callers pass only values that are safe to show (the credential
//! types print `***`). Nothing here redacts.
//!
//! Use the macros: `crate::log_debug!("reading cluster", cluster_id = id)`. They check
//! [`enabled`] (one relaxed atomic load) before formatting anything.

use std::fmt::{self, Display, Write as _};
use std::io::Write as _;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Severity of a log line, ordered from most to least verbose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Level {
    /// Wire-level detail (every request and response).
    Trace = 0,
    /// What a developer needs to follow one operation.
    Debug = 1,
    /// Notable events in a normal run.
    Info = 2,
    /// Something odd that did not stop the operation.
    Warn = 3,
    /// An operation failed.
    Error = 4,
}

impl Level {
    /// The name hclog uses in `@level`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

impl Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Stored in [`THRESHOLD`] when logging is off: above every level.
const OFF: u8 = 5;

/// The least severe level that is written; [`OFF`] writes nothing. Logging is the only
/// process-wide state here, and it is set once at start-up.
static THRESHOLD: AtomicU8 = AtomicU8::new(OFF);

/// Reads `TF_LOG_PROVIDER`, else `TF_LOG`, and sets the level. Call once at start-up.
pub fn init() {
    set_level(level_from_lookup(|name| std::env::var(name).ok()));
}

/// Sets the threshold directly; `None` turns logging off.
pub fn set_level(level: Option<Level>) {
    THRESHOLD.store(level.map_or(OFF, |l| l as u8), Ordering::Relaxed);
}

/// Whether a line at `level` would be written. Cheap: one relaxed atomic load.
#[inline]
pub fn enabled(level: Level) -> bool {
    (level as u8) >= THRESHOLD.load(Ordering::Relaxed)
}

/// The level the environment asks for: `TF_LOG_PROVIDER` wins over `TF_LOG`, as in
/// Terraform; an empty variable counts as unset.
pub fn level_from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Option<Level> {
    let value = ["TF_LOG_PROVIDER", "TF_LOG"]
        .into_iter()
        .filter_map(&lookup)
        .map(|v| v.trim().to_string())
        .find(|v| !v.is_empty())?;
    parse_level(&value)
}

/// Parses a `TF_LOG` value. `json` (Terraform's JSON log mode) means trace; `off` means
/// nothing; any other unrecognised value means trace, because that is what Terraform
/// itself does with it, and the person asked for logs.
pub fn parse_level(value: &str) -> Option<Level> {
    match value.trim().to_ascii_lowercase().as_str() {
        "" | "off" => None,
        "trace" | "json" => Some(Level::Trace),
        "debug" => Some(Level::Debug),
        "info" => Some(Level::Info),
        "warn" | "warning" => Some(Level::Warn),
        "error" => Some(Level::Error),
        _ => Some(Level::Trace),
    }
}

/// Writes one line at `level` if enabled. Prefer the `log_*!` macros, which skip
/// formatting the fields when the level is off.
pub fn emit(level: Level, message: &dyn Display, fields: &[(&str, &dyn Display)]) {
    if !enabled(level) {
        return;
    }
    let line = format_line(level, message, fields, SystemTime::now());
    // One write per line so concurrent tasks never interleave inside a line; a failed
    // write to stderr has nowhere better to be reported, so it is dropped.
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(line.as_bytes());
    let _ = err.flush();
}

/// Formats one hclog JSON line, newline included.
pub fn format_line(
    level: Level,
    message: &dyn Display,
    fields: &[(&str, &dyn Display)],
    now: SystemTime,
) -> String {
    let mut line = String::with_capacity(128);
    line.push_str("{\"@level\":\"");
    line.push_str(level.as_str());
    line.push_str("\",\"@message\":");
    push_json_string(&mut line, &message.to_string());
    line.push_str(",\"@module\":\"provider\",\"@timestamp\":\"");
    line.push_str(&format_timestamp(now));
    line.push('"');
    for (key, value) in fields {
        line.push(',');
        push_json_string(&mut line, key);
        line.push(':');
        push_json_string(&mut line, &value.to_string());
    }
    line.push_str("}\n");
    line
}

fn push_json_string(out: &mut String, s: &str) {
    // serde_json's string serializer escapes quotes, backslashes and control characters
    // exactly as JSON requires; serializing a &str cannot fail.
    match serde_json::to_string(s) {
        Ok(quoted) => out.push_str(&quoted),
        Err(_) => out.push_str("\"\""),
    }
}

/// `2006-01-02T15:04:05.000000Z` in UTC, always six fractional digits (what Terraform
/// 1.0.3's hclog parser demands). Times before 1970 clamp to the epoch.
pub fn format_timestamp(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let micros = since.subsec_micros();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    let mut out = String::with_capacity(27);
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    );
    out
}

/// Proleptic Gregorian (year, month, day) for a count of days since 1970-01-01, by the
/// era arithmetic of Howard Hinnant's `civil_from_days`: shifting the year to start in
/// March puts the leap day at the end, so each 400-year era is uniform.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365], from March 1st
    let mp = (5 * doy + 2) / 153; // [0, 11], March = 0
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Logs at an explicit level: `log_at!(Level::Info, "msg", key = value)`.
#[macro_export]
macro_rules! log_at {
    ($level:expr, $msg:expr $(, $key:ident = $value:expr)* $(,)?) => {{
        let level = $level;
        if $crate::log::enabled(level) {
            $crate::log::emit(
                level,
                &$msg,
                &[$((::std::stringify!($key), &$value as &dyn ::std::fmt::Display)),*],
            );
        }
    }};
}

/// Logs at trace: `log_trace!("msg", key = value, ...)`.
#[macro_export]
macro_rules! log_trace {
    ($($t:tt)*) => { $crate::log_at!($crate::log::Level::Trace, $($t)*) };
}

/// Logs at debug: `log_debug!("msg", key = value, ...)`.
#[macro_export]
macro_rules! log_debug {
    ($($t:tt)*) => { $crate::log_at!($crate::log::Level::Debug, $($t)*) };
}

/// Logs at info: `log_info!("msg", key = value, ...)`.
#[macro_export]
macro_rules! log_info {
    ($($t:tt)*) => { $crate::log_at!($crate::log::Level::Info, $($t)*) };
}

/// Logs at warn: `log_warn!("msg", key = value, ...)`.
#[macro_export]
macro_rules! log_warn {
    ($($t:tt)*) => { $crate::log_at!($crate::log::Level::Warn, $($t)*) };
}

/// Logs at error: `log_error!("msg", key = value, ...)`.
#[macro_export]
macro_rules! log_error {
    ($($t:tt)*) => { $crate::log_at!($crate::log::Level::Error, $($t)*) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64, micros: u32) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(u64::from(micros))
    }

    #[test]
    fn timestamp_has_six_fraction_digits() {
        assert_eq!(format_timestamp(at(0, 0)), "1970-01-01T00:00:00.000000Z");
        assert_eq!(format_timestamp(at(0, 7)), "1970-01-01T00:00:00.000007Z");
        // 2026-11-21T07:35:58.123456Z
        assert_eq!(
            format_timestamp(at(1_795_246_558, 123_456)),
            "2026-11-21T07:35:58.123456Z"
        );
        // Nanoseconds below a microsecond are truncated, never rounded up to 7 digits.
        let t = UNIX_EPOCH + Duration::from_nanos(999_999_999);
        assert_eq!(format_timestamp(t), "1970-01-01T00:00:00.999999Z");
    }

    #[test]
    fn timestamp_before_epoch_clamps() {
        let t = UNIX_EPOCH - Duration::from_secs(10);
        assert_eq!(format_timestamp(t), "1970-01-01T00:00:00.000000Z");
    }

    #[test]
    fn civil_dates_including_leap_years() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(59), (1970, 3, 1)); // 1970 is not a leap year
                                                       // 2000 is a leap year (divisible by 400).
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(11_017), (2000, 3, 1));
        // 2024 is a leap year; 2100 is not (divisible by 100, not 400).
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(47_540), (2100, 2, 28));
        assert_eq!(civil_from_days(47_541), (2100, 3, 1));
        assert_eq!(civil_from_days(19_722), (2023, 12, 31));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
    }

    #[test]
    fn civil_dates_agree_with_a_day_by_day_walk() {
        // Walk forward from 1970-01-01 counting month lengths by the leap rule.
        let (mut y, mut m, mut d) = (1970i64, 1u32, 1u32);
        for days in 0..200_000 {
            assert_eq!(civil_from_days(days), (y, m, d), "day {days}");
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let len = match m {
                2 if leap => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            d += 1;
            if d > len {
                d = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
        }
    }

    #[test]
    fn line_is_json_with_escaped_fields() {
        let msg = "quote \" backslash \\ newline \n tab \t bell \u{7} é";
        let line = format_line(
            Level::Debug,
            &msg,
            &[("path", &"a\"b"), ("count", &3)],
            at(1_795_246_558, 123_456),
        );
        assert!(line.ends_with("}\n"));
        assert_eq!(line.matches('\n').count(), 1, "exactly one line: {line:?}");
        let v: serde_json::Value = serde_json::from_str(line.trim_end()).unwrap();
        assert_eq!(v["@level"], "debug");
        assert_eq!(v["@message"], msg);
        assert_eq!(v["@module"], "provider");
        assert_eq!(v["@timestamp"], "2026-11-21T07:35:58.123456Z");
        assert_eq!(v["path"], "a\"b");
        assert_eq!(v["count"], "3");
        assert!(line.starts_with("{\"@level\":\"debug\",\"@message\":"));
    }

    #[test]
    fn level_parsing() {
        assert_eq!(parse_level("DEBUG"), Some(Level::Debug));
        assert_eq!(parse_level("trace"), Some(Level::Trace));
        assert_eq!(parse_level("json"), Some(Level::Trace));
        assert_eq!(parse_level("info"), Some(Level::Info));
        assert_eq!(parse_level("WARN"), Some(Level::Warn));
        assert_eq!(parse_level("error"), Some(Level::Error));
        assert_eq!(parse_level("off"), None);
        assert_eq!(parse_level("1"), Some(Level::Trace));
    }

    #[test]
    fn provider_variable_wins_and_empty_is_unset() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(level_from_lookup(env(&[])), None);
        assert_eq!(
            level_from_lookup(env(&[("TF_LOG", "info")])),
            Some(Level::Info)
        );
        assert_eq!(
            level_from_lookup(env(&[("TF_LOG", "info"), ("TF_LOG_PROVIDER", "trace")])),
            Some(Level::Trace)
        );
        assert_eq!(
            level_from_lookup(env(&[("TF_LOG", "debug"), ("TF_LOG_PROVIDER", "")])),
            Some(Level::Debug)
        );
        assert_eq!(
            level_from_lookup(env(&[("TF_LOG", "debug"), ("TF_LOG_PROVIDER", "off")])),
            None
        );
    }

    #[test]
    fn macros_compile_and_respect_the_level() {
        // The threshold is process-wide; this is the only test that changes it.
        set_level(Some(Level::Warn));
        assert!(enabled(Level::Error));
        assert!(enabled(Level::Warn));
        assert!(!enabled(Level::Info));
        let mut formatted = false;
        let mut probe = || {
            formatted = true;
            "x"
        };
        crate::log_debug!("not written", value = probe());
        assert!(
            !formatted,
            "fields of a disabled level must not be evaluated"
        );
        crate::log_trace!("t");
        crate::log_info!("i", a = 1, b = "two",);
        set_level(None);
        assert!(!enabled(Level::Error));
        crate::log_error!("e", a = 1);
        crate::log_warn!("w");
    }
}
