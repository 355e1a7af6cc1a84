//! The Prometheus exporter: one recorder per process, installed when the first server starts
//! (tests start several servers in one process, and they share it), rendered in the Prometheus
//! text format at the admin listener's `/metrics`. What is recorded is named where it is
//! recorded (e.g. the webhook dispatcher's `telemetry` module); durations are histograms in
//! seconds with [`LATENCY_BUCKETS`].

use std::sync::OnceLock;
use std::time::Duration;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Histogram buckets of every `*_seconds` metric: 5 ms to 30 s.
const LATENCY_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// How often histogram samples are folded into their buckets between scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The media type of the Prometheus text exposition format.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder, installed on first use, with a thread that keeps its histograms
/// folded (the exporter leaves that to whoever builds the recorder).
pub fn handle() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            // Fails only for empty buckets, which LATENCY_BUCKETS is not.
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &LATENCY_BUCKETS)
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed: /metrics stays empty");
            }
            let upkeep = handle.clone();
            std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(UPKEEP_EVERY);
                        upkeep.run_upkeep();
                    }
                })
                .map_err(|error| tracing::warn!(%error, "no metrics upkeep thread"))
                .ok();
            handle
        })
        .clone()
}

/// `GET /metrics`: every metric recorded in this process.
pub async fn render(State(handle): State<PrometheusHandle>) -> impl IntoResponse {
    ([(CONTENT_TYPE, TEXT_FORMAT)], handle.render())
}
