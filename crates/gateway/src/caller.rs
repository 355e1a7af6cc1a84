//! The calling app: which app a call is counted against for rate limits, quotas and metering —
//! the app of its OAuth2 token, or, on calls without a token, the app of its `x-api-key`.
//!
//! An API key identifies; it never authorises (customer data takes a token): a key alone makes
//! no [`Principal`]. A key that is unknown, revoked or of the other environment (`wk_live_` at
//! the sandbox, `wk_test_` in production) is refused with 401 and a reason of its own; so is a
//! key of one app beside a token of another (`CREDENTIALS_MISMATCH`).
//!
//! Apps' plans and the plans' terms are read through a [`Directory`] that keeps them for a few
//! seconds: a plan change made in this process ([`Directory::forget`]) counts from the next
//! call; one made elsewhere (another replica, the CLI) within the cache's lifetime.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use chrono::{DateTime, Utc};
use http::HeaderMap;
use wekeza_domain::{AppId, Clock, Principal, Reason};
use wekeza_rpc::ApiError;
use wekeza_store::apps::{AppEnvironment, Plan};
use wekeza_store::plans::PlanTerms;
use wekeza_store::{ApiKeyId, DatabaseConnection, api_keys};

use crate::record::CallRecord;
use crate::refusal;

/// The app a call is counted against, in the request extensions of identified calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallingApp {
    /// The app.
    pub app_id: AppId,
    /// Its usage plan at the time of the call.
    pub plan: Plan,
    /// The plan's terms (limits and prices).
    pub terms: Arc<PlanTerms>,
}

/// How long an app's plan and the plans' terms are kept before being read again.
const KEEP_FOR: Duration = Duration::from_secs(5);

/// How often a key's last use is written at most.
const KEY_USE_EVERY: chrono::Duration = chrono::Duration::minutes(1);

/// Every plan's terms, by plan.
type PlanBook = Arc<HashMap<Plan, Arc<PlanTerms>>>;

/// Apps' plans and the plans' terms, read from the database and kept for [`KEEP_FOR`].
#[derive(Debug, Clone)]
pub struct Directory {
    db: DatabaseConnection,
    apps: Arc<Mutex<HashMap<AppId, (Plan, Instant)>>>,
    plans: Arc<Mutex<Option<(PlanBook, Instant)>>>,
}

fn unavailable(error: &wekeza_store::Error) -> ApiError {
    tracing::error!(%error, "the calling app could not be read");
    ApiError::unavailable(
        "the platform cannot serve this call right now",
        Duration::from_secs(1),
    )
}

impl Directory {
    /// A directory over `db`.
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            apps: Arc::default(),
            plans: Arc::default(),
        }
    }

    /// Forgets what it knows of `app_id` (its plan changed): the next call reads it again.
    pub fn forget(&self, app_id: &AppId) {
        self.apps
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(app_id);
    }

    async fn terms(&self, plan: Plan) -> Result<Arc<PlanTerms>, ApiError> {
        let kept = self
            .plans
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .filter(|(_, at)| at.elapsed() < KEEP_FOR)
            .map(|(plans, _)| plans.clone());
        let plans = match kept {
            Some(plans) => plans,
            None => {
                let read = wekeza_store::plans::list(&self.db)
                    .await
                    .map_err(|error| unavailable(&error))?;
                let plans: PlanBook = Arc::new(
                    read.into_iter()
                        .map(|terms| (terms.plan, Arc::new(terms)))
                        .collect(),
                );
                *self.plans.lock().unwrap_or_else(PoisonError::into_inner) =
                    Some((plans.clone(), Instant::now()));
                plans
            }
        };
        plans.get(&plan).cloned().ok_or_else(|| {
            unavailable(&wekeza_store::Error::Corrupt(format!(
                "plans: no row for {}",
                plan.id()
            )))
        })
    }

    /// The calling app `app_id` with its plan's terms; `None` if there is no such app.
    pub async fn calling_app(&self, app_id: &AppId) -> Result<Option<CallingApp>, ApiError> {
        let kept = self
            .apps
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(app_id)
            .filter(|(_, at)| at.elapsed() < KEEP_FOR)
            .map(|(plan, _)| *plan);
        let plan = match kept {
            Some(plan) => plan,
            None => {
                let Some(app) = wekeza_store::apps::find(&self.db, app_id)
                    .await
                    .map_err(|error| unavailable(&error))?
                else {
                    return Ok(None);
                };
                self.apps
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(app_id.clone(), (app.plan, Instant::now()));
                app.plan
            }
        };
        Ok(Some(CallingApp {
            app_id: app_id.clone(),
            plan,
            terms: self.terms(plan).await?,
        }))
    }
}

/// What the [`layer`] needs: the directory, the platform's environment (which keys it takes)
/// and the clock.
#[derive(Debug, Clone)]
pub struct Callers {
    directory: Directory,
    environment: AppEnvironment,
    clock: Arc<dyn Clock>,
    /// When each key's use was last written.
    key_uses: Arc<Mutex<HashMap<ApiKeyId, DateTime<Utc>>>>,
}

impl Callers {
    /// Identifies callers through `directory` on a platform of `environment`.
    pub fn new(directory: Directory, environment: AppEnvironment, clock: Arc<dyn Clock>) -> Self {
        Self {
            directory,
            environment,
            clock,
            key_uses: Arc::default(),
        }
    }

    /// The app of the API key `key`, or why the key is refused.
    async fn app_of_key(&self, key: &str) -> Result<AppId, ApiError> {
        match api_keys::environment_of(key) {
            None => return Err(unknown_key()),
            Some(environment) if environment != self.environment => {
                return Err(ApiError::new(
                    Reason::ApiKeyWrongEnvironment,
                    format!(
                        "this is a {} key; this platform is the {} environment",
                        environment.as_str(),
                        self.environment.as_str()
                    ),
                ));
            }
            Some(_) => {}
        }
        let found = api_keys::find_by_key(&self.directory.db, key)
            .await
            .map_err(|error| unavailable(&error))?
            .ok_or_else(unknown_key)?;
        let now = self.clock.now();
        if !found.is_active(now) {
            return Err(ApiError::new(
                Reason::ApiKeyRevoked,
                "this API key was revoked",
            ));
        }
        self.note_use(found.id, now);
        Ok(found.app_id)
    }

    /// Writes the key's last use, at most once a minute, off the request's path.
    fn note_use(&self, id: ApiKeyId, now: DateTime<Utc>) {
        {
            let mut uses = self.key_uses.lock().unwrap_or_else(PoisonError::into_inner);
            if uses.get(&id).is_some_and(|at| now - *at < KEY_USE_EVERY) {
                return;
            }
            uses.insert(id.clone(), now);
        }
        let db = self.directory.db.clone();
        tokio::spawn(async move {
            if let Err(error) = api_keys::record_use(&db, &[(id, now)]).await {
                tracing::warn!(%error, "an API key's last use was not recorded");
            }
        });
    }

    /// The app the call is counted against: the token's, or the API key's, or none.
    async fn identify(
        &self,
        token_app: Option<AppId>,
        key: Result<Option<String>, ApiError>,
    ) -> Result<Option<CallingApp>, ApiError> {
        let key_app = match key? {
            Some(key) => Some(self.app_of_key(&key).await?),
            None => None,
        };
        let app_id = match (token_app, key_app) {
            (Some(token), Some(key)) if token != key => {
                return Err(ApiError::new(
                    Reason::CredentialsMismatch,
                    "the API key and the access token belong to different apps",
                ));
            }
            (Some(app), _) | (None, Some(app)) => app,
            (None, None) => return Ok(None),
        };
        self.directory.calling_app(&app_id).await
    }
}

/// The request's `x-api-key`, if it has one; more than one is refused.
fn api_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let mut keys = headers.get_all("x-api-key").iter();
    match (keys.next(), keys.next()) {
        (None, _) => Ok(None),
        (Some(_), Some(_)) => Err(ApiError::new(
            Reason::ApiKeyUnknown,
            "more than one x-api-key header",
        )),
        (Some(key), None) => Ok(Some(key.to_str().unwrap_or_default().to_owned())),
    }
}

fn unknown_key() -> ApiError {
    ApiError::new(
        Reason::ApiKeyUnknown,
        "the x-api-key is not a key of this platform",
    )
}

/// Middleware: records the app the call is counted against (in the extensions as a
/// [`CallingApp`], and in the [`CallRecord`]); refuses bad API keys.
pub async fn layer(State(callers): State<Callers>, mut request: Request, next: Next) -> Response {
    let token_app = request
        .extensions()
        .get::<Principal>()
        .map(|principal| principal.app_id.clone());
    let key = api_key(request.headers());
    match callers.identify(token_app, key).await {
        Ok(Some(calling)) => {
            if let Some(record) = request.extensions().get::<CallRecord>() {
                record.update(|facts| facts.app_id = Some(calling.app_id.clone()));
            }
            request.extensions_mut().insert(calling);
        }
        Ok(None) => {}
        Err(error) => return refusal::answer(request.headers(), error),
    }
    next.run(request).await
}
