//! The calling app: which app a call is counted against for rate limits, quotas and metering —
//! the app of its OAuth2 token, or, on calls without a token, the app of its `x-api-key`.
//! An API key identifies; it never authorises customer data (that takes a token).

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tonic::Status;
use wekeza_domain::{AppId, Principal};
use wekeza_rpc::ApiError;
use wekeza_store::DatabaseConnection;
use wekeza_store::apps::Plan;

use crate::record::CallRecord;

/// The app a call is counted against, in the request extensions of identified calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallingApp {
    /// The app.
    pub app_id: AppId,
    /// Its usage plan at the time of the call.
    pub plan: Plan,
}

/// Middleware: records the calling app of a call that carries a token in the extensions (as a
/// [`CallingApp`], and in the [`CallRecord`]).
pub async fn layer(
    State(db): State<DatabaseConnection>,
    mut request: Request,
    next: Next,
) -> Response {
    if let Some(principal) = request.extensions().get::<Principal>() {
        let app_id = principal.app_id.clone();
        match wekeza_store::apps::find(&db, &app_id).await {
            Ok(Some(app)) => {
                if let Some(record) = request.extensions().get::<CallRecord>() {
                    record.update(|facts| facts.app_id = Some(app_id.clone()));
                }
                request.extensions_mut().insert(CallingApp {
                    app_id,
                    plan: app.plan,
                });
            }
            Ok(None) => {}
            Err(error) => {
                tracing::error!(%error, "the calling app could not be read");
                return Status::from(ApiError::unavailable(
                    "the platform cannot serve this call right now",
                    std::time::Duration::from_secs(1),
                ))
                .into_http();
            }
        }
    }
    next.run(request).await
}
