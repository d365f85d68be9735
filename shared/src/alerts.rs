//! The alert webhook: one JSON POST when errors in the last hour pass `ALERT_THRESHOLD`.

use std::{
    collections::VecDeque,
    sync::Mutex,
    time::{Duration, Instant},
};

use serde::Serialize;

const WINDOW: Duration = Duration::from_secs(3600);

/// The webhook body. `text` makes it readable as-is by Slack-style incoming webhooks.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    pub text: String,
    pub service: &'static str,
    pub errors_in_last_hour: usize,
    pub threshold: u32,
    pub last_error: String,
    pub timestamp: chrono::DateTime<chrono::Utc>,
}

/// Counts errors in a rolling hour and decides when an alert is due.
#[derive(Debug)]
struct ErrorWindow {
    threshold: u32,
    errors: VecDeque<Instant>,
    last_alert: Option<Instant>,
}

impl ErrorWindow {
    /// Records an error at `now`; returns the error count when an alert is due.
    /// At most one alert per hour, so a burst does not flood the receiver.
    fn record(&mut self, now: Instant) -> Option<usize> {
        while self
            .errors
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            self.errors.pop_front();
        }
        self.errors.push_back(now);
        let quiet = self
            .last_alert
            .is_none_or(|t| now.duration_since(t) >= WINDOW);
        (self.errors.len() > self.threshold as usize && quiet).then(|| {
            self.last_alert = Some(now);
            self.errors.len()
        })
    }
}

pub struct Alerts {
    webhook: Option<(reqwest::Client, reqwest::Url)>,
    window: Mutex<ErrorWindow>,
}

impl Alerts {
    pub fn new(webhook_url: Option<reqwest::Url>, threshold: u32) -> Self {
        let client = || {
            reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
        };
        Self {
            webhook: webhook_url.and_then(|url| client().ok().map(|c| (c, url))),
            window: Mutex::new(ErrorWindow {
                threshold,
                errors: VecDeque::new(),
                last_alert: None,
            }),
        }
    }

    /// Records one error; posts the alert in the background when the threshold is passed.
    pub fn record_error(&self, what: &str) {
        let Some((client, url)) = &self.webhook else {
            return;
        };
        let mut window = self.window.lock().unwrap_or_else(|p| p.into_inner());
        let (due, threshold) = (window.record(Instant::now()), window.threshold);
        drop(window);
        let Some(errors) = due else { return };
        let alert = Alert {
            text: format!(
                "RAGBase: {errors} errors in the last hour (threshold {threshold}); last: {what}"
            ),
            service: "ragbase",
            errors_in_last_hour: errors,
            threshold,
            last_error: what.to_owned(),
            timestamp: chrono::Utc::now(),
        };
        let request = client.post(url.clone()).json(&alert);
        tokio::spawn(async move {
            match request
                .send()
                .await
                .and_then(reqwest::Response::error_for_status)
            {
                Ok(_) => tracing::warn!(errors, "alert webhook notified"),
                Err(e) => tracing::error!(error = %e, "alert webhook failed"),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_once_when_the_threshold_is_passed_then_stays_quiet_for_an_hour() {
        let mut w = ErrorWindow {
            threshold: 3,
            errors: VecDeque::new(),
            last_alert: None,
        };
        let t0 = Instant::now();
        let at = |s| t0 + Duration::from_secs(s);
        assert_eq!(
            [w.record(at(0)), w.record(at(1)), w.record(at(2))],
            [None; 3]
        );
        assert_eq!(w.record(at(3)), Some(4));
        assert_eq!(w.record(at(4)), None, "no second alert within the hour");
        // An hour on, only the error at 4 s still counts, so three new ones pass the threshold.
        assert_eq!([w.record(at(3603)), w.record(at(3603))], [None; 2]);
        assert_eq!(w.record(at(3603)), Some(4));
    }

    #[test]
    fn errors_older_than_an_hour_do_not_count() {
        let mut w = ErrorWindow {
            threshold: 2,
            errors: VecDeque::new(),
            last_alert: None,
        };
        let t0 = Instant::now();
        w.record(t0);
        w.record(t0 + Duration::from_secs(1));
        assert_eq!(w.record(t0 + Duration::from_secs(3700)), None);
        assert_eq!(w.errors.len(), 1);
    }
}
