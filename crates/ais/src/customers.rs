//! `CustomerService`: the consenting customer's profile.

use std::sync::Arc;

use tonic::{Request, Response, Status};
use wekeza_domain::Permission;
use wekeza_ledger::CoreBanking;
use wekeza_proto::v1 as pb;
use wekeza_proto::v1::customer_service_server::CustomerService;
use wekeza_rpc::{ApiError, OrInternal, RequestExt};

use crate::convert;

/// The Customer service over a core banking system.
#[derive(Debug, Clone)]
pub struct Customers {
    core: Arc<dyn CoreBanking>,
}

impl Customers {
    /// A service answering from `core`.
    pub fn new(core: Arc<dyn CoreBanking>) -> Self {
        Self { core }
    }
}

#[tonic::async_trait]
impl CustomerService for Customers {
    async fn get_customer_profile(
        &self,
        request: Request<pb::GetCustomerProfileRequest>,
    ) -> Result<Response<pb::GetCustomerProfileResponse>, Status> {
        let caller = request
            .customer()?
            .require(Permission::ReadCustomerProfile)?;
        let customer = self
            .core
            .customer(caller.customer_id)
            .await
            .or_internal()?
            .ok_or_else(|| ApiError::not_found("customer"))?;
        Ok(Response::new(pb::GetCustomerProfileResponse {
            profile: Some(convert::profile(&customer)),
        }))
    }
}
