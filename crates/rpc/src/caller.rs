//! Reading the caller. The gateway authenticates every request and stores a
//! [`Principal`] in its extensions; handlers call [`RequestExt::customer`] or
//! [`RequestExt::app`] on their first line and work only with what it returns.

use tonic::Request;
use wekeza_domain::{ConsentGrant, CustomerId, Permission, Principal, Reason};

use crate::status::ApiError;

/// A caller acting for a customer under an authorised consent.
#[derive(Debug, Clone, Copy)]
pub struct CustomerCaller<'a> {
    /// The whole principal.
    pub principal: &'a Principal,
    /// The customer.
    pub customer_id: &'a CustomerId,
    /// The consent the token is bound to.
    pub consent: &'a ConsentGrant,
}

impl CustomerCaller<'_> {
    /// Refuses unless the consent grants `permission`.
    pub fn require(self, permission: Permission) -> Result<Self, ApiError> {
        if self.consent.permissions.contains(&permission) {
            Ok(self)
        } else {
            Err(ApiError::new(
                Reason::PermissionNotGranted,
                format!("the consent does not grant {}", permission.as_str()),
            ))
        }
    }
}

/// Access to the authenticated caller of a tonic request.
pub trait RequestExt {
    /// The principal, or UNAUTHENTICATED.
    fn principal(&self) -> Result<&Principal, ApiError>;

    /// The principal of an app acting for itself (a client-credentials token), or
    /// UNAUTHENTICATED / WRONG_CALLER for a token bound to a customer.
    fn app(&self) -> Result<&Principal, ApiError> {
        let principal = self.principal()?;
        if principal.customer_id.is_some() || principal.consent.is_some() {
            return Err(ApiError::new(
                Reason::WrongCaller,
                "this call needs the app's own token (client credentials), not a customer's",
            ));
        }
        Ok(principal)
    }

    /// The principal as a customer-bound caller, or UNAUTHENTICATED / WRONG_CALLER.
    fn customer(&self) -> Result<CustomerCaller<'_>, ApiError> {
        let principal = self.principal()?;
        match (&principal.customer_id, &principal.consent) {
            (Some(customer_id), Some(consent)) => Ok(CustomerCaller {
                principal,
                customer_id,
                consent,
            }),
            _ => Err(ApiError::new(
                Reason::WrongCaller,
                "this call needs a token bound to a customer's consent",
            )),
        }
    }
}

impl<T> RequestExt for Request<T> {
    fn principal(&self) -> Result<&Principal, ApiError> {
        self.extensions()
            .get::<Principal>()
            .ok_or_else(|| ApiError::new(Reason::Unauthenticated, "credentials required"))
    }
}
