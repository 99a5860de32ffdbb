//! Request counters and latency sums in Prometheus text format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::AppState;

#[derive(Debug, Default)]
struct Series {
    count: u64,
    seconds_sum: f64,
}

/// Counters keyed by (method, route, status).
#[derive(Debug, Default)]
pub struct Metrics(Mutex<BTreeMap<(String, String, u16), Series>>);

/// Middleware: counts every request by matched route.
pub async fn track(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let t0 = Instant::now();
    let res = next.run(req).await;
    let secs = t0.elapsed().as_secs_f64();
    let route = route.as_ref().map_or("unmatched", |p| p.as_str());
    let status = res.status().as_u16();
    if let Ok(mut m) = state.metrics.0.lock() {
        // A handful of series: find the request's without allocating its key.
        let hit = m
            .iter_mut()
            .find(|((mm, r, st), _)| *st == status && mm == method.as_str() && r == route);
        let s = match hit {
            Some((_, s)) => s,
            None => m
                .entry((method.to_string(), route.to_string(), status))
                .or_default(),
        };
        s.count += 1;
        s.seconds_sum += secs;
    }
    res
}

/// Renders the Prometheus exposition.
pub fn render(state: &AppState) -> String {
    let mut out = String::from(
        "# HELP aidf_http_requests_total HTTP requests by method, route and status.\n# TYPE aidf_http_requests_total counter\n",
    );
    let m = state.metrics.0.lock().map(|m| {
        m.iter()
            .map(|(k, v)| (k.clone(), v.count, v.seconds_sum))
            .collect::<Vec<_>>()
    });
    let rows = m.unwrap_or_default();
    for ((method, route, status), count, _) in &rows {
        let _ = writeln!(
            out,
            "aidf_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {count}"
        );
    }
    out += "# HELP aidf_http_request_seconds_sum Total time spent serving requests.\n# TYPE aidf_http_request_seconds_sum counter\n";
    for ((method, route, status), _, secs) in &rows {
        let _ = writeln!(
            out,
            "aidf_http_request_seconds_sum{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {secs}"
        );
    }
    out
}
