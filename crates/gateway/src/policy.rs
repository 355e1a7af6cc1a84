//! The per-rpc access policy: who may call an rpc, with which scopes and consent permissions,
//! whether it needs an `Idempotency-Key`, whether it exists outside the sandbox.
//!
//! The policy of each rpc is declared next to it in `proto/` as the
//! `wekeza.openbanking.v1.access` method option; [`AccessTable::from_descriptors`] reads it
//! once at start-up. An rpc of our contracts without a policy is refused — forgetting to declare
//! one closes the rpc instead of opening it. Services outside our contracts (health,
//! reflection) are public.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prost_reflect::DescriptorPool;
use tonic::Status;
use tracing::Instrument;
use wekeza_domain::{Permission, Principal, Reason, Scope};
use wekeza_proto::v1::{AccessPolicy, Caller};
use wekeza_rpc::idempotency;
use wekeza_rpc::wire::parse_permission;
use wekeza_rpc::{ApiError, ServiceError};

use crate::authn::Authentication;
use crate::record::CallRecord;

/// Why the access table could not be built from the descriptors.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The descriptor set does not decode.
    #[error("bad descriptor set: {0}")]
    Descriptors(#[from] prost_reflect::DescriptorError),
    /// The `access` option extension is missing from the descriptors.
    #[error("the wekeza.openbanking.v1.access extension is not in the descriptor set")]
    NoExtension,
    /// An rpc's policy names a scope the platform does not know.
    #[error("{method}: {detail}")]
    BadPolicy {
        /// The rpc.
        method: String,
        /// What is wrong.
        detail: String,
    },
}

/// An rpc's policy, resolved into domain types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcPolicy {
    /// Who may call.
    pub caller: Caller,
    /// Scopes the token needs.
    pub scopes: Vec<Scope>,
    /// Consent permissions a customer token needs.
    pub permissions: Vec<Permission>,
    /// Whether an `Idempotency-Key` header is required.
    pub idempotent: bool,
    /// Whether the rpc exists only in the sandbox environment.
    pub sandbox_only: bool,
}

/// The policy of every rpc of our contracts, by gRPC path (`/pkg.Service/Method`).
#[derive(Debug, Clone)]
pub struct AccessTable {
    policies: HashMap<String, Option<RpcPolicy>>,
    sandbox: bool,
}

fn resolve(method: &str, policy: AccessPolicy) -> Result<RpcPolicy, PolicyError> {
    let bad = |detail: String| PolicyError::BadPolicy {
        method: method.to_owned(),
        detail,
    };
    let scopes = policy
        .scopes
        .iter()
        .map(|scope| scope.parse::<Scope>().map_err(|e| bad(e.to_string())))
        .collect::<Result<_, _>>()?;
    let permissions = policy
        .permissions
        .iter()
        .map(|value| {
            parse_permission(*value).ok_or_else(|| bad(format!("unknown permission {value}")))
        })
        .collect::<Result<_, _>>()?;
    Ok(RpcPolicy {
        caller: policy.caller(),
        scopes,
        permissions,
        idempotent: policy.idempotent,
        sandbox_only: policy.sandbox_only,
    })
}

impl AccessTable {
    /// Reads the `(access)` option of every rpc in `descriptor_set`. `sandbox` tells whether the
    /// platform runs as the sandbox (sandbox-only rpcs are refused otherwise).
    pub fn from_descriptors(descriptor_set: &[u8], sandbox: bool) -> Result<Self, PolicyError> {
        let pool = DescriptorPool::decode(descriptor_set)?;
        let extension = pool
            .get_extension_by_name("wekeza.openbanking.v1.access")
            .ok_or(PolicyError::NoExtension)?;
        let mut policies = HashMap::new();
        for service in pool.services() {
            for method in service.methods() {
                let path = format!("/{}/{}", service.full_name(), method.name());
                let options = method.options();
                let policy = if options.has_extension(&extension) {
                    let value = options.get_extension(&extension);
                    let wire = value
                        .as_message()
                        .and_then(|message| message.transcode_to::<AccessPolicy>().ok())
                        .ok_or_else(|| PolicyError::BadPolicy {
                            method: path.clone(),
                            detail: "unreadable access option".into(),
                        })?;
                    Some(resolve(&path, wire)?)
                } else {
                    None
                };
                policies.insert(path, policy);
            }
        }
        Ok(Self { policies, sandbox })
    }

    /// The policy of the rpc at `path`: `None` if the rpc is not one of our contracts,
    /// `Some(None)` if it is but declares no policy.
    pub fn get(&self, path: &str) -> Option<Option<&RpcPolicy>> {
        self.policies.get(path).map(Option::as_ref)
    }

    /// Decides whether a call to `path` may proceed.
    pub fn check(
        &self,
        path: &str,
        authentication: Option<&Authentication>,
        principal: Option<&Principal>,
        idempotency_key: Option<&str>,
    ) -> Result<(), ApiError> {
        let policy = match self.get(path) {
            None => return Ok(()),
            Some(None) => {
                return Err(ApiError::new(
                    Reason::WrongCaller,
                    "this rpc is not open to callers",
                ));
            }
            Some(Some(policy)) => policy,
        };
        if policy.sandbox_only && !self.sandbox {
            return Err(ApiError::new(
                Reason::SandboxOnly,
                "this call exists only in the sandbox environment",
            ));
        }
        if let Some(Authentication::Failed(error)) = authentication
            && policy.caller != Caller::Public
        {
            return Err(error.clone());
        }
        match policy.caller {
            Caller::Public => {}
            Caller::Unspecified | Caller::Developer | Caller::Operator => {
                return Err(ApiError::new(
                    Reason::WrongCaller,
                    "this call is not available to app tokens",
                ));
            }
            Caller::App | Caller::Customer => {
                let principal = principal.ok_or_else(|| {
                    ApiError::new(Reason::Unauthenticated, "credentials required")
                })?;
                if policy.caller == Caller::Customer && principal.consent.is_none() {
                    return Err(ApiError::new(
                        Reason::WrongCaller,
                        "this call needs a token bound to a customer's consent",
                    ));
                }
                if let Some(scope) = policy.scopes.iter().find(|s| !principal.has_scope(**s)) {
                    return Err(ApiError::new(
                        Reason::InsufficientScope,
                        format!("the token lacks the scope {scope}"),
                    ));
                }
                if let Some(missing) = policy
                    .permissions
                    .iter()
                    .find(|p| !principal.has_permission(**p))
                {
                    return Err(ApiError::new(
                        Reason::PermissionNotGranted,
                        format!("the consent does not grant {}", missing.as_str()),
                    ));
                }
            }
        }
        if policy.idempotent && !idempotency_key.is_some_and(idempotency::is_valid_key) {
            let missing = idempotency::IdempotencyError::Missing;
            return Err(ApiError::new(missing.reason(), missing.to_string()));
        }
        Ok(())
    }
}

/// Middleware on the gRPC router: refuses calls the policy does not allow, with a gRPC status.
pub async fn layer(
    State(table): State<Arc<AccessTable>>,
    request: Request,
    next: Next,
) -> Response {
    let verdict = table.check(
        request.uri().path(),
        request.extensions().get::<Authentication>(),
        request.extensions().get::<Principal>(),
        request
            .headers()
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok()),
    );
    let principal = request.extensions().get::<Principal>();
    if let Some(record) = request.extensions().get::<CallRecord>() {
        record.update(|facts| {
            facts.rpc = Some(request.uri().path().to_owned());
            facts.customer_id = principal.and_then(|p| p.customer_id.clone());
            facts.consent_id = principal
                .and_then(|p| p.consent.as_ref())
                .map(|grant| grant.consent_id.clone());
        });
    }
    if let Err(error) = verdict {
        return Status::from(error).into_http();
    }
    // Every rpc — over gRPC, gRPC-web or transcoded REST — runs in a span naming the rpc and
    // the ids its token acts under; handlers add the ids of the resources they touch. Ids
    // only: never a token, a body or a header.
    let span = tracing::info_span!(
        "rpc",
        rpc = %request.uri().path(),
        app_id = principal.map(|p| tracing::field::display(&p.app_id)),
        customer_id = principal
            .and_then(|p| p.customer_id.as_ref())
            .map(tracing::field::display),
        consent_id = principal
            .and_then(|p| p.consent.as_ref())
            .map(|grant| tracing::field::display(&grant.consent_id)),
    );
    next.run(request).instrument(span).await
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use std::collections::BTreeSet;

    use wekeza_domain::AppId;

    use super::*;

    /// An app token holding every scope: whatever a policy asks of an app, it has.
    fn every_scope() -> Principal {
        Principal {
            app_id: "app_01JD3Z5Q8X4M2N6P7R9S0T1V2W".parse::<AppId>().unwrap(),
            scopes: Scope::ALL.into_iter().collect::<BTreeSet<_>>(),
            customer_id: None,
            consent: None,
            step_up_at: None,
        }
    }

    #[test]
    fn an_rpc_of_our_contracts_without_a_policy_is_closed_and_other_services_are_open() {
        let table = AccessTable {
            policies: HashMap::from([("/wekeza.openbanking.v1.Forgotten/Call".to_owned(), None)]),
            sandbox: true,
        };
        let principal = every_scope();
        let verdict = table.check(
            "/wekeza.openbanking.v1.Forgotten/Call",
            Some(&Authentication::Authenticated),
            Some(&principal),
            Some("01JD3Z5Q8X4M2N6P7R9S0T1V2W"),
        );
        assert_eq!(verdict.unwrap_err().reason(), Reason::WrongCaller);
        // Health and reflection are not ours: the policy does not stand in their way.
        assert!(
            table
                .check("/grpc.health.v1.Health/Check", None, None, None)
                .is_ok()
        );
    }
}
