//! REST for external developers, derived — never hand-written — from the contracts: the
//! transcoder built from the descriptor set, the OpenAPI 3.1 document built from the same
//! descriptors (with each operation's security taken from its `(access)` policy), and the
//! `/docs` console (Swagger UI, embedded in the binary, no CDN).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prost_reflect::MethodDescriptor;
use serde_json::{Value, json};
use wekeza_domain::Scope;
use wekeza_gateway::policy::AccessTable;
use wekeza_proto::FILE_DESCRIPTOR_SET;
use wekeza_proto::v1::Caller;
use wekeza_transcode::{OpenApiInfo, SecurityRequirement, Transcoder};

/// The OAuth2 security scheme's name in the document.
const OAUTH2: &str = "oauth2";

const DESCRIPTION: &str = "The Wekeza Open Banking API: account information, consents, payment \
initiation, webhooks and the developer ecosystem. The same API is served over gRPC; this \
REST form is derived from the Protobuf contracts. Errors are RFC 9457 `application/problem+json` \
with a machine-readable `reason`. Money is a decimal string with an ISO 4217 currency; times are \
RFC 3339 in UTC; ids are prefixed (`acc_…`, `pay_…`).";

/// The transcoder for the services this server runs.
pub fn transcoder(served: &[&str]) -> anyhow::Result<Transcoder> {
    let served: Vec<String> = served.iter().map(|s| (*s).to_owned()).collect();
    Ok(Transcoder::from_descriptor_set(FILE_DESCRIPTOR_SET)?
        .retain_services(move |service| served.iter().any(|s| s == service)))
}

fn grpc_path(method: &MethodDescriptor) -> String {
    format!("/{}/{}", method.parent_service().full_name(), method.name())
}

/// The OpenAPI document of `transcoder`'s routes; security from `access`.
pub fn openapi(transcoder: &Transcoder, access: Arc<AccessTable>) -> Value {
    let scopes: serde_json::Map<String, Value> = Scope::ALL
        .iter()
        .map(|scope| (scope.as_str().to_owned(), json!(scope_description(*scope))))
        .collect();
    let info = OpenApiInfo::new("Wekeza Open Banking API", env!("CARGO_PKG_VERSION"))
        .description(DESCRIPTION)
        .security_scheme(
            OAUTH2,
            json!({
                "type": "oauth2",
                "description": "Client-credentials tokens act for the app; authorization-code \
                                tokens act for a customer under one consent.",
                "flows": {
                    "clientCredentials": { "tokenUrl": "/oauth2/token", "scopes": scopes },
                    "authorizationCode": {
                        "authorizationUrl": "/oauth2/authorize",
                        "tokenUrl": "/oauth2/token",
                        "scopes": scopes,
                    },
                },
            }),
        )
        .security(move |method| {
            let Some(Some(policy)) = access.get(&grpc_path(method)) else {
                return Vec::new();
            };
            if policy.caller == Caller::Public {
                return Vec::new();
            }
            let scopes = policy
                .scopes
                .iter()
                .map(|s| s.as_str().to_owned())
                .collect();
            let requirement: SecurityRequirement = BTreeMap::from([(OAUTH2.to_owned(), scopes)]);
            vec![requirement]
        });
    transcoder.openapi(&info)
}

fn scope_description(scope: Scope) -> &'static str {
    match scope {
        Scope::AccountsRead => "Create account-access consents; read consented account data",
        Scope::PaymentsInitiate => "Create payment consents; initiate the consented payment",
        Scope::CustomersProfileRead => "Read the consenting customer's profile",
        Scope::WebhooksManage => "Manage the app's webhook endpoints",
        Scope::OpenId => "OpenID Connect sign-in",
    }
}

/// `GET /openapi.json` and the `/docs` console.
pub fn docs_router(openapi: &Value) -> anyhow::Result<Router> {
    let document: Arc<[u8]> = serde_json::to_vec_pretty(openapi)?.into();
    Ok(Router::new()
        .route(
            "/openapi.json",
            get(move || {
                let document = document.clone();
                async move {
                    (
                        [(header::CONTENT_TYPE, "application/json")],
                        document.to_vec(),
                    )
                }
            }),
        )
        .route("/docs", get(|| docs_asset(Path("index.html".to_owned()))))
        .route("/docs/{file}", get(docs_asset)))
}

/// The console's files, embedded in the binary.
async fn docs_asset(Path(file): Path<String>) -> Response {
    let (content_type, body): (&str, &'static [u8]) = match file.as_str() {
        "index.html" => (
            "text/html; charset=utf-8",
            include_bytes!("../assets/docs/index.html"),
        ),
        "init.js" => ("text/javascript", include_bytes!("../assets/docs/init.js")),
        "swagger-ui-bundle.js" => (
            "text/javascript",
            include_bytes!("../assets/docs/swagger-ui-bundle.js"),
        ),
        "swagger-ui.css" => ("text/css", include_bytes!("../assets/docs/swagger-ui.css")),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
            (header::CONTENT_SECURITY_POLICY, DOCS_POLICY),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body,
    )
        .into_response()
}

/// The console's content security policy: its own scripts, styles and the document only (Swagger
/// UI sets inline styles and shows `data:` images), never in a frame.
const DOCS_POLICY: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' \
     'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
