//! Account Information and Customer profile over gRPC: consent scoping, permissions,
//! pagination, date filters, and balances that add up.

use std::collections::HashSet;

use tonic::Code;
use wekeza_domain::{Permission, Scope};
use wekeza_proto::v1 as pb;
use wekeza_proto::v1::account_information_service_client::AccountInformationServiceClient;
use wekeza_proto::v1::customer_service_client::CustomerServiceClient;
use wekeza_testkit::TestServer;

use crate::support::assert_reason;

type Ais = AccountInformationServiceClient<tonic::transport::Channel>;

fn ais(server: &TestServer) -> Ais {
    AccountInformationServiceClient::new(server.channel())
}

async fn all_transactions(
    server: &TestServer,
    token: &str,
    account_id: &str,
    page_size: u32,
) -> Vec<pb::Transaction> {
    let mut client = ais(server);
    let mut collected = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_transactions(server.request(
                token,
                pb::ListTransactionsRequest {
                    account_id: account_id.to_owned(),
                    page_size,
                    page_token: page_token.clone(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert!(page.transactions.len() <= page_size as usize);
        collected.extend(page.transactions);
        if page.next_page_token.is_empty() {
            return collected;
        }
        page_token = page.next_page_token;
    }
}

fn signed_minor(money: &pb::Money, indicator: i32) -> i64 {
    let minor = wekeza_domain::Money::parse(&money.amount, &money.currency)
        .unwrap()
        .minor();
    if indicator == pb::CreditDebitIndicator::Debit as i32 {
        -minor
    } else {
        minor
    }
}

#[tokio::test]
async fn lists_the_consented_accounts_with_balances_and_transactions() {
    let server = TestServer::start().await;
    let token = server.full_access_token("user_good").await;
    let mut client = ais(&server);

    let accounts = client
        .list_accounts(server.request(&token, pb::ListAccountsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    let customer = server.customer("user_good").await;
    let expected: Vec<String> = server
        .account_ids(&customer)
        .await
        .iter()
        .map(ToString::to_string)
        .collect();
    let listed: Vec<String> = accounts
        .accounts
        .iter()
        .map(|a| a.account_id.clone())
        .collect();
    assert_eq!(listed, expected);
    assert!(!listed.is_empty());
    assert!(accounts.next_page_token.is_empty());
    let first = &accounts.accounts[0];
    assert_eq!(first.currency, "KES");
    let identification = first
        .identification
        .as_ref()
        .expect("detail permission shows the number");
    assert!(!identification.identification.is_empty());

    let balances = client
        .list_balances(server.request(
            &token,
            pb::ListBalancesRequest {
                account_id: first.account_id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .balances;
    let kinds: Vec<i32> = balances.iter().map(|b| b.r#type).collect();
    assert_eq!(
        kinds,
        [
            pb::BalanceType::InterimBooked as i32,
            pb::BalanceType::InterimAvailable as i32
        ]
    );

    let transactions = all_transactions(&server, &token, &first.account_id, 500).await;
    assert!(
        transactions.len() >= 30,
        "90 days of activity, got {}",
        transactions.len()
    );
    let newest = &transactions[0];
    let booked = &balances[0];
    assert_eq!(
        newest.balance_after, booked.amount,
        "newest entry's balance is the booked balance"
    );
    for pair in transactions.windows(2) {
        assert!(
            pair[0].transaction_id > pair[1].transaction_id,
            "newest first, no repeats"
        );
        let (newer, older) = (&pair[0], &pair[1]);
        let older_balance = signed_minor(
            older.balance_after.as_ref().unwrap(),
            older.balance_after_indicator,
        );
        let newer_balance = signed_minor(
            newer.balance_after.as_ref().unwrap(),
            newer.balance_after_indicator,
        );
        let amount = signed_minor(newer.amount.as_ref().unwrap(), newer.credit_debit_indicator);
        assert_eq!(
            older_balance + amount,
            newer_balance,
            "running balance adds up at {}",
            newer.transaction_id
        );
    }
    let total: i64 = transactions
        .iter()
        .map(|t| signed_minor(t.amount.as_ref().unwrap(), t.credit_debit_indicator))
        .sum();
    assert_eq!(
        total,
        signed_minor(
            booked.amount.as_ref().unwrap(),
            booked.credit_debit_indicator
        ),
        "booked balance is the sum of every posting"
    );
    server.stop().await;
}

#[tokio::test]
async fn accounts_outside_the_consent_answer_not_found() {
    let server = TestServer::start().await;
    let good = server.customer("user_good").await;
    let good_accounts = server.account_ids(&good).await;
    assert!(
        good_accounts.len() >= 2,
        "user_good has a current and a savings account"
    );
    let other = server.customer("user_student").await;
    let foreign = server.account_ids(&other).await[0].to_string();

    let principal = server
        .customer_principal(
            "user_good",
            Some(vec![good_accounts[0].clone()]),
            &[
                Permission::ReadAccounts,
                Permission::ReadBalances,
                Permission::ReadTransactions,
            ],
            &[Scope::AccountsRead],
        )
        .await;
    let token = server.token_for(principal);
    let mut client = ais(&server);

    let listed = client
        .list_accounts(server.request(&token, pb::ListAccountsRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .accounts;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].account_id, good_accounts[0].to_string());
    assert!(
        listed[0].identification.is_none(),
        "no detail permission, no account number"
    );

    let unconsented = good_accounts[1].to_string();
    for account_id in [
        unconsented,
        foreign,
        "acc_nonsense".to_owned(),
        "pay_01jd5t3j9c2v8q7m6n5b4x3z2y".to_owned(),
    ] {
        let get = client
            .get_account(server.request(
                &token,
                pb::GetAccountRequest {
                    account_id: account_id.clone(),
                },
            ))
            .await
            .unwrap_err();
        assert_reason(&get, Code::NotFound, "NOT_FOUND");
        let balances = client
            .list_balances(server.request(
                &token,
                pb::ListBalancesRequest {
                    account_id: account_id.clone(),
                },
            ))
            .await
            .unwrap_err();
        assert_reason(&balances, Code::NotFound, "NOT_FOUND");
        let transactions = client
            .list_transactions(server.request(
                &token,
                pb::ListTransactionsRequest {
                    account_id,
                    ..Default::default()
                },
            ))
            .await
            .unwrap_err();
        assert_reason(&transactions, Code::NotFound, "NOT_FOUND");
    }
    server.stop().await;
}

#[tokio::test]
async fn credentials_scopes_and_permissions_are_enforced() {
    let server = TestServer::start().await;
    let mut client = ais(&server);

    let anonymous = client
        .list_accounts(pb::ListAccountsRequest::default())
        .await
        .unwrap_err();
    assert_reason(&anonymous, Code::Unauthenticated, "UNAUTHENTICATED");

    let forged = client
        .list_accounts(server.request("not-a-token", pb::ListAccountsRequest::default()))
        .await
        .unwrap_err();
    assert_reason(&forged, Code::Unauthenticated, "INVALID_TOKEN");

    let no_scope = server
        .customer_principal(
            "user_good",
            None,
            &Permission::ALL,
            &[Scope::PaymentsInitiate],
        )
        .await;
    let no_scope = server.token_for(no_scope);
    let refused = client
        .list_accounts(server.request(&no_scope, pb::ListAccountsRequest::default()))
        .await
        .unwrap_err();
    assert_reason(&refused, Code::PermissionDenied, "INSUFFICIENT_SCOPE");

    let accounts_only = server
        .customer_principal(
            "user_good",
            None,
            &[Permission::ReadAccounts],
            &[Scope::AccountsRead, Scope::CustomersProfileRead],
        )
        .await;
    let account_id = accounts_only
        .consent
        .as_ref()
        .unwrap()
        .account_ids
        .first()
        .unwrap()
        .to_string();
    let accounts_only = server.token_for(accounts_only);
    let refused = client
        .list_balances(server.request(&accounts_only, pb::ListBalancesRequest { account_id }))
        .await
        .unwrap_err();
    assert_reason(&refused, Code::PermissionDenied, "PERMISSION_NOT_GRANTED");
    let refused = CustomerServiceClient::new(server.channel())
        .get_customer_profile(server.request(&accounts_only, pb::GetCustomerProfileRequest {}))
        .await
        .unwrap_err();
    assert_reason(&refused, Code::PermissionDenied, "PERMISSION_NOT_GRANTED");

    let mut app_only = server
        .customer_principal("user_good", None, &Permission::ALL, &[Scope::AccountsRead])
        .await;
    app_only.consent = None;
    app_only.customer_id = None;
    let app_only = server.token_for(app_only);
    let refused = client
        .list_accounts(server.request(&app_only, pb::ListAccountsRequest::default()))
        .await
        .unwrap_err();
    assert_reason(&refused, Code::PermissionDenied, "WRONG_CALLER");
    server.stop().await;
}

#[tokio::test]
async fn transaction_pages_round_trip_without_gaps_or_repeats() {
    let server = TestServer::start().await;
    let token = server.full_access_token("user_business").await;
    let customer = server.customer("user_business").await;
    let account_id = server.account_ids(&customer).await[0].to_string();

    let everything = all_transactions(&server, &token, &account_id, 500).await;
    let paged = all_transactions(&server, &token, &account_id, 7).await;
    assert!(everything.len() > 14, "several pages");
    assert_eq!(paged, everything);
    let unique: HashSet<&str> = paged.iter().map(|t| t.transaction_id.as_str()).collect();
    assert_eq!(unique.len(), paged.len());

    let mut client = ais(&server);
    let first = client
        .list_transactions(server.request(
            &token,
            pb::ListTransactionsRequest {
                account_id: account_id.clone(),
                page_size: 3,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let other_account = server
        .account_ids(&server.customer("user_business").await)
        .await;
    let other_query = client
        .list_transactions(server.request(
            &token,
            pb::ListTransactionsRequest {
                account_id: account_id.clone(),
                page_size: 3,
                page_token: first.next_page_token.clone(),
                from_booking_time: Some(prost_types::Timestamp {
                    seconds: 0,
                    nanos: 0,
                }),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_reason(&other_query, Code::InvalidArgument, "INVALID_PAGE_TOKEN");
    assert!(!other_account.is_empty());

    let oversized = client
        .list_transactions(server.request(
            &token,
            pb::ListTransactionsRequest {
                account_id,
                page_size: 100_000,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        oversized.transactions.len(),
        500,
        "page size is capped at 500"
    );
    server.stop().await;
}

#[tokio::test]
async fn date_filters_bound_the_booking_time() {
    let server = TestServer::start().await;
    let token = server.full_access_token("user_good").await;
    let customer = server.customer("user_good").await;
    let account_id = server.account_ids(&customer).await[0].to_string();
    let everything = all_transactions(&server, &token, &account_id, 500).await;
    let now = wekeza_testkit::test_now().timestamp();
    let from = now - 30 * 86_400;
    let to = now - 10 * 86_400;
    let expected: Vec<&pb::Transaction> = everything
        .iter()
        .filter(|t| {
            let at = t.booking_time.as_ref().unwrap().seconds;
            at >= from && at < to
        })
        .collect();
    assert!(!expected.is_empty() && expected.len() < everything.len());

    let mut client = ais(&server);
    let mut filtered = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_transactions(server.request(
                &token,
                pb::ListTransactionsRequest {
                    account_id: account_id.clone(),
                    from_booking_time: Some(prost_types::Timestamp {
                        seconds: from,
                        nanos: 0,
                    }),
                    to_booking_time: Some(prost_types::Timestamp {
                        seconds: to,
                        nanos: 0,
                    }),
                    page_size: 5,
                    page_token,
                },
            ))
            .await
            .unwrap()
            .into_inner();
        filtered.extend(page.transactions);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let filtered: Vec<&pb::Transaction> = filtered.iter().collect();
    assert_eq!(filtered, expected);

    let inverted = client
        .list_transactions(server.request(
            &token,
            pb::ListTransactionsRequest {
                account_id,
                from_booking_time: Some(prost_types::Timestamp {
                    seconds: to,
                    nanos: 0,
                }),
                to_booking_time: Some(prost_types::Timestamp {
                    seconds: from,
                    nanos: 0,
                }),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_reason(&inverted, Code::InvalidArgument, "INVALID_REQUEST");
    server.stop().await;
}

#[tokio::test]
async fn reads_the_consenting_customers_profile() {
    let server = TestServer::start().await;
    let token = server.full_access_token("user_good").await;
    let profile = CustomerServiceClient::new(server.channel())
        .get_customer_profile(server.request(&token, pb::GetCustomerProfileRequest {}))
        .await
        .unwrap()
        .into_inner()
        .profile
        .unwrap();
    let customer = server.customer("user_good").await;
    assert_eq!(profile.customer_id, customer.id.to_string());
    assert_eq!(profile.full_name, customer.full_name);
    assert!(profile.phone_number.starts_with("+254"));
    server.stop().await;
}
