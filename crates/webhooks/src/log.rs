//! The delivery side of `WebhookService`: an endpoint's delivery log, retrying one delivery,
//! replaying the app's events of a time range, and queueing a test event.
//!
//! Each function takes the endpoint already checked to be the caller's; what it queues is
//! attempted by the dispatcher's sender ([`crate::dispatch`]), woken at once.

use chrono::{DateTime, Duration, Utc};
use prost::Message;
use wekeza_domain::{DeliveryId, EventId, Reason};
use wekeza_events::{EventType, catalogue};
use wekeza_proto::v1 as pb;
use wekeza_rpc::wire::{parse_timestamp, timestamp};
use wekeza_rpc::{ApiError, PageRequest};
use wekeza_store::deliveries::{
    self, Delivery, DeliveryFilter, DeliveryOrigin, DeliveryStatus, NewDelivery,
};
use wekeza_store::webhooks::WebhookEndpoint;
use wekeza_store::{DatabaseConnection, TransactionTrait, apps, outbox};

use crate::Error;
use crate::dispatch::route;

/// How far back a replay may reach: within the outbox's retention, so a replay finds every
/// event of its window.
pub const REPLAY_MAX_AGE: Duration = Duration::days(30);
const _: () = assert!(
    REPLAY_MAX_AGE.num_seconds() < wekeza_events::OUTBOX_RETENTION.num_seconds(),
    "a replay reaches back no further than the outbox keeps events"
);

/// The type of a test event without payload.
pub const TEST_EVENT_TYPE: &str = "webhook.test";

/// Outbox events read per page while replaying.
const REPLAY_PAGE: u64 = 500;

/// A page of `endpoint`'s deliveries, newest first, filtered as `request` asks.
pub async fn list(
    db: &DatabaseConnection,
    endpoint: &WebhookEndpoint,
    request: &pb::ListDeliveriesRequest,
) -> Result<pb::ListDeliveriesResponse, Error> {
    let status = match pb::DeliveryStatus::try_from(request.status) {
        Ok(pb::DeliveryStatus::Unspecified) => None,
        Ok(pb::DeliveryStatus::Pending) => Some(DeliveryStatus::Pending),
        Ok(pb::DeliveryStatus::Succeeded) => Some(DeliveryStatus::Succeeded),
        Ok(pb::DeliveryStatus::Failed) => Some(DeliveryStatus::Failed),
        Ok(pb::DeliveryStatus::DeadLettered) => Some(DeliveryStatus::DeadLettered),
        Err(_) => return Err(invalid("status", "is not a delivery status")),
    };
    let event = match request.event_id.as_str() {
        "" => None,
        text => Some(
            text.parse::<EventId>()
                .map_err(|_| invalid("event_id", "is not an event id (evt_…)"))?,
        ),
    };
    let page = PageRequest::parse(
        request.page_size,
        &request.page_token,
        &[
            "webhook_deliveries",
            endpoint.id.as_str(),
            &request.status.to_string(),
            &request.event_id,
        ],
    )?;
    let before = page
        .after
        .as_deref()
        .map(str::parse::<DeliveryId>)
        .transpose()
        .map_err(|_| {
            ApiError::new(
                Reason::InvalidPageToken,
                "page_token was not issued for this query",
            )
        })?;
    let filter = DeliveryFilter {
        status,
        event: event.as_ref(),
        before: before.as_ref(),
    };
    let mut listed = deliveries::list(
        db,
        &endpoint.app_id,
        &endpoint.id,
        filter,
        u64::from(page.fetch_limit()),
    )
    .await?;
    let next_page_token = page.finish(&mut listed, |delivery| delivery.id.to_string());
    Ok(pb::ListDeliveriesResponse {
        deliveries: listed.iter().map(wire_delivery).collect(),
        next_page_token,
    })
}

/// Makes delivery `delivery_id` to `endpoint` due again now, at the start of the schedule.
pub async fn retry(
    db: &DatabaseConnection,
    endpoint: &WebhookEndpoint,
    delivery_id: &str,
    now: DateTime<Utc>,
) -> Result<pb::Delivery, Error> {
    let id: DeliveryId = delivery_id.parse().map_err(|_| Error::DeliveryNotFound)?;
    if !deliveries::retry(db, &endpoint.app_id, &endpoint.id, &id, now).await? {
        return Err(Error::DeliveryNotFound);
    }
    let delivery = deliveries::find(db, &endpoint.app_id, &endpoint.id, &id)
        .await?
        .ok_or(Error::DeliveryNotFound)?;
    Ok(wire_delivery(&delivery))
}

/// Queues again, as new deliveries to `endpoint`, every event of its types that belongs to its
/// app and happened in `[since, until)`; answers how many.
pub async fn replay(
    db: &DatabaseConnection,
    endpoint: &WebhookEndpoint,
    request: &pb::ReplayEventsRequest,
    now: DateTime<Utc>,
) -> Result<i64, Error> {
    let since = request
        .since_time
        .as_ref()
        .ok_or_else(|| invalid("since_time", "is required"))
        .and_then(|since| Ok(parse_timestamp("since_time", since)?))?;
    // Unset: everything since, up to now included.
    let until = request
        .until_time
        .as_ref()
        .map(|until| parse_timestamp("until_time", until))
        .transpose()?;
    if since < now - REPLAY_MAX_AGE {
        return Err(invalid("since_time", "must be at most 30 days ago"));
    }
    if until.is_some_and(|until| until <= since) {
        return Err(invalid("until_time", "must be after since_time"));
    }
    let router = route::Router::default();
    let mut after = None;
    let mut count = 0;
    loop {
        let page = outbox::between(db, since, until, after.as_ref(), REPLAY_PAGE).await?;
        let Some(last) = page.last() else {
            return Ok(count);
        };
        after = Some(last.id.clone());
        let txn = db.begin().await?;
        for event in page {
            if !endpoint.event_types.contains(&event.event_type) {
                continue;
            }
            let decoded = pb::Event::decode(event.payload.as_slice())?;
            if !router
                .owners(&txn, &decoded, now)
                .await?
                .contains(&endpoint.app_id)
            {
                continue;
            }
            deliveries::queue(
                &txn,
                &NewDelivery {
                    id: DeliveryId::new_monotonic(now),
                    endpoint_id: endpoint.id.clone(),
                    app_id: endpoint.app_id.clone(),
                    event_id: event.id,
                    event_type: event.event_type,
                    payload: event.payload,
                    origin: DeliveryOrigin::Replay,
                    event_created_at: event.created_at,
                    created_at: now,
                },
            )
            .await?;
            count += 1;
        }
        txn.commit().await?;
    }
}

/// Queues a test event of `event_type` (a catalogue type with a sample payload, or
/// [`TEST_EVENT_TYPE`] when empty) for `endpoint`, whatever its subscriptions and state.
pub async fn send_test(
    db: &DatabaseConnection,
    endpoint: &WebhookEndpoint,
    event_type: &str,
    now: DateTime<Utc>,
) -> Result<pb::Delivery, Error> {
    let payload = match event_type {
        "" => None,
        name => {
            let kind = EventType::parse(name).ok_or_else(|| {
                invalid(
                    "event_type",
                    "is not an event type (see the event catalogue), nor empty",
                )
            })?;
            let client_id = apps::find(db, &endpoint.app_id)
                .await?
                .map(|app| app.client_id)
                .unwrap_or_default();
            Some(catalogue::sample(kind, &endpoint.app_id, &client_id, now).1)
        }
    };
    let event_type = if event_type.is_empty() {
        TEST_EVENT_TYPE
    } else {
        event_type
    };
    let event_id = EventId::new_monotonic(now);
    let event = pb::Event {
        event_id: event_id.to_string(),
        r#type: event_type.to_owned(),
        create_time: Some(timestamp(now)),
        payload,
        fired_by_client_id: String::new(),
    };
    let delivery = NewDelivery {
        id: DeliveryId::new_monotonic(now),
        endpoint_id: endpoint.id.clone(),
        app_id: endpoint.app_id.clone(),
        event_id,
        event_type: event_type.to_owned(),
        payload: event.encode_to_vec(),
        origin: DeliveryOrigin::Test,
        event_created_at: now,
        created_at: now,
    };
    deliveries::queue(db, &delivery).await?;
    let queued = deliveries::find(db, &endpoint.app_id, &endpoint.id, &delivery.id)
        .await?
        .ok_or(Error::DeliveryNotFound)?;
    Ok(wire_delivery(&queued))
}

/// A delivery as clients see it.
pub fn wire_delivery(delivery: &Delivery) -> pb::Delivery {
    let last = delivery.attempts.last();
    let status = match delivery.status {
        DeliveryStatus::Pending => pb::DeliveryStatus::Pending,
        DeliveryStatus::Succeeded => pb::DeliveryStatus::Succeeded,
        DeliveryStatus::Failed => pb::DeliveryStatus::Failed,
        DeliveryStatus::DeadLettered => pb::DeliveryStatus::DeadLettered,
    };
    pb::Delivery {
        delivery_id: delivery.id.to_string(),
        endpoint_id: delivery.endpoint_id.to_string(),
        event_id: delivery.event_id.to_string(),
        event_type: delivery.event_type.clone(),
        status: status.into(),
        attempts: i32::try_from(delivery.attempts.len()).unwrap_or(i32::MAX),
        last_response_status: last
            .and_then(|attempt| attempt.response_status)
            .unwrap_or(0),
        last_error: last
            .map(|attempt| attempt.error.clone())
            .unwrap_or_default(),
        next_attempt_time: delivery.next_attempt_at.map(timestamp),
        last_attempt_time: last.map(|attempt| timestamp(attempt.attempted_at)),
        create_time: Some(timestamp(delivery.created_at)),
        attempt_log: delivery
            .attempts
            .iter()
            .map(|attempt| pb::DeliveryAttempt {
                attempt_time: Some(timestamp(attempt.attempted_at)),
                response_status: attempt.response_status.unwrap_or(0),
                latency: Some(prost_types::Duration {
                    seconds: attempt.latency_ms / 1000,
                    nanos: i32::try_from((attempt.latency_ms % 1000) * 1_000_000).unwrap_or(0),
                }),
                response_excerpt: attempt.response_excerpt.clone(),
                error: attempt.error.clone(),
            })
            .collect(),
    }
}

fn invalid(field: &str, why: &str) -> Error {
    Error::InvalidRequest(vec![(field.to_owned(), why.to_owned())])
}
