//! `PartnerService`, its billing part: the plans on offer, an app moving to another plan, its
//! metered usage and its monthly invoices.
//!
//! Until developer accounts exist (issue 14) the billing rpcs are called by the app itself with
//! its client-credentials token: every handler reads the calling app on its first line and
//! answers NOT_FOUND for any other app's id or invoice, so ids cannot be probed. The
//! developer, app and review rpcs belong to issue 14 and answer UNIMPLEMENTED.

use std::sync::Arc;

use chrono::{DateTime, Days, Utc};
use tonic::{Request, Response, Status};
use wekeza_domain::{AppId, Clock, InvoiceId};
use wekeza_proto::v1 as pb;
use wekeza_proto::v1::partner_service_server::PartnerService;
use wekeza_rpc::wire::{parse_timestamp, timestamp};
use wekeza_rpc::{ApiError, PageRequest, RequestExt};
use wekeza_store::DatabaseConnection;
use wekeza_store::apps::{App, Plan};

use crate::Error;
use crate::billing;
use crate::convert;
use crate::invoice::{self, Month, midnight};

/// The longest usage range, in days.
const MAX_USAGE_DAYS: i64 = 366;

/// The usage range when the request names no start, in days.
const DEFAULT_USAGE_DAYS: u64 = 30;

/// What the rpcs of issue 14 answer.
const NOT_YET: &str =
    "developer accounts, app management and review arrive with issue 14; not served yet";

/// Told of every plan change, so that what was kept of the app's plan (the gateway's cache)
/// is dropped and the change counts from the app's next call.
pub type OnPlanChange = Arc<dyn Fn(&AppId) + Send + Sync>;

/// The Partner service.
#[derive(Clone)]
pub struct Partner {
    /// Apps, plans, usage and plan history live here.
    db: DatabaseConnection,
    /// Days, months and plan changes are stamped by it; injectable for tests.
    clock: Arc<dyn Clock>,
    /// Told of every plan change.
    on_plan_change: OnPlanChange,
}

impl std::fmt::Debug for Partner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Partner").finish_non_exhaustive()
    }
}

impl Partner {
    /// A service over `db`, asking `clock` for the time, telling `on_plan_change` of every plan
    /// change.
    pub fn new(
        db: DatabaseConnection,
        clock: Arc<dyn Clock>,
        on_plan_change: OnPlanChange,
    ) -> Self {
        Self {
            db,
            clock,
            on_plan_change,
        }
    }

    /// The calling app, if `app_id` names it; NOT_FOUND for any other id.
    async fn own_app(&self, caller: &AppId, app_id: &str) -> Result<App, Error> {
        if app_id != caller.as_str() {
            return Err(Error::AppNotFound);
        }
        wekeza_store::apps::find(&self.db, caller)
            .await?
            .ok_or(Error::AppNotFound)
    }
}

/// The days of a usage request: from `start_time` rounded down to 00:00 UTC up to the day of
/// `end_time` (exclusive), defaulting to the 30 days before now.
fn usage_range(
    request: &pb::GetUsageRequest,
    now: DateTime<Utc>,
) -> Result<(chrono::NaiveDate, chrono::NaiveDate), Error> {
    let end = match &request.end_time {
        Some(end) => parse_timestamp("end_time", end)?,
        None => now,
    };
    let start = match &request.start_time {
        Some(start) => parse_timestamp("start_time", start)?,
        None => end
            .checked_sub_days(Days::new(DEFAULT_USAGE_DAYS))
            .unwrap_or(end),
    };
    if start >= end {
        return Err(Error::invalid("end_time", "must be after start_time"));
    }
    let first = start.date_naive();
    // The day holding the last instant before `end`.
    let until = (end - chrono::Duration::nanoseconds(1))
        .date_naive()
        .succ_opt()
        .unwrap_or(first);
    if (until - first).num_days() > MAX_USAGE_DAYS {
        return Err(Error::invalid(
            "end_time",
            "must be at most 366 days after start_time",
        ));
    }
    Ok((first, until))
}

#[tonic::async_trait]
impl PartnerService for Partner {
    async fn list_plans(
        &self,
        _request: Request<pb::ListPlansRequest>,
    ) -> Result<Response<pb::ListPlansResponse>, Status> {
        let plans = wekeza_store::plans::list(&self.db)
            .await
            .map_err(Error::from)?;
        Ok(Response::new(pb::ListPlansResponse {
            plans: plans.iter().map(convert::plan).collect(),
        }))
    }

    #[tracing::instrument(skip_all, fields(app_id = %request.get_ref().app_id, plan_id = %request.get_ref().plan_id))]
    async fn change_plan(
        &self,
        request: Request<pb::ChangePlanRequest>,
    ) -> Result<Response<pb::ChangePlanResponse>, Status> {
        let caller = request.app()?.app_id.clone();
        let body = request.get_ref();
        let app = self.own_app(&caller, &body.app_id).await?;
        let plan = Plan::from_id(&body.plan_id)
            .ok_or_else(|| Error::invalid("plan_id", "must be free, startup or enterprise"))?;
        if plan == Plan::Enterprise && app.plan != Plan::Enterprise {
            return Err(Error::EnterpriseByContract.into());
        }
        let changed = wekeza_store::plan_changes::change(&self.db, &app.id, plan, self.clock.now())
            .await
            .map_err(Error::from)?
            .ok_or(Error::AppNotFound)?;
        (self.on_plan_change)(&app.id);
        tracing::info!(from = app.plan.id(), to = plan.id(), "plan changed");
        Ok(Response::new(pb::ChangePlanResponse {
            app: Some(convert::app(&changed)),
        }))
    }

    #[tracing::instrument(skip_all, fields(app_id = %request.get_ref().app_id))]
    async fn get_usage(
        &self,
        request: Request<pb::GetUsageRequest>,
    ) -> Result<Response<pb::GetUsageResponse>, Status> {
        let caller = request.app()?.app_id.clone();
        let body = request.get_ref();
        let app = self.own_app(&caller, &body.app_id).await?;
        let (first, until) = usage_range(body, self.clock.now())?;
        let terms = wekeza_store::plans::get(&self.db, app.plan)
            .await
            .map_err(Error::from)?;
        let used = wekeza_store::usage::days(&self.db, &app.id, first, until)
            .await
            .map_err(Error::from)?;
        let days: Vec<pb::DailyUsage> = first
            .iter_days()
            .take_while(|day| *day < until)
            .map(|day| {
                let used = used.iter().find(|used| used.day == day);
                pb::DailyUsage {
                    start_time: Some(timestamp(midnight(day))),
                    request_count: used.map_or(0, |used| convert::count(used.served)),
                    overage_request_count: used
                        .map_or(0, |used| convert::count(used.quota.overage)),
                    rejected_request_count: used.map_or(0, |used| convert::count(used.rejected)),
                }
            })
            .collect();
        let operations = wekeza_store::usage::operations(&self.db, &app.id, first, until)
            .await
            .map_err(Error::from)?;
        Ok(Response::new(pb::GetUsageResponse {
            app_id: app.id.to_string(),
            plan_id: app.plan.id().to_owned(),
            daily_request_limit: terms.daily_request_limit.map_or(0, convert::count),
            total_request_count: days.iter().map(|day| day.request_count).sum(),
            days,
            operations: operations.iter().map(convert::operation).collect(),
        }))
    }

    #[tracing::instrument(skip_all, fields(app_id = %request.get_ref().app_id))]
    async fn list_invoices(
        &self,
        request: Request<pb::ListInvoicesRequest>,
    ) -> Result<Response<pb::ListInvoicesResponse>, Status> {
        let caller = request.app()?.app_id.clone();
        let body = request.get_ref();
        let app_id = if body.app_id.is_empty() {
            caller.as_str()
        } else {
            body.app_id.as_str()
        };
        let app = self.own_app(&caller, app_id).await?;
        let page = PageRequest::parse(
            body.page_size,
            &body.page_token,
            &["invoices", app.id.as_str()],
        )?;
        let before = page
            .after
            .as_deref()
            .map(|month| {
                Month::parse(month).ok_or_else(|| {
                    ApiError::new(
                        wekeza_domain::Reason::InvalidPageToken,
                        "page_token was not issued for this query",
                    )
                })
            })
            .transpose()?;
        let limit = usize::try_from(page.fetch_limit()).unwrap_or(usize::MAX);
        let mut invoices = billing::invoices(&self.db, &app, before, limit, self.clock.now())
            .await
            .map_err(Status::from)?;
        let next_page_token = page.finish(&mut invoices, |invoice| invoice.month.to_string());
        Ok(Response::new(pb::ListInvoicesResponse {
            invoices: invoices.iter().map(convert::invoice).collect(),
            next_page_token,
        }))
    }

    #[tracing::instrument(skip_all, fields(invoice_id = %request.get_ref().invoice_id))]
    async fn get_invoice(
        &self,
        request: Request<pb::GetInvoiceRequest>,
    ) -> Result<Response<pb::GetInvoiceResponse>, Status> {
        let caller = request.app()?.app_id.clone();
        let id: InvoiceId = request
            .get_ref()
            .invoice_id
            .parse()
            .map_err(|_| Error::InvoiceNotFound)?;
        let month = invoice::month_of(&id).ok_or(Error::InvoiceNotFound)?;
        // Only the caller's own invoice has this id: any other answers NOT_FOUND.
        if invoice::invoice_id(&caller, month) != id {
            return Err(Error::InvoiceNotFound.into());
        }
        let app = self
            .own_app(&caller, caller.as_str())
            .await
            .map_err(|_| Error::InvoiceNotFound)?;
        let terms = billing::terms(&self.db).await?;
        let invoice = billing::invoice(&self.db, &app, &terms, month, self.clock.now())
            .await?
            .ok_or(Error::InvoiceNotFound)?;
        Ok(Response::new(pb::GetInvoiceResponse {
            invoice: Some(convert::invoice(&invoice)),
        }))
    }

    async fn create_developer(
        &self,
        _request: Request<pb::CreateDeveloperRequest>,
    ) -> Result<Response<pb::CreateDeveloperResponse>, Status> {
        Err(Status::unimplemented(NOT_YET))
    }

    async fn get_developer(
        &self,
        _request: Request<pb::GetDeveloperRequest>,
    ) -> Result<Response<pb::GetDeveloperResponse>, Status> {
        Err(Status::unimplemented(NOT_YET))
    }

    async fn create_app(
        &self,
        _request: Request<pb::CreateAppRequest>,
    ) -> Result<Response<pb::CreateAppResponse>, Status> {
        Err(Status::unimplemented(NOT_YET))
    }

    async fn list_apps(
        &self,
        _request: Request<pb::ListAppsRequest>,
    ) -> Result<Response<pb::ListAppsResponse>, Status> {
        Err(Status::unimplemented(NOT_YET))
    }

    async fn get_app(
        &self,
        _request: Request<pb::GetAppRequest>,
    ) -> Result<Response<pb::GetAppResponse>, Status> {
        Err(Status::unimplemented(NOT_YET))
    }

    async fn update_app(
        &self,
        _request: Request<pb::UpdateAppRequest>,
    ) -> Result<Response<pb::UpdateAppResponse>, Status> {
        Err(Status::unimplemented(NOT_YET))
    }

    async fn delete_app(
        &self,
        _request: Request<pb::DeleteAppRequest>,
    ) -> Result<Response<pb::DeleteAppResponse>, Status> {
        Err(Status::unimplemented(NOT_YET))
    }

    async fn rotate_app_secret(
        &self,
        _request: Request<pb::RotateAppSecretRequest>,
    ) -> Result<Response<pb::RotateAppSecretResponse>, Status> {
        Err(Status::unimplemented(NOT_YET))
    }

    async fn create_api_key(
        &self,
        _request: Request<pb::CreateApiKeyRequest>,
    ) -> Result<Response<pb::CreateApiKeyResponse>, Status> {
        Err(Status::unimplemented(NOT_YET))
    }

    async fn list_api_keys(
        &self,
        _request: Request<pb::ListApiKeysRequest>,
    ) -> Result<Response<pb::ListApiKeysResponse>, Status> {
        Err(Status::unimplemented(NOT_YET))
    }

    async fn revoke_api_key(
        &self,
        _request: Request<pb::RevokeApiKeyRequest>,
    ) -> Result<Response<pb::RevokeApiKeyResponse>, Status> {
        Err(Status::unimplemented(NOT_YET))
    }

    async fn submit_app_for_review(
        &self,
        _request: Request<pb::SubmitAppForReviewRequest>,
    ) -> Result<Response<pb::SubmitAppForReviewResponse>, Status> {
        Err(Status::unimplemented(NOT_YET))
    }

    async fn list_apps_for_review(
        &self,
        _request: Request<pb::ListAppsForReviewRequest>,
    ) -> Result<Response<pb::ListAppsForReviewResponse>, Status> {
        Err(Status::unimplemented(NOT_YET))
    }

    async fn review_app(
        &self,
        _request: Request<pb::ReviewAppRequest>,
    ) -> Result<Response<pb::ReviewAppResponse>, Status> {
        Err(Status::unimplemented(NOT_YET))
    }
}
