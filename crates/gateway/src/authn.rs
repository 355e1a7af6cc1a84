//! Authentication: turns the credentials of a request into a [`Principal`].
//!
//! The [`Authenticate`] trait is the seam where token verification plugs in (the identity
//! service's JWT/DPoP verifier). The layer never refuses: it stores an [`Authentication`] in the
//! request extensions — and the [`Principal`] itself when there is one, which is what services
//! read. The policy layer decides whether the rpc needs one.

use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderMap, Method, Uri};
use wekeza_domain::Principal;
use wekeza_rpc::ApiError;

/// What an authenticator sees of a request.
#[derive(Debug, Clone, Copy)]
pub struct Credentials<'a> {
    /// All headers (`authorization`, `dpop`, `x-api-key`, …).
    pub headers: &'a HeaderMap,
    /// The HTTP method (DPoP proofs bind it).
    pub method: &'a Method,
    /// The request URI (DPoP proofs bind it).
    pub uri: &'a Uri,
}

/// Verifies credentials.
#[async_trait]
pub trait Authenticate: Send + Sync + std::fmt::Debug {
    /// `Ok(None)` when the request carries no credentials; `Err` when it carries bad ones.
    async fn authenticate(
        &self,
        credentials: Credentials<'_>,
    ) -> Result<Option<Principal>, ApiError>;
}

/// The outcome of authentication, stored in the request extensions.
#[derive(Debug, Clone)]
pub enum Authentication {
    /// No credentials.
    Anonymous,
    /// Verified; the [`Principal`] is in the extensions too.
    Authenticated,
    /// Bad credentials: every rpc that is not public answers with this error.
    Failed(ApiError),
}

/// Middleware: authenticates and records the outcome.
pub async fn layer(
    State(authenticator): State<Arc<dyn Authenticate>>,
    mut request: Request,
    next: Next,
) -> Response {
    let credentials = Credentials {
        headers: request.headers(),
        method: request.method(),
        uri: request.uri(),
    };
    let outcome = authenticator.authenticate(credentials).await;
    let authentication = match outcome {
        Ok(Some(principal)) => {
            request.extensions_mut().insert(principal);
            Authentication::Authenticated
        }
        Ok(None) => Authentication::Anonymous,
        Err(error) => Authentication::Failed(error),
    };
    request.extensions_mut().insert(authentication);
    next.run(request).await
}
