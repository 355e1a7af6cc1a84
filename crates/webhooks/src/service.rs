//! `WebhookService`: an app's webhook endpoints (create, list, get, update, delete) and their
//! signing secrets (issued at creation, rotated with an overlap).
//!
//! Every handler authorizes on its first line and answers NOT_FOUND for any endpoint that is not
//! the caller's, so endpoint ids cannot be probed. A signing secret is `whsec_` followed by the
//! base64 of 32 random bytes (Standard Webhooks' form); it appears in the response that issues
//! it and nowhere else: the endpoint row holds it sealed, and so does the idempotency record of
//! a create, opened again only to answer a retried create. No log line carries it.
//!
//! The delivery log, retries, replays and test events are [`crate::log`]'s; what they queue
//! the dispatcher sends, woken at once.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Duration;
use prost::Message;
use rand::RngCore;
use tokio::sync::Notify;
use tonic::{Request, Response, Status};
use url::Url;
use wekeza_domain::{AppId, Clock, Reason, WebhookEndpointId};
use wekeza_proto::v1 as pb;
use wekeza_proto::v1::webhook_service_server::WebhookService;
use wekeza_rpc::idempotency::{self as idempotency_key, IdempotencyError};
use wekeza_rpc::wire::timestamp;
use wekeza_rpc::{ApiError, OrInternal, PageRequest, RequestExt};
use wekeza_store::idempotency::{self, Claim};
use wekeza_store::sealing::{self, KeyEncryptionKey};
use wekeza_store::webhooks::{self, EndpointChanges, WebhookEndpoint};
use wekeza_store::{ConnectionTrait, DatabaseConnection, TransactionTrait};

use crate::signature::SECRET_PREFIX;
use crate::{Error, log, target, validate};

/// The operation idempotency keys of `CreateWebhookEndpoint` are recorded under (its gRPC
/// path).
const CREATE_ENDPOINT: &str = "/wekeza.openbanking.v1.WebhookService/CreateWebhookEndpoint";

/// How long the previous signing secret keeps signing deliveries after a rotation: a day, so an
/// app can deploy its new secret without losing an event.
pub const PREVIOUS_SECRET_VALID_FOR: Duration = Duration::hours(24);

/// Random bytes in a signing secret.
const SECRET_BYTES: usize = 32;

/// The Webhooks service.
#[derive(Debug, Clone)]
pub struct Webhooks {
    /// Endpoints and idempotency records live here.
    db: DatabaseConnection,
    /// Stamps changes and rotation overlaps; injectable for tests.
    clock: Arc<dyn Clock>,
    /// Seals signing secrets at rest; `None` stores them in the clear (refused in production
    /// at start-up).
    sealing: Option<KeyEncryptionKey>,
    /// Whether plain http to the local machine is accepted as an endpoint URL.
    sandbox: bool,
    /// Wakes the dispatcher's sender when a retry, replay or test event is due.
    wake: Arc<Notify>,
}

impl Webhooks {
    /// A service over `db`, asking `clock` for the time, sealing secrets under `sealing`,
    /// accepting `http://localhost` endpoints when `sandbox`, and ringing `wake` when it queued
    /// something for the dispatcher.
    pub fn new(
        db: DatabaseConnection,
        clock: Arc<dyn Clock>,
        sealing: Option<KeyEncryptionKey>,
        sandbox: bool,
        wake: Arc<Notify>,
    ) -> Self {
        Self {
            db,
            clock,
            sealing,
            sandbox,
            wake,
        }
    }

    /// A fresh signing secret for `endpoint`: the secret itself, and how it is stored.
    /// Outside the sandbox, the SSRF guard: the URL's host must be, and resolve to, public
    /// addresses only ([`target::public_https`]); checked again before every delivery.
    async fn check_target(&self, url: &str) -> Result<(), Error> {
        if self.sandbox {
            return Ok(());
        }
        let refused = |why: String| Error::InvalidRequest(vec![("url".to_owned(), why)]);
        let url = Url::parse(url).map_err(|error| refused(error.to_string()))?;
        target::public_https(&url)
            .await
            .map(|_| ())
            .map_err(|error| refused(error.to_string()))
    }

    fn issue_secret(&self, endpoint: &WebhookEndpointId) -> Result<(String, String), Error> {
        let mut bytes = [0u8; SECRET_BYTES];
        wekeza_store::secret::os_rng().fill_bytes(&mut bytes);
        let secret = format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes));
        let stored = sealing::seal_secret(self.sealing.as_ref(), endpoint.as_str(), &secret)?;
        Ok((secret, stored))
    }
}

/// `app`'s endpoint `endpoint_id`; NOT_FOUND for malformed, unknown and other apps' ids alike.
async fn app_endpoint(
    db: &impl ConnectionTrait,
    app: &AppId,
    endpoint_id: &str,
) -> Result<WebhookEndpoint, Error> {
    let id = parse_endpoint_id(endpoint_id)?;
    webhooks::find(db, app, &id)
        .await?
        .ok_or(Error::EndpointNotFound)
}

/// The endpoint id named in a request; NOT_FOUND when it is not one.
fn parse_endpoint_id(text: &str) -> Result<WebhookEndpointId, Error> {
    text.parse().map_err(|_| Error::EndpointNotFound)
}

/// An endpoint as clients see it (without its secret).
fn wire_endpoint(endpoint: &WebhookEndpoint) -> pb::WebhookEndpoint {
    pb::WebhookEndpoint {
        endpoint_id: endpoint.id.to_string(),
        url: endpoint.url.clone(),
        description: endpoint.description.clone(),
        event_types: endpoint.event_types.clone(),
        disabled: endpoint.disabled,
        create_time: Some(timestamp(endpoint.created_at)),
        disabled_reason: endpoint.disabled_reason.clone().unwrap_or_default(),
    }
}

/// The id an update names (empty when the request has no endpoint), for its span.
fn updated_endpoint_id(request: &pb::UpdateWebhookEndpointRequest) -> &str {
    request
        .endpoint
        .as_ref()
        .map_or("", |endpoint| endpoint.endpoint_id.as_str())
}

/// The fields of `endpoint` an update may change, as they are now.
fn changeable(endpoint: &WebhookEndpoint) -> EndpointChanges {
    EndpointChanges {
        url: endpoint.url.clone(),
        description: endpoint.description.clone(),
        event_types: endpoint.event_types.clone(),
        disabled: endpoint.disabled,
    }
}

#[tonic::async_trait]
impl WebhookService for Webhooks {
    async fn create_webhook_endpoint(
        &self,
        request: Request<pb::CreateWebhookEndpointRequest>,
    ) -> Result<Response<pb::CreateWebhookEndpointResponse>, Status> {
        let principal = request.app()?.clone();
        let header = idempotency_key::key(request.metadata())?;
        let body = request.into_inner();
        let now = self.clock.now();
        let key = idempotency::Key {
            app: &principal.app_id,
            key: &header,
            operation: CREATE_ENDPOINT,
        };
        let txn = self.db.begin().await.or_internal()?;
        // The idempotency check comes first, whatever else is wrong with the request.
        match idempotency::claim(&txn, key, &idempotency_key::request_hash(&body), now)
            .await
            .or_internal()?
        {
            Claim::Fresh => {}
            Claim::Replay(stored) => {
                let mut response =
                    pb::CreateWebhookEndpointResponse::decode(stored.as_slice()).or_internal()?;
                let endpoint = response
                    .endpoint
                    .as_ref()
                    .map(|endpoint| endpoint.endpoint_id.clone())
                    .unwrap_or_default();
                response.signing_secret = sealing::open_secret(
                    self.sealing.as_ref(),
                    &endpoint,
                    &response.signing_secret,
                )
                .map_err(Error::from)?;
                return Ok(Response::new(response));
            }
            Claim::Mismatch => return Err(Error::from(IdempotencyError::Reused).into()),
        }
        let values = validate::create(&body, self.sandbox)?;
        self.check_target(&values.url).await?;
        let id = WebhookEndpointId::new_monotonic(now);
        let (secret, stored_secret) = self.issue_secret(&id)?;
        let endpoint = WebhookEndpoint {
            id,
            app_id: principal.app_id.clone(),
            url: values.url,
            description: values.description,
            event_types: values.event_types,
            disabled: values.disabled,
            disabled_reason: None,
            failing_since: None,
            secret: stored_secret,
            previous_secret: None,
            created_at: now,
            updated_at: now,
        };
        webhooks::insert(&txn, &endpoint)
            .await
            .map_err(Error::from)?;
        // The record keeps the secret sealed like the row does; a retry opens it again.
        let mut response = pb::CreateWebhookEndpointResponse {
            endpoint: Some(wire_endpoint(&endpoint)),
            signing_secret: endpoint.secret.clone(),
        };
        idempotency::complete(&txn, key, response.encode_to_vec())
            .await
            .or_internal()?;
        txn.commit().await.or_internal()?;
        tracing::info!(endpoint_id = %endpoint.id, "webhook endpoint created");
        response.signing_secret = secret;
        Ok(Response::new(response))
    }

    async fn list_webhook_endpoints(
        &self,
        request: Request<pb::ListWebhookEndpointsRequest>,
    ) -> Result<Response<pb::ListWebhookEndpointsResponse>, Status> {
        let principal = request.app()?;
        let body = request.get_ref();
        let page = PageRequest::parse(
            body.page_size,
            &body.page_token,
            &["webhook_endpoints", principal.app_id.as_str()],
        )?;
        let before = page
            .after
            .as_deref()
            .map(str::parse::<WebhookEndpointId>)
            .transpose()
            .map_err(|_| {
                ApiError::new(
                    Reason::InvalidPageToken,
                    "page_token was not issued for this query",
                )
            })?;
        let mut listed = webhooks::list_for_app(
            &self.db,
            &principal.app_id,
            before.as_ref(),
            u64::from(page.fetch_limit()),
        )
        .await
        .map_err(Error::from)?;
        let next_page_token = page.finish(&mut listed, |endpoint| endpoint.id.to_string());
        Ok(Response::new(pb::ListWebhookEndpointsResponse {
            endpoints: listed.iter().map(wire_endpoint).collect(),
            next_page_token,
        }))
    }

    #[tracing::instrument(skip_all, fields(endpoint_id = %request.get_ref().endpoint_id))]
    async fn get_webhook_endpoint(
        &self,
        request: Request<pb::GetWebhookEndpointRequest>,
    ) -> Result<Response<pb::GetWebhookEndpointResponse>, Status> {
        let principal = request.app()?;
        let endpoint =
            app_endpoint(&self.db, &principal.app_id, &request.get_ref().endpoint_id).await?;
        Ok(Response::new(pb::GetWebhookEndpointResponse {
            endpoint: Some(wire_endpoint(&endpoint)),
        }))
    }

    #[tracing::instrument(skip_all, fields(endpoint_id = %updated_endpoint_id(request.get_ref())))]
    async fn update_webhook_endpoint(
        &self,
        request: Request<pb::UpdateWebhookEndpointRequest>,
    ) -> Result<Response<pb::UpdateWebhookEndpointResponse>, Status> {
        let principal = request.app()?;
        let body = request.get_ref();
        let Some(wanted) = body.endpoint.as_ref() else {
            return Err(Error::InvalidRequest(vec![(
                "endpoint".to_owned(),
                "is required".to_owned(),
            )])
            .into());
        };
        let now = self.clock.now();
        let txn = self.db.begin().await.or_internal()?;
        let current = app_endpoint(&txn, &principal.app_id, &wanted.endpoint_id).await?;
        let changes = validate::update(
            changeable(&current),
            wanted,
            body.update_mask.as_ref(),
            self.sandbox,
        )?;
        if changes.url != current.url {
            self.check_target(&changes.url).await?;
        }
        if !webhooks::update(&txn, &principal.app_id, &current.id, &changes, now)
            .await
            .map_err(Error::from)?
        {
            return Err(Error::EndpointNotFound.into());
        }
        txn.commit().await.or_internal()?;
        tracing::info!(endpoint_id = %current.id, "webhook endpoint changed");
        // Enabled, it forgets why the platform had disabled it (as the store does).
        let (disabled_reason, failing_since) = if changes.disabled {
            (current.disabled_reason.clone(), current.failing_since)
        } else {
            (None, None)
        };
        let changed = WebhookEndpoint {
            url: changes.url,
            description: changes.description,
            event_types: changes.event_types,
            disabled: changes.disabled,
            disabled_reason,
            failing_since,
            updated_at: now,
            ..current
        };
        Ok(Response::new(pb::UpdateWebhookEndpointResponse {
            endpoint: Some(wire_endpoint(&changed)),
        }))
    }

    #[tracing::instrument(skip_all, fields(endpoint_id = %request.get_ref().endpoint_id))]
    async fn delete_webhook_endpoint(
        &self,
        request: Request<pb::DeleteWebhookEndpointRequest>,
    ) -> Result<Response<pb::DeleteWebhookEndpointResponse>, Status> {
        let principal = request.app()?;
        let id = parse_endpoint_id(&request.get_ref().endpoint_id)?;
        if !webhooks::delete(&self.db, &principal.app_id, &id)
            .await
            .map_err(Error::from)?
        {
            return Err(Error::EndpointNotFound.into());
        }
        tracing::info!(endpoint_id = %id, "webhook endpoint deleted");
        Ok(Response::new(pb::DeleteWebhookEndpointResponse {}))
    }

    #[tracing::instrument(skip_all, fields(endpoint_id = %request.get_ref().endpoint_id))]
    async fn rotate_webhook_secret(
        &self,
        request: Request<pb::RotateWebhookSecretRequest>,
    ) -> Result<Response<pb::RotateWebhookSecretResponse>, Status> {
        let principal = request.app()?;
        let id = parse_endpoint_id(&request.get_ref().endpoint_id)?;
        let now = self.clock.now();
        let previous_expires_at = now + PREVIOUS_SECRET_VALID_FOR;
        let (secret, stored_secret) = self.issue_secret(&id)?;
        if !webhooks::rotate_secret(
            &self.db,
            &principal.app_id,
            &id,
            &stored_secret,
            previous_expires_at,
            now,
        )
        .await
        .map_err(Error::from)?
        {
            return Err(Error::EndpointNotFound.into());
        }
        tracing::info!(endpoint_id = %id, "webhook signing secret rotated");
        Ok(Response::new(pb::RotateWebhookSecretResponse {
            signing_secret: secret,
            previous_secret_expire_time: Some(timestamp(previous_expires_at)),
        }))
    }

    #[tracing::instrument(skip_all, fields(endpoint_id = %request.get_ref().endpoint_id))]
    async fn list_deliveries(
        &self,
        request: Request<pb::ListDeliveriesRequest>,
    ) -> Result<Response<pb::ListDeliveriesResponse>, Status> {
        let principal = request.app()?;
        let body = request.get_ref();
        let endpoint = app_endpoint(&self.db, &principal.app_id, &body.endpoint_id).await?;
        Ok(Response::new(log::list(&self.db, &endpoint, body).await?))
    }

    #[tracing::instrument(skip_all, fields(endpoint_id = %request.get_ref().endpoint_id))]
    async fn retry_delivery(
        &self,
        request: Request<pb::RetryDeliveryRequest>,
    ) -> Result<Response<pb::RetryDeliveryResponse>, Status> {
        let principal = request.app()?;
        let body = request.get_ref();
        let endpoint = app_endpoint(&self.db, &principal.app_id, &body.endpoint_id).await?;
        let delivery = log::retry(&self.db, &endpoint, &body.delivery_id, self.clock.now()).await?;
        self.wake.notify_one();
        tracing::info!(delivery_id = %body.delivery_id, "webhook delivery retried");
        Ok(Response::new(pb::RetryDeliveryResponse {
            delivery: Some(delivery),
        }))
    }

    #[tracing::instrument(skip_all, fields(endpoint_id = %request.get_ref().endpoint_id))]
    async fn replay_events(
        &self,
        request: Request<pb::ReplayEventsRequest>,
    ) -> Result<Response<pb::ReplayEventsResponse>, Status> {
        let principal = request.app()?;
        let body = request.get_ref();
        let endpoint = app_endpoint(&self.db, &principal.app_id, &body.endpoint_id).await?;
        let event_count = log::replay(&self.db, &endpoint, body, self.clock.now()).await?;
        self.wake.notify_one();
        tracing::info!(event_count, "webhook events replayed");
        Ok(Response::new(pb::ReplayEventsResponse { event_count }))
    }

    #[tracing::instrument(skip_all, fields(endpoint_id = %request.get_ref().endpoint_id))]
    async fn send_test_event(
        &self,
        request: Request<pb::SendTestEventRequest>,
    ) -> Result<Response<pb::SendTestEventResponse>, Status> {
        let principal = request.app()?;
        let body = request.get_ref();
        let endpoint = app_endpoint(&self.db, &principal.app_id, &body.endpoint_id).await?;
        let delivery =
            log::send_test(&self.db, &endpoint, &body.event_type, self.clock.now()).await?;
        self.wake.notify_one();
        Ok(Response::new(pb::SendTestEventResponse {
            delivery: Some(delivery),
        }))
    }
}
