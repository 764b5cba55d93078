//! The retry rules both API clients (MRS and IAM) share: which answers are retried, the
//! backoff with equal jitter, `Retry-After`, a transport error told with its causes, and
//! waits that a cancellation ends.

use std::time::Duration;

use reqwest::header::HeaderMap;
use tokio_util::sync::CancellationToken;

/// Throttling and server errors: worth sending again.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
}

/// Exponential backoff from `base`, capped at `max`.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The wait before retry number `attempt + 1`, with "equal jitter": never less than
    /// half the step, so a burst of clients spreads out without any of them hammering.
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.min(30));
        let step = self.base.saturating_mul(factor).min(self.max);
        let half = step / 2;
        half + half.mul_f64(fastrand::f64())
    }

    /// The answer's `Retry-After` (seconds, capped at `max`) when it has one, else
    /// [`Backoff::delay`]. HTTP dates are not used by Huawei Cloud's gateways.
    pub fn after_answer(&self, attempt: u32, headers: &HeaderMap) -> Duration {
        headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|secs| Duration::from_secs(secs).min(self.max))
            .unwrap_or_else(|| self.delay(attempt))
    }
}

/// A transport error with its causes, which reqwest keeps in the source chain.
pub fn describe_transport(e: &reqwest::Error) -> String {
    let mut msg = if e.is_timeout() {
        "request timed out".to_string()
    } else if e.is_connect() {
        "connection failed".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

/// The wait was ended by a cancellation (Terraform's StopProvider).
#[derive(Debug)]
pub struct Cancelled;

/// Sleeps `d` unless `cancel` fires first.
pub async fn sleep_or_cancel(d: Duration, cancel: &CancellationToken) -> Result<(), Cancelled> {
    tokio::select! {
        _ = cancel.cancelled() => Err(Cancelled),
        _ = tokio::time::sleep(d) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::{HeaderValue, RETRY_AFTER};

    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_honours_retry_after() {
        let b = Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        for attempt in 0..8 {
            let step = Duration::from_millis(100 * 2u64.pow(attempt)).min(b.max);
            let d = b.delay(attempt);
            assert!(d >= step / 2 && d <= step, "attempt {attempt}: {d:?}");
        }
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(b.after_answer(0, &h), Duration::from_secs(1), "capped");
        h.insert(RETRY_AFTER, HeaderValue::from_static("0"));
        assert_eq!(b.after_answer(3, &h), Duration::ZERO);
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert!(b.after_answer(0, &h) <= Duration::from_millis(100));
        assert!(is_retryable_status(503) && !is_retryable_status(409));
    }
}
