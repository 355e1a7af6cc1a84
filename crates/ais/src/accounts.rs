//! `AccountInformationService`: accounts, balances and transactions under the caller's consent.

use std::sync::Arc;

use tonic::{Request, Response, Status};
use wekeza_domain::{AccountId, Permission, Reason, TransactionId};
use wekeza_ledger::{AccountQuery, CoreBanking, TransactionQuery};
use wekeza_proto::v1 as pb;
use wekeza_proto::v1::account_information_service_server::AccountInformationService;
use wekeza_rpc::OrInternal;
use wekeza_rpc::caller::CustomerCaller;
use wekeza_rpc::wire::parse_timestamp;
use wekeza_rpc::{ApiError, PageRequest, RequestExt};

use crate::convert;

/// The Account Information service over a core banking system.
#[derive(Debug, Clone)]
pub struct AccountInformation {
    core: Arc<dyn CoreBanking>,
}

impl AccountInformation {
    /// A service answering from `core`.
    pub fn new(core: Arc<dyn CoreBanking>) -> Self {
        Self { core }
    }

    /// The account, if the caller's consent covers it and it is the caller's customer's.
    /// Anything else — malformed, unknown, outside the consent, another customer's — is the
    /// same NOT_FOUND.
    async fn consented_account(
        &self,
        caller: CustomerCaller<'_>,
        account_id: &str,
    ) -> Result<wekeza_ledger::Account, ApiError> {
        let not_found = || ApiError::not_found("account");
        let id: AccountId = account_id.parse().map_err(|_| not_found())?;
        if !caller.consent.account_ids.contains(&id) {
            return Err(not_found());
        }
        self.core
            .account(&id)
            .await
            .or_internal()?
            .filter(|account| &account.customer_id == caller.customer_id)
            .ok_or_else(not_found)
    }
}

fn bad_token() -> ApiError {
    ApiError::new(
        Reason::InvalidPageToken,
        "page_token was not issued for this query",
    )
}

#[tonic::async_trait]
impl AccountInformationService for AccountInformation {
    async fn list_accounts(
        &self,
        request: Request<pb::ListAccountsRequest>,
    ) -> Result<Response<pb::ListAccountsResponse>, Status> {
        let caller = request.customer()?.require(Permission::ReadAccounts)?;
        let body = request.get_ref();
        let consent_id = caller.consent.consent_id.as_str();
        let page = PageRequest::parse(body.page_size, &body.page_token, &["accounts", consent_id])?;
        let after_id = page
            .after
            .as_deref()
            .map(str::parse::<AccountId>)
            .transpose()
            .map_err(|_| bad_token())?;
        let query = AccountQuery {
            only: Some(caller.consent.account_ids.clone()),
            after_id,
            limit: page.fetch_limit(),
        };
        let mut accounts = self
            .core
            .accounts(caller.customer_id, &query)
            .await
            .or_internal()?;
        let next_page_token = page.finish(&mut accounts, |account| account.id.to_string());
        let detail = caller
            .principal
            .has_permission(Permission::ReadAccountsDetail);
        Ok(Response::new(pb::ListAccountsResponse {
            accounts: accounts
                .iter()
                .map(|account| convert::account(account, detail))
                .collect(),
            next_page_token,
        }))
    }

    #[tracing::instrument(skip_all, fields(account_id = %request.get_ref().account_id))]
    async fn get_account(
        &self,
        request: Request<pb::GetAccountRequest>,
    ) -> Result<Response<pb::GetAccountResponse>, Status> {
        let caller = request.customer()?.require(Permission::ReadAccounts)?;
        let account = self
            .consented_account(caller, &request.get_ref().account_id)
            .await?;
        let detail = caller
            .principal
            .has_permission(Permission::ReadAccountsDetail);
        Ok(Response::new(pb::GetAccountResponse {
            account: Some(convert::account(&account, detail)),
        }))
    }

    #[tracing::instrument(skip_all, fields(account_id = %request.get_ref().account_id))]
    async fn list_balances(
        &self,
        request: Request<pb::ListBalancesRequest>,
    ) -> Result<Response<pb::ListBalancesResponse>, Status> {
        let caller = request.customer()?.require(Permission::ReadBalances)?;
        let account = self
            .consented_account(caller, &request.get_ref().account_id)
            .await?;
        let balance = self
            .core
            .balance(&account.id)
            .await
            .or_internal()?
            .ok_or_else(|| ApiError::not_found("account"))?;
        Ok(Response::new(pb::ListBalancesResponse {
            balances: convert::balances(&balance),
        }))
    }

    #[tracing::instrument(skip_all, fields(account_id = %request.get_ref().account_id))]
    async fn list_transactions(
        &self,
        request: Request<pb::ListTransactionsRequest>,
    ) -> Result<Response<pb::ListTransactionsResponse>, Status> {
        let caller = request.customer()?.require(Permission::ReadTransactions)?;
        let body = request.get_ref();
        let account = self.consented_account(caller, &body.account_id).await?;
        let from = body
            .from_booking_time
            .as_ref()
            .map(|t| parse_timestamp("from_booking_time", t))
            .transpose()?;
        let to = body
            .to_booking_time
            .as_ref()
            .map(|t| parse_timestamp("to_booking_time", t))
            .transpose()?;
        if let (Some(from), Some(to)) = (from, to)
            && from > to
        {
            return Err(ApiError::invalid_field(
                "from_booking_time",
                "must not be after to_booking_time",
            )
            .into());
        }
        let (from_text, to_text) = (
            from.map(|t| t.to_rfc3339()).unwrap_or_default(),
            to.map(|t| t.to_rfc3339()).unwrap_or_default(),
        );
        let page = PageRequest::parse(
            body.page_size,
            &body.page_token,
            &["transactions", account.id.as_str(), &from_text, &to_text],
        )?;
        let before_id = page
            .after
            .as_deref()
            .map(str::parse::<TransactionId>)
            .transpose()
            .map_err(|_| bad_token())?;
        let query = TransactionQuery {
            from_booking_time: from,
            to_booking_time: to,
            before_id,
            limit: page.fetch_limit(),
        };
        let mut entries = self
            .core
            .transactions(&account.id, &query)
            .await
            .or_internal()?;
        let next_page_token = page.finish(&mut entries, |entry| entry.id.to_string());
        Ok(Response::new(pb::ListTransactionsResponse {
            transactions: entries.iter().map(convert::transaction).collect(),
            next_page_token,
        }))
    }
}
