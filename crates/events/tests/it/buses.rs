//! The buses every event test runs on: the in-process bus always, and NATS JetStream when
//! `WEKEZA_TEST_NATS_URL` names a server — each test on its own stream and subject root, so
//! tests run side by side. A server that is named but unreachable fails the test.

use std::sync::Arc;
use std::time::Duration;

use wekeza_events::{EventBus, InProcessBus, JetStreamBus, JetStreamSettings};

/// One bus under test; removes its JetStream stream when dropped.
pub struct TestBus {
    /// `in-process` or `jetstream`.
    pub name: &'static str,
    /// The bus.
    pub bus: Arc<dyn EventBus>,
    /// How long an unacknowledged delivery waits before it comes back.
    pub redelivery: Duration,
    jetstream: Option<JetStreamSettings>,
}

impl Drop for TestBus {
    fn drop(&mut self) {
        if let Some(settings) = self.jetstream.take() {
            // Best effort: a leftover test stream expires with its max age anyway.
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async {
                    if let Ok(client) = async_nats::connect(&settings.url).await {
                        let _ = async_nats::jetstream::new(client)
                            .delete_stream(&settings.stream)
                            .await;
                    }
                });
            })
            .join()
            .ok();
        }
    }
}

/// The in-process bus, then the JetStream bus when configured.
pub async fn all() -> Vec<TestBus> {
    let mut buses = vec![TestBus {
        name: "in-process",
        bus: Arc::new(InProcessBus::default()),
        redelivery: Duration::ZERO,
        jetstream: None,
    }];
    if let Ok(url) = std::env::var("WEKEZA_TEST_NATS_URL") {
        let unique = ulid::Ulid::new().to_string().to_ascii_lowercase();
        let settings = JetStreamSettings {
            stream: format!("TEST_{unique}"),
            subject_root: format!("test_{unique}.events"),
            max_age: Duration::from_secs(600),
            ack_wait: Duration::from_secs(1),
            ..JetStreamSettings::new(url.clone())
        };
        let bus = JetStreamBus::connect(settings.clone())
            .await
            .unwrap_or_else(|error| panic!("WEKEZA_TEST_NATS_URL={url} is unreachable: {error}"));
        buses.push(TestBus {
            name: "jetstream",
            bus: Arc::new(bus),
            redelivery: settings.ack_wait,
            jetstream: Some(settings),
        });
    }
    buses
}
