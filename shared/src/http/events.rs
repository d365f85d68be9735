//! `GET /api/events`: the documents' changes as server-sent events, for clients that refresh
//! their lists live. Each event is one `data:` line of `{"type","payload","timestamp"}` with its
//! number as the `id:`, so a client that reconnects with `Last-Event-ID` misses nothing the
//! store still keeps. Changes are read from the store, so those made by any process are seen.

use std::{
    convert::Infallible,
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    extract::State,
    http::HeaderMap,
    response::sse::{Event, KeepAlive, Sse},
};
use futures_util::{Stream, StreamExt, stream};
use tokio::sync::watch;

use super::{AppState, errors::ApiError, types::EventBody};
use crate::{domain::events::EventCursor, ports::DocumentEvents};

/// How often the store is asked for changes.
const POLL: Duration = Duration::from_millis(500);
/// A comment line this often keeps proxies from closing a quiet stream.
const HEARTBEAT: Duration = Duration::from_secs(30);
/// Changes read at once.
const BATCH: u32 = 200;

/// Watch documents change, as server-sent events.
#[utoipa::path(get, path = "/api/events", operation_id = "streamEvents", tag = "documents",
    params(
        ("apiKey" = Option<String>, Query, description = "The API key, for clients that cannot send `X-API-Key` (a browser's EventSource)"),
        ("Last-Event-ID" = Option<i64>, Header, description = "Resume after this event"),
    ),
    responses(
        (status = 200, description = "`: connected`, then one `data:` line per change (an `EventBody`), its number as `id:`; `: heartbeat` every 30 s",
            content_type = "text/event-stream", body = String),
    ))]
pub async fn stream(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok()?.parse::<i64>().ok());
    let start = match resume {
        Some(seq) => seq,
        None => state.events.latest_event().await?,
    };
    let feed = Feed {
        events: state.events.clone(),
        cursor: EventCursor::after(start),
        closing: state.closing.subscribe(),
    };
    let changes = stream::unfold(feed, Feed::next).flat_map(stream::iter);
    let connected = stream::once(async { Ok(Event::default().comment("connected")) });
    let keep_alive = KeepAlive::new().interval(HEARTBEAT).text("heartbeat");
    Ok(Sse::new(connected.chain(changes)).keep_alive(keep_alive))
}

struct Feed {
    events: Arc<dyn DocumentEvents>,
    cursor: EventCursor,
    /// Turns true when the server shuts down: the stream ends, so the drain need not wait.
    closing: watch::Receiver<bool>,
}

impl Feed {
    /// The next changes, waiting for some; `None` once the server is closing.
    async fn next(mut self) -> Option<(Vec<Result<Event, Infallible>>, Self)> {
        loop {
            if *self.closing.borrow() {
                return None;
            }
            match self.events.events_after(self.cursor.floor(), BATCH).await {
                Ok(read) => {
                    let fresh = self.cursor.take(read, Instant::now());
                    if !fresh.is_empty() {
                        let events = fresh
                            .into_iter()
                            .map(|e| Ok(sse_event(EventBody::numbered(e))));
                        return Some((events.collect(), self));
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot read document events; trying again"),
            }
            tokio::select! {
                () = tokio::time::sleep(POLL) => {}
                _ = self.closing.changed() => {}
            }
        }
    }
}

fn sse_event((seq, body): (i64, EventBody)) -> Event {
    let data = serde_json::to_string(&body).unwrap_or_default();
    Event::default().id(seq.to_string()).data(data)
}
