//! The log sink: `tracing` events, ours and those of tonic, h2, hyper-util, rustls and
//! reqwest, written as hclog JSON lines on stderr, which Terraform's plugin client re-emits.
//!
//! Terraform (through go-plugin) reads the provider's stderr; a line that parses as an
//! hclog JSON object is re-logged at its own level under `provider.terraform-provider-mrs`,
//! anything else is logged at DEBUG as raw text. Terraform 1.0.3 only accepts a
//! `@timestamp` with exactly six fractional digits, so the timestamp is formatted here
//! rather than trusting a library's default precision.
//!
//! The level comes from `TF_LOG_PROVIDER`, else `TF_LOG` (the same variables Terraform
//! reads, and Terraform passes its environment to the provider), so `TF_LOG=debug
//! terraform plan` shows our debug lines and an ordinary run writes nothing. Other crates'
//! events (and `log` records, bridged) are written only at trace: below that they would
//! drown ours. The fields of every span around an event (`tf_rpc`, `tf_req_id`, the API
//! call's `method`, `path`...) are written on its line as hclog key/values.
//!
//! Never log a secret: callers pass only values that are safe to show (the credential
//! types print `***`). Nothing here redacts.
//!
//! Use the macros: `crate::log_debug!("reading cluster", cluster_id = id)`, thin wrappers
//! over `tracing`'s, which evaluate and format nothing when the level is off (one relaxed
//! atomic load).

use std::fmt::{self, Display, Write as _};
use std::io::Write as _;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};
use tracing_log::NormalizeEvent as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;

#[doc(hidden)]
pub use tracing as __tracing;

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

    fn from_tracing(level: tracing::Level) -> Level {
        match level {
            tracing::Level::TRACE => Level::Trace,
            tracing::Level::DEBUG => Level::Debug,
            tracing::Level::INFO => Level::Info,
            tracing::Level::WARN => Level::Warn,
            tracing::Level::ERROR => Level::Error,
        }
    }

    fn filter(threshold: Option<Level>) -> tracing::level_filters::LevelFilter {
        use tracing::level_filters::LevelFilter;
        match threshold {
            None => LevelFilter::OFF,
            Some(Level::Trace) => LevelFilter::TRACE,
            Some(Level::Debug) => LevelFilter::DEBUG,
            Some(Level::Info) => LevelFilter::INFO,
            Some(Level::Warn) => LevelFilter::WARN,
            Some(Level::Error) => LevelFilter::ERROR,
        }
    }
}

impl Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Stored in a threshold when logging is off: above every level.
const OFF: u8 = 5;

/// The least severe level that is written; [`OFF`] writes nothing. Logging is the only
/// process-wide state here, and it is set once at start-up.
static THRESHOLD: AtomicU8 = AtomicU8::new(OFF);

fn load(threshold: &AtomicU8) -> Option<Level> {
    match threshold.load(Ordering::Relaxed) {
        0 => Some(Level::Trace),
        1 => Some(Level::Debug),
        2 => Some(Level::Info),
        3 => Some(Level::Warn),
        4 => Some(Level::Error),
        _ => None,
    }
}

/// Reads `TF_LOG_PROVIDER`, else `TF_LOG`, sets the level and installs the stderr sink
/// as the process's `tracing` subscriber. Call once at start-up.
pub fn init() {
    let level = level_from_lookup(|name| std::env::var(name).ok());
    set_level(level);
    let sink = HclogLayer::new(&THRESHOLD, write_stderr);
    // Fails only if a subscriber is already installed, and then that one stays.
    let _ = tracing_subscriber::registry().with(sink).try_init();
    if level == Some(Level::Trace) {
        // rustls and reqwest log through `log`; forwarded only when they are wanted, so
        // otherwise their `log!` calls stop at `log`'s own max level (off).
        let _ = tracing_log::LogTracer::builder()
            .with_max_level(log::LevelFilter::Trace)
            .init();
    }
}

/// Sets the threshold directly; `None` turns logging off.
pub fn set_level(level: Option<Level>) {
    THRESHOLD.store(level.map_or(OFF, |l| l as u8), Ordering::Relaxed);
    // `tracing` caches which call sites are on and the highest level anyone wants.
    tracing::callsite::rebuild_interest_cache();
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

/// One write per line so concurrent tasks never interleave inside a line; a failed write
/// to stderr has nowhere better to be reported, so it is dropped.
fn write_stderr(line: &[u8]) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(line);
    let _ = err.flush();
}

/// The crate whose events are written at every enabled level; the binaries' targets
/// (`terraform_provider_mrs`, from `main.rs`) share the library's name.
const OUR_TARGET: &str = "terraform_provider_mrs";

fn is_ours(target: &str) -> bool {
    target == OUR_TARGET || target.starts_with("terraform_provider_mrs::")
}

/// hclog's `@module`: `provider` for our lines (what Terraform shows), `provider.h2` and
/// the like for another crate's, as hclog names sub-loggers.
fn module_of(target: &str) -> String {
    if is_ours(target) {
        return "provider".to_string();
    }
    let krate = target.split("::").next().unwrap_or(target);
    format!("provider.{krate}")
}

/// A `tracing_subscriber` layer writing each enabled event as one hclog JSON line, with
/// the fields of the spans around it. `write` receives whole lines.
pub struct HclogLayer<W> {
    threshold: &'static AtomicU8,
    write: W,
}

impl<W: Fn(&[u8]) + Send + Sync + 'static> HclogLayer<W> {
    /// Writes through `write` the events `threshold` (as [`set_level`] stores it) allows.
    pub fn new(threshold: &'static AtomicU8, write: W) -> Self {
        HclogLayer { threshold, write }
    }

    fn wants(&self, meta: &Metadata<'_>) -> bool {
        let Some(threshold) = load(self.threshold) else {
            return false;
        };
        Level::from_tracing(*meta.level()) >= threshold
            && (threshold == Level::Trace || is_ours(meta.target()))
    }
}

/// Key/values of a span, kept in the registry's extensions until the span closes.
struct SpanFields(Vec<(&'static str, String)>);

/// Collects fields as strings, a later value replacing an earlier one of the same name
/// (an inner span's or the event's own field wins over an outer span's).
#[derive(Default)]
struct Collect {
    message: Option<String>,
    fields: Vec<(&'static str, String)>,
}

impl Collect {
    fn put(&mut self, name: &'static str, value: String) {
        if name == "message" {
            self.message = Some(value);
        } else if name.starts_with("log.") {
            // The `log` bridge's own bookkeeping (target, file, line): not a key/value.
        } else if let Some(slot) = self.fields.iter_mut().find(|(k, _)| *k == name) {
            slot.1 = value;
        } else {
            self.fields.push((name, value));
        }
    }
}

impl Visit for Collect {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field.name(), value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field.name(), format!("{value:?}"));
    }
}

impl<S, W> Layer<S> for HclogLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: Fn(&[u8]) + Send + Sync + 'static,
{
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        // `set_level` rebuilds this cache, so a call site switched off here comes back.
        if self.wants(meta) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, meta: &Metadata<'_>, _: Context<'_, S>) -> bool {
        self.wants(meta)
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(Level::filter(load(self.threshold)))
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut collect = Collect::default();
        attrs.record(&mut collect);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(collect.fields));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(SpanFields(fields)) = extensions.get_mut::<SpanFields>() {
            let mut collect = Collect {
                message: None,
                fields: std::mem::take(fields),
            };
            values.record(&mut collect);
            *fields = collect.fields;
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut collect = Collect::default();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(SpanFields(fields)) = span.extensions().get::<SpanFields>() {
                    for (k, v) in fields {
                        collect.put(k, v.clone());
                    }
                }
            }
        }
        event.record(&mut collect);
        // A `log` record arrives under the bridge's call site; its real target is inside.
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        let fields: Vec<(&str, &dyn Display)> = collect
            .fields
            .iter()
            .map(|(k, v)| (*k, v as &dyn Display))
            .collect();
        let line = format_line_in(
            &module_of(meta.target()),
            Level::from_tracing(*meta.level()),
            &collect.message.as_deref().unwrap_or_default(),
            &fields,
            SystemTime::now(),
        );
        (self.write)(line.as_bytes());
    }
}

/// Formats one hclog JSON line of our own (`@module` = `provider`), newline included.
/// Only the tests format lines without a module of their own.
#[cfg(test)]
pub fn format_line(
    level: Level,
    message: &dyn Display,
    fields: &[(&str, &dyn Display)],
    now: SystemTime,
) -> String {
    format_line_in("provider", level, message, fields, now)
}

/// Formats one hclog JSON line under `module`, newline included.
pub fn format_line_in(
    module: &str,
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
    line.push_str(",\"@module\":");
    push_json_string(&mut line, module);
    line.push_str(",\"@timestamp\":\"");
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
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX);
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
/// `time` crate's calendar; a day past what it holds (year 9999) reads as its last day.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let epoch = time::OffsetDateTime::UNIX_EPOCH.date();
    let date = epoch
        // Clamped first: `Duration::days` overflows past ±1e14 days; the calendar ends far sooner.
        .checked_add(time::Duration::days(days.clamp(-10_000_000, 10_000_000)))
        .unwrap_or(if days < 0 {
            time::Date::MIN
        } else {
            time::Date::MAX
        });
    (
        i64::from(date.year()),
        u32::from(u8::from(date.month())),
        u32::from(date.day()),
    )
}

/// Logs at trace: `log_trace!("msg", key = value, ...)`. Values are `Display`ed, and only
/// evaluated when the line is written.
#[macro_export]
macro_rules! log_trace {
    ($($t:tt)*) => { $crate::__log_event!(TRACE, $($t)*) };
}

/// Logs at debug: `log_debug!("msg", key = value, ...)`.
#[macro_export]
macro_rules! log_debug {
    ($($t:tt)*) => { $crate::__log_event!(DEBUG, $($t)*) };
}

/// Logs at info: `log_info!("msg", key = value, ...)`.
#[macro_export]
macro_rules! log_info {
    ($($t:tt)*) => { $crate::__log_event!(INFO, $($t)*) };
}

/// Logs at warn: `log_warn!("msg", key = value, ...)`.
#[macro_export]
macro_rules! log_warn {
    ($($t:tt)*) => { $crate::__log_event!(WARN, $($t)*) };
}

/// Logs at error: `log_error!("msg", key = value, ...)`.
#[macro_export]
macro_rules! log_error {
    ($($t:tt)*) => { $crate::__log_event!(ERROR, $($t)*) };
}

/// The `log_*!` macros' common body: one `tracing` event at `$level`.
#[doc(hidden)]
#[macro_export]
macro_rules! __log_event {
    ($level:ident, $msg:expr $(, $key:ident = $value:expr)* $(,)?) => {
        $crate::log::__tracing::event!(
            $crate::log::__tracing::Level::$level,
            $($key = %$value,)*
            "{}",
            $msg
        )
    };
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

    /// Runs `f` with an [`HclogLayer`] at `level` as this thread's subscriber and returns
    /// the lines it wrote, parsed.
    fn captured(level: Option<Level>, f: impl FnOnce()) -> Vec<serde_json::Value> {
        use std::sync::{Arc, Mutex};
        use tracing_subscriber::layer::SubscriberExt as _;
        let threshold: &'static AtomicU8 = Box::leak(Box::new(AtomicU8::new(OFF)));
        threshold.store(level.map_or(OFF, |l| l as u8), Ordering::Relaxed);
        let out = Arc::new(Mutex::new(Vec::<u8>::new()));
        let sink = out.clone();
        let layer = HclogLayer::new(threshold, move |line: &[u8]| {
            sink.lock().unwrap().extend_from_slice(line)
        });
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), f);
        let text = String::from_utf8(out.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    #[test]
    fn events_carry_the_fields_of_their_spans_innermost_winning() {
        let lines = captured(Some(Level::Debug), || {
            let rpc = tracing::error_span!("rpc", tf_rpc = "ReadResource", tf_req_id = "r-1");
            let _rpc = rpc.enter();
            let call = tracing::error_span!(
                "call",
                method = "GET",
                status = tracing::field::Empty,
                tf_req_id = "inner"
            );
            let _call = call.enter();
            call.record("status", 200);
            crate::log_debug!("MRS API call", attempt = 1, method = "POST");
            crate::log_trace!("below the level");
        });
        assert_eq!(lines.len(), 1, "{lines:?}");
        let l = &lines[0];
        assert_eq!(l["@level"], "debug");
        assert_eq!(l["@message"], "MRS API call");
        assert_eq!(l["@module"], "provider");
        assert_eq!(l["tf_rpc"], "ReadResource");
        assert_eq!(l["tf_req_id"], "inner");
        assert_eq!(l["status"], "200");
        assert_eq!(l["method"], "POST");
        assert_eq!(l["attempt"], "1");
        let ts = l["@timestamp"].as_str().unwrap();
        let fraction = ts.split('.').nth(1).unwrap();
        assert_eq!(fraction.len(), "000000Z".len(), "{ts}");
    }

    #[test]
    fn other_crates_are_written_only_at_trace() {
        let emit = || {
            tracing::debug!(target: "h2::proto::connection", frame = "Settings", "received");
            crate::log_debug!("ours");
        };
        let debug = captured(Some(Level::Debug), emit);
        assert_eq!(debug.len(), 1, "{debug:?}");
        assert_eq!(debug[0]["@message"], "ours");
        let trace = captured(Some(Level::Trace), emit);
        assert_eq!(trace.len(), 2, "{trace:?}");
        assert_eq!(trace[0]["@module"], "provider.h2");
        assert_eq!(trace[0]["@message"], "received");
        assert_eq!(trace[0]["frame"], "Settings");
        assert!(captured(None, emit).is_empty());
    }

    #[test]
    fn log_records_keep_their_crate_and_lose_the_bridge_fields() {
        let lines = captured(Some(Level::Trace), || {
            // One statement: the record borrows its `format_args!` temporary.
            tracing_log::format_trace(
                &log::Record::builder()
                    .args(format_args!("No cached session for {}", "example"))
                    .level(log::Level::Debug)
                    .target("rustls::client::hs")
                    .module_path_static(Some("rustls::client::hs"))
                    .file_static(Some("hs.rs"))
                    .line(Some(7))
                    .build(),
            )
            .unwrap();
        });
        assert_eq!(lines.len(), 1, "{lines:?}");
        let l = lines[0].as_object().unwrap();
        assert_eq!(l["@module"], "provider.rustls");
        assert_eq!(l["@level"], "debug");
        assert_eq!(l["@message"], "No cached session for example");
        assert!(!l.keys().any(|k| k.starts_with("log.")), "{l:?}");
    }

    #[test]
    fn a_disabled_level_evaluates_nothing() {
        let mut evaluated = false;
        let lines = captured(Some(Level::Warn), || {
            crate::log_info!(
                "not written",
                value = {
                    evaluated = true;
                    "x"
                }
            );
            crate::log_warn!("written");
        });
        assert!(
            !evaluated,
            "fields of a disabled level must not be evaluated"
        );
        assert_eq!(lines.len(), 1, "{lines:?}");
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
