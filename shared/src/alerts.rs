//! The alert webhook: one JSON POST when errors in the last hour pass `ALERT_THRESHOLD`.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
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

/// Counts errors in a rolling hour and decides when an alert is due. Errors are counted per
/// second, so an hour of them takes at most 3,600 entries, however many there are.
#[derive(Debug)]
struct ErrorWindow {
    threshold: u32,
    started: Instant,
    /// (second since `started`, errors in it), oldest first.
    seconds: VecDeque<(u64, usize)>,
    errors: usize,
    last_alert: Option<Instant>,
}

impl ErrorWindow {
    fn new(threshold: u32) -> Self {
        Self {
            threshold,
            started: Instant::now(),
            seconds: VecDeque::new(),
            errors: 0,
            last_alert: None,
        }
    }

    /// Records an error at `now`; returns the error count when an alert is due.
    /// At most one alert per hour, so a burst does not flood the receiver.
    fn record(&mut self, now: Instant) -> Option<usize> {
        // Threads may record slightly out of order: never go back a second.
        let latest = self.seconds.back().map_or(0, |&(second, _)| second);
        let second = now
            .saturating_duration_since(self.started)
            .as_secs()
            .max(latest);
        while let Some(&(oldest, count)) = self.seconds.front()
            && second - oldest >= WINDOW.as_secs()
        {
            self.errors -= count;
            self.seconds.pop_front();
        }
        match self.seconds.back_mut() {
            Some((last, count)) if *last == second => *count += 1,
            _ => self.seconds.push_back((second, 1)),
        }
        self.errors += 1;
        let quiet = self
            .last_alert
            .is_none_or(|t| now.duration_since(t) >= WINDOW);
        (self.errors > self.threshold as usize && quiet).then(|| {
            self.last_alert = Some(now);
            self.errors
        })
    }
}

/// Waits before the retries of a failed webhook POST: 1 s, 4 s, 16 s.
const RETRY_DELAYS: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(4),
    Duration::from_secs(16),
];

pub struct Alerts {
    webhook: Option<(reqwest::Client, reqwest::Url)>,
    window: Arc<Mutex<ErrorWindow>>,
    retry_delays: [Duration; 3],
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
            window: Arc::new(Mutex::new(ErrorWindow::new(threshold))),
            retry_delays: RETRY_DELAYS,
        }
    }

    /// Records one error; posts the alert in the background when the threshold is passed.
    pub fn record_error(&self, what: &str) {
        let Some((client, url)) = &self.webhook else {
            return;
        };
        let now = Instant::now();
        let mut window = self.window.lock().unwrap_or_else(|p| p.into_inner());
        let (due, threshold) = (window.record(now), window.threshold);
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
        let (window, delays) = (self.window.clone(), self.retry_delays);
        tokio::spawn(async move {
            if deliver(request, delays).await {
                return;
            }
            // Undelivered: the next error may alert again, rather than an hour of silence.
            let mut window = window.lock().unwrap_or_else(|p| p.into_inner());
            if window.last_alert == Some(now) {
                window.last_alert = None;
            }
        });
    }
}

/// Posts the alert, retrying after each of `delays`; whether it was delivered.
async fn deliver(request: reqwest::RequestBuilder, delays: [Duration; 3]) -> bool {
    for delay in std::iter::once(Duration::ZERO).chain(delays) {
        tokio::time::sleep(delay).await;
        let Some(attempt) = request.try_clone() else {
            break;
        };
        match attempt
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
        {
            Ok(_) => {
                tracing::warn!("alert webhook notified");
                return true;
            }
            Err(e) => tracing::error!(error = %e, "alert webhook failed"),
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_once_when_the_threshold_is_passed_then_stays_quiet_for_an_hour() {
        let mut w = ErrorWindow::new(3);
        let at = |s| w.started + Duration::from_secs(s);
        let (t0, t1, t2, t3, t4, t3603) = (at(0), at(1), at(2), at(3), at(4), at(3603));
        assert_eq!([w.record(t0), w.record(t1), w.record(t2)], [None; 3]);
        assert_eq!(w.record(t3), Some(4));
        assert_eq!(w.record(t4), None, "no second alert within the hour");
        // An hour on, only the error at 4 s still counts, so three new ones pass the threshold.
        assert_eq!([w.record(t3603), w.record(t3603)], [None; 2]);
        assert_eq!(w.record(t3603), Some(4));
    }

    #[test]
    fn errors_older_than_an_hour_do_not_count_and_an_hour_takes_at_most_3600_entries() {
        let mut w = ErrorWindow::new(u32::MAX);
        let started = w.started;
        for _ in 0..100_000 {
            w.record(started);
        }
        assert_eq!((w.errors, w.seconds.len()), (100_000, 1));
        for second in 1..=7200 {
            for _ in 0..3 {
                w.record(started + Duration::from_secs(second));
            }
        }
        assert_eq!((w.errors, w.seconds.len()), (3 * 3600, 3600));
    }

    /// A webhook that answers each POST with the next status of `answers` (then 200), and
    /// counts the POSTs.
    async fn webhook(answers: Vec<u16>) -> (reqwest::Url, Arc<Mutex<usize>>) {
        let posts = Arc::new(Mutex::new(0));
        let seen = posts.clone();
        let app = axum::Router::new().route(
            "/",
            axum::routing::post(move || {
                let seen = seen.clone();
                let answers = answers.clone();
                async move {
                    let mut n = seen.lock().unwrap();
                    *n += 1;
                    let status = answers.get(*n - 1).copied().unwrap_or(200);
                    axum::http::StatusCode::from_u16(status).unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url.parse().unwrap(), posts)
    }

    fn quick(url: reqwest::Url, threshold: u32) -> Alerts {
        Alerts {
            retry_delays: [Duration::from_millis(10); 3],
            ..Alerts::new(Some(url), threshold)
        }
    }

    async fn settle() {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    #[tokio::test]
    async fn a_failed_post_is_retried_and_an_undelivered_alert_does_not_silence_the_next() {
        let (url, posts) = webhook(vec![500, 503]).await;
        let alerts = quick(url, 1);
        alerts.record_error("first");
        alerts.record_error("second");
        settle().await;
        assert_eq!(*posts.lock().unwrap(), 3, "two failures, then delivered");
        alerts.record_error("third");
        settle().await;
        assert_eq!(*posts.lock().unwrap(), 3, "delivered: quiet for the hour");

        let (url, posts) = webhook(vec![500; 8]).await;
        let alerts = quick(url, 1);
        alerts.record_error("first");
        alerts.record_error("second");
        settle().await;
        assert_eq!(*posts.lock().unwrap(), 4, "tried four times");
        alerts.record_error("third");
        settle().await;
        assert_eq!(
            *posts.lock().unwrap(),
            8,
            "undelivered: the next error alerts again"
        );
    }
}
