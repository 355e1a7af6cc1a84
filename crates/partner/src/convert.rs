//! Store and billing values in the contract's wire form: plans, apps, usage and invoices.

use wekeza_proto::v1 as pb;
use wekeza_rpc::wire::{money, timestamp};
use wekeza_store::apps::{App, AppEnvironment, AppStatus, TokenEndpointAuthMethod};
use wekeza_store::plans::PlanTerms;
use wekeza_store::usage::{LATENCY_BOUNDS_MS, OperationUsage};

use crate::invoice::{Invoice, InvoiceStatus};

/// A count on the wire (int64).
pub fn count(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A plan on the wire.
pub fn plan(terms: &PlanTerms) -> pb::Plan {
    pb::Plan {
        plan_id: terms.plan.id().to_owned(),
        name: terms.name.clone(),
        description: terms.description.clone(),
        daily_request_limit: terms.daily_request_limit.map_or(0, count),
        monthly_price: Some(money(terms.monthly_price)),
        overage_price: terms.overage_price_per_thousand.map(money),
    }
}

/// An app on the wire. Until the review workflow exists (issue 14), an active app is
/// `APPROVED`.
pub fn app(app: &App) -> pb::App {
    pb::App {
        app_id: app.id.to_string(),
        client_id: app.client_id.clone(),
        name: app.name.clone(),
        description: String::new(),
        redirect_uris: app.redirect_uris.clone(),
        scopes: app
            .scopes
            .iter()
            .map(|scope| scope.as_str().to_owned())
            .collect(),
        environment: match app.environment {
            AppEnvironment::Sandbox => pb::AppEnvironment::Sandbox,
            AppEnvironment::Production => pb::AppEnvironment::Production,
        }
        .into(),
        status: match app.status {
            AppStatus::Active => pb::AppStatus::Approved,
            AppStatus::Suspended => pb::AppStatus::Suspended,
        }
        .into(),
        plan_id: app.plan.id().to_owned(),
        token_endpoint_auth_method: match app.token_endpoint_auth_method {
            TokenEndpointAuthMethod::ClientSecretBasic => "client_secret_basic",
            TokenEndpointAuthMethod::ClientSecretPost => "client_secret_post",
            TokenEndpointAuthMethod::PrivateKeyJwt => "private_key_jwt",
        }
        .to_owned(),
        jwks: app.jwks.clone().unwrap_or_default(),
        jwks_uri: String::new(),
        create_time: Some(timestamp(app.created_at)),
        developer_id: app
            .developer_id
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        review_comment: String::new(),
    }
}

/// One operation's usage on the wire.
pub fn operation(usage: &OperationUsage) -> pb::OperationUsage {
    let mut wire = pb::OperationUsage {
        operation: usage.operation.clone(),
        ..pb::OperationUsage::default()
    };
    let mut buckets = [0u64; LATENCY_BOUNDS_MS.len() + 1];
    for (class, counts) in &usage.by_class {
        let served = count(counts.requests.saturating_sub(counts.rejected));
        wire.request_count += served;
        wire.rejected_request_count += count(counts.rejected);
        match class {
            2 => wire.success_count += served,
            4 => wire.client_error_count += served,
            5 => wire.server_error_count += served,
            _ => {}
        }
        for (total, bucket) in buckets.iter_mut().zip(counts.latency_buckets) {
            *total = total.saturating_add(bucket);
        }
    }
    let bounds = LATENCY_BOUNDS_MS
        .iter()
        .map(|bound| count(*bound))
        .chain([0]);
    wire.latency = bounds
        .zip(buckets)
        .map(|(upper_bound_ms, requests)| pb::LatencyBucket {
            upper_bound_ms,
            request_count: count(requests),
        })
        .collect();
    wire
}

/// An invoice on the wire.
pub fn invoice(invoice: &Invoice) -> pb::Invoice {
    pb::Invoice {
        invoice_id: invoice.id.to_string(),
        developer_id: invoice
            .developer_id
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        app_id: invoice.app_id.to_string(),
        period_start_time: Some(timestamp(invoice.month.start())),
        period_end_time: Some(timestamp(invoice.month.end())),
        lines: invoice
            .lines
            .iter()
            .map(|line| pb::InvoiceLine {
                description: line.description.clone(),
                quantity: line.quantity,
                unit_price: Some(money(line.unit_price)),
                amount: Some(money(line.amount)),
            })
            .collect(),
        total: Some(money(invoice.total)),
        status: match invoice.status {
            InvoiceStatus::Draft => pb::InvoiceStatus::Draft,
            InvoiceStatus::Open => pb::InvoiceStatus::Open,
        }
        .into(),
        issue_time: invoice.issued_at.map(timestamp),
    }
}
