//! The six test customers and what happens on their accounts, day by day. Amounts are in
//! minor units; times are Nairobi local hours (UTC+3), converted by [`Builder::at`].

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use wekeza_domain::Currency;
use wekeza_store::Result;
use wekeza_store::entity::enums::{AccountSubtype, CustomerKind};

use super::builder::{AccountSpec, Builder, CustomerSpec, Merchant, Text};
use super::{
    JANE_ACCOUNT_NUMBER, USER_BUSINESS, USER_GOOD, USER_JANE, USER_OVERDRAWN, USER_STUDENT,
    USER_TRAVELLER,
};
use crate::{InternalAccount, JournalKind};

// === merchants (ISO 18245 codes) ===

const fn merchant(name: &'static str, mcc: &'static str, category: &'static str) -> Merchant {
    Merchant {
        name,
        mcc,
        category,
    }
}

const SUPERMARKETS: [Merchant; 6] = [
    merchant("Naivas Westgate", "5411", "groceries"),
    merchant("Naivas Kilimani", "5411", "groceries"),
    merchant("Carrefour Two Rivers", "5411", "groceries"),
    merchant("Carrefour The Junction", "5411", "groceries"),
    merchant("Quickmart Kilimani", "5411", "groceries"),
    merchant("Quickmart Ngara", "5411", "groceries"),
];
const RIDES: [Merchant; 2] = [
    merchant("Uber Nairobi", "4121", "transport"),
    merchant("Bolt Nairobi", "4121", "transport"),
];
const RESTAURANTS: [Merchant; 4] = [
    merchant("Java House Adlife", "5814", "dining"),
    merchant("Artcaffe Westgate", "5812", "dining"),
    merchant("KFC Yaya Centre", "5814", "dining"),
    merchant("CJ's Koinange Street", "5812", "dining"),
];
const FUEL: [Merchant; 3] = [
    merchant("TotalEnergies Ngong Road", "5541", "fuel"),
    merchant("Rubis Lavington", "5541", "fuel"),
    merchant("Shell Waiyaki Way", "5541", "fuel"),
];
const PHARMACY: Merchant = merchant("Goodlife Pharmacy Sarit", "5912", "health");
const NETFLIX: Merchant = merchant("Netflix.com", "4899", "entertainment");
const KENYA_AIRWAYS: Merchant = merchant("Kenya Airways", "4511", "travel");
const CAR_SERVICE: Merchant = merchant("CMC Motors Service Centre", "7538", "car_maintenance");

/// A city the traveller visits, with merchants charging in USD.
#[derive(Clone, Copy)]
struct Destination {
    hotel: Merchant,
    restaurants: [Merchant; 3],
    taxi: Merchant,
    shops: [Merchant; 2],
    transit: Merchant,
}

const DESTINATIONS: [Destination; 3] = [
    Destination {
        hotel: merchant("Hilton London Paddington", "7011", "travel"),
        restaurants: [
            merchant("Dishoom Covent Garden", "5812", "dining"),
            merchant("Pret A Manger Victoria", "5814", "dining"),
            merchant("The Ivy Market Grill", "5812", "dining"),
        ],
        taxi: merchant("Uber London", "4121", "transport"),
        shops: [
            merchant("Harrods London", "5311", "shopping"),
            merchant("Marks & Spencer Oxford Street", "5311", "shopping"),
        ],
        transit: merchant("Transport for London", "4111", "transport"),
    },
    Destination {
        hotel: merchant("JW Marriott Marquis Dubai", "7011", "travel"),
        restaurants: [
            merchant("Al Mallah Dubai", "5812", "dining"),
            merchant("Ravi Restaurant Satwa", "5812", "dining"),
            merchant("Starbucks Dubai Mall", "5814", "dining"),
        ],
        taxi: merchant("Careem Dubai", "4121", "transport"),
        shops: [
            merchant("Dubai Duty Free", "5309", "shopping"),
            merchant("Carrefour Mall of the Emirates", "5411", "groceries"),
        ],
        transit: merchant("Dubai Metro RTA", "4111", "transport"),
    },
    Destination {
        hotel: merchant("Radisson Blu Sandton", "7011", "travel"),
        restaurants: [
            merchant("Nando's Rosebank", "5812", "dining"),
            merchant("Tashas Sandton", "5812", "dining"),
            merchant("Vida e Caffe Melrose", "5814", "dining"),
        ],
        taxi: merchant("Uber Johannesburg", "4121", "transport"),
        shops: [
            merchant("Woolworths Sandton City", "5311", "shopping"),
            merchant("Exclusive Books Hyde Park", "5942", "shopping"),
        ],
        transit: merchant("Gautrain Sandton", "4111", "transport"),
    },
];

const FRIENDS: [&str; 6] = [
    "Kevin Mutua",
    "Faith Achieng",
    "Dennis Kiprop",
    "Mercy Njeri",
    "Collins Omondi",
    "Sharon Chebet",
];
const SHOPPERS: [&str; 12] = [
    "John Kariuki",
    "Grace Wambui",
    "Samuel Kiptoo",
    "Esther Akinyi",
    "Joseph Mwangi",
    "Lucy Nyambura",
    "Patrick Ochieng",
    "Ann Wairimu",
    "Daniel Kibet",
    "Rose Atieno",
    "Francis Mutiso",
    "Beatrice Moraa",
];
const SUPPLIERS: [&str; 4] = [
    "Mabati Rolling Mills Ltd",
    "Bamburi Cement PLC",
    "Devki Steel Mills Ltd",
    "Crown Paints Kenya PLC",
];
const STAFF: [&str; 4] = [
    "Josephat Mutua",
    "Halima Abdi",
    "George Otieno",
    "Winnie Jeptoo",
];

// === transaction helpers ===

fn card(b: &mut Builder, at: DateTime<Utc>, account: usize, merchant: Merchant, amount: i64) {
    let text = b.card_text(merchant);
    b.push(
        at,
        JournalKind::Card,
        account,
        -amount,
        InternalAccount::CardSettlement,
        text,
    );
}

fn card_on(
    b: &mut Builder,
    day: NaiveDate,
    hours: (i64, i64),
    account: usize,
    merchant: Merchant,
    amount: i64,
) {
    let at = b.at(day, hours.0, hours.1);
    card(b, at, account, merchant, amount);
}

fn text(
    description: String,
    reference: String,
    category: &str,
    counterparty: Option<&str>,
) -> Text {
    Text {
        description,
        reference,
        category: category.to_owned(),
        counterparty_name: counterparty.map(str::to_owned),
        ..Text::default()
    }
}

fn mpesa_send(b: &mut Builder, at: DateTime<Utc>, account: usize, to: &str, amount: i64) {
    let receipt = b.receipt_code();
    let text = text(
        format!("M-PESA transfer to {to}"),
        receipt,
        "transfers",
        Some(to),
    );
    b.push(
        at,
        JournalKind::MobileMoney,
        account,
        -amount,
        InternalAccount::MobileMoney,
        text,
    );
}

fn mpesa_receive(
    b: &mut Builder,
    at: DateTime<Utc>,
    account: usize,
    from: &str,
    amount: i64,
    category: &str,
    description: String,
) {
    let receipt = b.receipt_code();
    let text = text(description, receipt, category, Some(from));
    b.push(
        at,
        JournalKind::MobileMoney,
        account,
        amount,
        InternalAccount::MobileMoney,
        text,
    );
}

fn till(
    b: &mut Builder,
    at: DateTime<Utc>,
    account: usize,
    name: &str,
    till_number: &str,
    amount: i64,
    category: &str,
) {
    let receipt = b.receipt_code();
    let text = Text {
        description: format!("M-PESA Buy Goods {name} till {till_number}"),
        reference: receipt,
        category: category.to_owned(),
        merchant_name: Some(name.to_owned()),
        ..Text::default()
    };
    b.push(
        at,
        JournalKind::MobileMoney,
        account,
        -amount,
        InternalAccount::MobileMoney,
        text,
    );
}

fn airtime(b: &mut Builder, at: DateTime<Utc>, account: usize, amount: i64, what: &str) {
    let receipt = b.receipt_code();
    let text = text(
        format!("Safaricom {what}"),
        receipt,
        "airtime",
        Some("Safaricom PLC"),
    );
    b.push(
        at,
        JournalKind::MobileMoney,
        account,
        -amount,
        InternalAccount::MobileMoney,
        text,
    );
}

/// A bank transfer in through interbank clearing.
fn transfer_in(b: &mut Builder, at: DateTime<Utc>, account: usize, amount: i64, text: Text) {
    b.push(
        at,
        JournalKind::Transfer,
        account,
        amount,
        InternalAccount::Clearing,
        text,
    );
}

/// A bank transfer out through interbank clearing.
fn transfer_out(b: &mut Builder, at: DateTime<Utc>, account: usize, amount: i64, text: Text) {
    b.push(
        at,
        JournalKind::Transfer,
        account,
        -amount,
        InternalAccount::Clearing,
        text,
    );
}

fn bill(
    b: &mut Builder,
    at: DateTime<Utc>,
    account: usize,
    biller: &str,
    amount: i64,
    reference: String,
) {
    let text = text(
        format!("Bill payment {biller}"),
        reference,
        "utilities",
        Some(biller),
    );
    b.push(
        at,
        JournalKind::BillPayment,
        account,
        -amount,
        InternalAccount::Clearing,
        text,
    );
}

fn kplc_token(b: &mut Builder, at: DateTime<Utc>, account: usize, meter: &str, amount: i64) {
    bill(
        b,
        at,
        account,
        "Kenya Power (KPLC) prepaid",
        amount,
        format!("Meter {meter}"),
    );
}

fn own_transfer(
    b: &mut Builder,
    at: DateTime<Utc>,
    from: usize,
    to: usize,
    amount: i64,
    description: &str,
) {
    let text = text(
        description.to_owned(),
        format!("OWN {}", at.format("%Y%m%d")),
        "savings",
        None,
    );
    b.between_accounts(
        at,
        JournalKind::InternalTransfer,
        (from, amount),
        (to, amount),
        text,
    );
}

/// Buys USD on `usd` with `kes_amount` from `kes` at `rate_hundredths` KES per USD.
fn buy_usd(
    b: &mut Builder,
    at: DateTime<Utc>,
    kes: usize,
    usd: usize,
    kes_amount: i64,
    rate_hundredths: i64,
) {
    let usd_amount = kes_amount * 100 / rate_hundredths;
    let text = text(
        format!(
            "FX purchase USD {}.{:02} @ {}.{:02}",
            usd_amount / 100,
            usd_amount % 100,
            rate_hundredths / 100,
            rate_hundredths % 100
        ),
        format!("FX{}", at.format("%Y%m%d%H%M")),
        "fx",
        None,
    );
    b.between_accounts(
        at,
        JournalKind::Fx,
        (kes, kes_amount),
        (usd, usd_amount),
        text,
    );
}

fn month(day: NaiveDate) -> String {
    day.format("%b %Y").to_string().to_uppercase()
}

fn is_last_day_of_month(day: NaiveDate) -> bool {
    day.succ_opt()
        .is_none_or(|next| next.month() != day.month())
}

/// Whole shillings in minor units.
fn kes(major: i64) -> i64 {
    major * 100
}

/// Whole dollars in minor units.
fn usd(major: i64) -> i64 {
    major * 100
}

fn address(
    line: &'static str,
    town: &'static str,
    post_code: &'static str,
) -> (&'static str, &'static str, &'static str) {
    (line, town, post_code)
}

fn spec(
    user: &'static super::TestUser,
    kind: CustomerKind,
    email: &'static str,
    phone_number: &'static str,
    (address_line, town_name, post_code): (&'static str, &'static str, &'static str),
    customer_for_days: i64,
) -> CustomerSpec {
    CustomerSpec {
        user,
        full_name: user.full_name,
        kind,
        email,
        phone_number,
        address_line,
        town_name,
        post_code,
        customer_for_days,
    }
}

fn kes_account(
    subtype: AccountSubtype,
    nickname: &'static str,
    overdraft: i64,
    opening: i64,
) -> AccountSpec {
    AccountSpec {
        subtype,
        currency: Currency::Kes,
        nickname,
        account_number: None,
        overdraft_limit_minor: overdraft,
        opening_minor: opening,
    }
}

// === personas ===

/// `user_good`: salaried, KES current + KES savings.
pub(super) fn salaried(b: &mut Builder) -> Result<()> {
    let accounts = b.customer(
        spec(
            &USER_GOOD,
            CustomerKind::Personal,
            "amina.wanjiru@example.com",
            "+254712345678",
            address("Apartment 4B, Kindaruma Road", "Nairobi", "00100"),
            1460,
        ),
        &[
            kes_account(
                AccountSubtype::CurrentAccount,
                "Everyday account",
                0,
                kes(85_000),
            ),
            kes_account(
                AccountSubtype::Savings,
                "Rainy day savings",
                0,
                kes(240_000),
            ),
        ],
    )?;
    let &[current, savings] = accounts.as_slice() else {
        return Ok(());
    };
    for day in b.days() {
        let dom = day.day();
        let weekday = day.weekday();
        if dom == 25 {
            let at = b.at(day, 8, 10);
            transfer_in(
                b,
                at,
                current,
                kes(168_500),
                text(
                    "Salary Kilimani Tech Solutions Ltd".to_owned(),
                    format!("SAL/{}", day.format("%Y/%m")),
                    "salary",
                    Some("Kilimani Tech Solutions Ltd"),
                ),
            );
        }
        if dom == 1 {
            let at = b.at(day, 9, 11);
            transfer_out(
                b,
                at,
                current,
                kes(45_000),
                text(
                    "Rent Greenpark Properties".to_owned(),
                    format!("RENT {} HSE B12", month(day)),
                    "rent",
                    Some("Greenpark Properties Ltd"),
                ),
            );
            let at = b.at(day, 2, 4);
            let interest = b.amount(900, 1_400);
            let text = text(
                "Savings interest".to_owned(),
                format!("INT {}", month(day)),
                "interest",
                None,
            );
            b.push(
                at,
                JournalKind::Fee,
                savings,
                interest,
                InternalAccount::FeesAndInterest,
                text,
            );
        }
        if dom == 26 {
            let at = b.at(day, 18, 20);
            own_transfer(
                b,
                at,
                current,
                savings,
                kes(20_000),
                "Transfer to Rainy day savings",
            );
        }
        if dom == 5 {
            let at = b.at(day, 7, 9);
            bill(
                b,
                at,
                current,
                "Safaricom Home Fibre",
                kes(4_100),
                "Account 2004518873".to_owned(),
            );
        }
        if dom == 8 {
            let at = b.at(day, 10, 12);
            let amount = b.amount(1_200, 2_400);
            bill(
                b,
                at,
                current,
                "Nairobi City Water & Sewerage Co",
                amount,
                "Account 5510293".to_owned(),
            );
        }
        if dom == 12 {
            let at = b.at(day, 3, 5);
            card(b, at, current, NETFLIX, kes(1_100));
        }
        if b.chance(1.0 / 12.0) {
            let at = b.at(day, 18, 22);
            let amount = b.round_amount(1_000, 3_000, 100);
            kplc_token(b, at, current, "37154298811", amount);
        }
        let grocery_chance = match weekday {
            Weekday::Sat => 0.9,
            Weekday::Wed => 0.4,
            _ => 0.05,
        };
        if b.chance(grocery_chance) {
            let store = b.pick(&SUPERMARKETS);
            let amount = b.amount(2_000, 9_500);
            card_on(b, day, (9, 20), current, store, amount);
        }
        if weekday.number_from_monday() <= 5 && b.chance(0.4) {
            let ride = b.pick(&RIDES);
            let amount = b.amount(250, 1_400);
            card_on(b, day, (7, 22), current, ride, amount);
        }
        if b.chance(0.25) {
            let restaurant = b.pick(&RESTAURANTS);
            let amount = b.amount(650, 3_200);
            card_on(b, day, (12, 21), current, restaurant, amount);
        }
        if b.chance(1.0 / 14.0) {
            let station = b.pick(&FUEL);
            let amount = b.amount(3_000, 6_000);
            card_on(b, day, (7, 19), current, station, amount);
        }
        if b.chance(0.12) {
            let at = b.at(day, 8, 21);
            let amount = b.round_amount(100, 1_000, 50);
            airtime(b, at, current, amount, "airtime top-up");
        }
        if b.chance(0.08) {
            let at = b.at(day, 10, 20);
            let amount = b.round_amount(2_000, 5_000, 500);
            mpesa_send(b, at, current, "Mary Wanjiru", amount);
        }
        if b.chance(0.04) {
            let amount = b.amount(450, 2_800);
            card_on(b, day, (10, 19), current, PHARMACY, amount);
        }
    }
    Ok(())
}

/// `user_student`: a small allowance by M-Pesa, spent in small M-Pesa payments.
pub(super) fn student(b: &mut Builder) -> Result<()> {
    let accounts = b.customer(
        spec(
            &USER_STUDENT,
            CustomerKind::Personal,
            "brian.otieno@students.example.com",
            "+254723456789",
            address("Hall 7, Main Campus, University Way", "Nairobi", "00100"),
            520,
        ),
        &[kes_account(
            AccountSubtype::CurrentAccount,
            "Campus account",
            0,
            kes(9_800),
        )],
    )?;
    let &[current] = accounts.as_slice() else {
        return Ok(());
    };
    const TILLS: [(&str, &str, &str); 4] = [
        ("Campus Cafeteria", "5123401", "dining"),
        ("Mama Oliech Kibanda", "8834512", "dining"),
        ("Quickmart Ngara", "7712093", "groceries"),
        ("Chuo Stationers", "6120447", "education"),
    ];
    for (index, day) in b.days().into_iter().enumerate() {
        if day.day() == 1 {
            let at = b.at(day, 8, 11);
            mpesa_receive(
                b,
                at,
                current,
                "Jane Otieno",
                kes(12_000),
                "allowance",
                "M-PESA from Jane Otieno".to_owned(),
            );
        }
        if b.chance(0.06) {
            let at = b.at(day, 9, 21);
            let amount = b.round_amount(500, 2_000, 100);
            mpesa_receive(
                b,
                at,
                current,
                "Jane Otieno",
                amount,
                "allowance",
                "M-PESA from Jane Otieno".to_owned(),
            );
        }
        if index == 20 {
            let at = b.at(day, 10, 12);
            transfer_in(
                b,
                at,
                current,
                kes(25_000),
                text(
                    "HELB loan disbursement".to_owned(),
                    "HELB/UG/2291/22".to_owned(),
                    "education",
                    Some("Higher Education Loans Board"),
                ),
            );
        }
        if index == 23 {
            let at = b.at(day, 9, 12);
            transfer_out(
                b,
                at,
                current,
                kes(18_000),
                text(
                    "Tuition fees University of Nairobi".to_owned(),
                    "REG F56/2291/2022".to_owned(),
                    "education",
                    Some("University of Nairobi"),
                ),
            );
        }
        if b.chance(0.35) {
            let at = b.at(day, 8, 23);
            let friend = b.pick(&FRIENDS);
            let amount = b.round_amount(50, 800, 10);
            mpesa_send(b, at, current, friend, amount);
        }
        if b.chance(0.6) {
            let at = b.at(day, 7, 21);
            let (name, number, category) = b.pick(&TILLS);
            let amount = b.round_amount(40, 600, 10);
            till(b, at, current, name, number, amount, category);
        }
        if b.chance(0.5) {
            let at = b.at(day, 7, 23);
            let amount = b.round_amount(20, 250, 5);
            let what = if b.chance(0.5) {
                "data bundle"
            } else {
                "airtime top-up"
            };
            airtime(b, at, current, amount, what);
        }
        if b.chance(0.1) {
            let amount = b.amount(150, 450);
            card_on(
                b,
                day,
                (18, 23),
                current,
                merchant("Bolt Nairobi", "4121", "transport"),
                amount,
            );
        }
    }
    Ok(())
}

/// `user_business`: a hardware shop with till receipts, suppliers and payroll.
pub(super) fn small_business(b: &mut Builder) -> Result<()> {
    let accounts = b.customer(
        spec(
            &USER_BUSINESS,
            CustomerKind::Business,
            "accounts@kamauhardware.example.com",
            "+254734567890",
            address("Shop 12, Kirinyaga Road", "Nairobi", "00200"),
            2200,
        ),
        &[
            kes_account(
                AccountSubtype::CurrentAccount,
                "Business current",
                kes(250_000),
                kes(380_000),
            ),
            kes_account(AccountSubtype::Savings, "VAT reserve", 0, kes(150_000)),
        ],
    )?;
    let &[current, reserve] = accounts.as_slice() else {
        return Ok(());
    };
    for day in b.days() {
        let dom = day.day();
        let weekday = day.weekday();
        if weekday != Weekday::Sun {
            let receipts = b.between(6, 14);
            for _ in 0..receipts {
                let at = b.at(day, 8, 19);
                let shopper = b.pick(&SHOPPERS);
                let amount = b.round_amount(200, 9_000, 50);
                mpesa_receive(
                    b,
                    at,
                    current,
                    shopper,
                    amount,
                    "sales",
                    format!("M-PESA till 5123456 payment from {shopper}"),
                );
            }
        }
        if weekday == Weekday::Mon {
            let at = b.at(day, 6, 8);
            let amount = b.amount(20_000, 60_000);
            let text = text(
                "Card sales settlement".to_owned(),
                format!("POS {}", day.format("%Y%m%d")),
                "sales",
                Some("Wekeza Merchant Services"),
            );
            b.push(
                at,
                JournalKind::Card,
                current,
                amount,
                InternalAccount::CardSettlement,
                text,
            );
        }
        if weekday.number_from_monday() <= 5 && b.chance(0.4) {
            let at = b.at(day, 10, 16);
            let supplier = b.pick(&SUPPLIERS);
            let amount = b.round_amount(40_000, 180_000, 500);
            let invoice = b.between(10_000, 99_999);
            transfer_out(
                b,
                at,
                current,
                amount,
                text(
                    format!("Supplier payment {supplier}"),
                    format!("INV-{invoice}"),
                    "suppliers",
                    Some(supplier),
                ),
            );
        }
        if dom == 28 {
            for name in STAFF {
                let at = b.at(day, 15, 17);
                let amount = b.round_amount(25_000, 38_000, 500);
                transfer_out(
                    b,
                    at,
                    current,
                    amount,
                    text(
                        format!("Salary {name}"),
                        format!("PAY {}", month(day)),
                        "payroll",
                        Some(name),
                    ),
                );
            }
        }
        if dom == 5 {
            let at = b.at(day, 9, 11);
            transfer_out(
                b,
                at,
                current,
                kes(85_000),
                text(
                    "Shop rent Kirinyaga Road".to_owned(),
                    format!("RENT {} SHOP 12", month(day)),
                    "rent",
                    Some("Kirinyaga Road Properties Ltd"),
                ),
            );
        }
        if dom == 18 {
            let at = b.at(day, 10, 12);
            let amount = b.amount(12_000, 18_000);
            bill(
                b,
                at,
                current,
                "Kenya Power (KPLC) postpaid",
                amount,
                "Account 2231874501".to_owned(),
            );
        }
        if dom == 20 {
            let at = b.at(day, 11, 14);
            let amount = b.round_amount(35_000, 70_000, 10);
            transfer_out(
                b,
                at,
                current,
                amount,
                text(
                    format!("KRA VAT {}", month(day)),
                    "PIN P051234567Z".to_owned(),
                    "taxes",
                    Some("Kenya Revenue Authority"),
                ),
            );
        }
        if weekday == Weekday::Fri {
            let at = b.at(day, 17, 18);
            own_transfer(
                b,
                at,
                current,
                reserve,
                kes(10_000),
                "Transfer to VAT reserve",
            );
        }
        if b.chance(0.3) {
            let station = b.pick(&FUEL);
            let amount = b.amount(3_000, 8_000);
            card_on(b, day, (7, 17), current, station, amount);
        }
        if b.chance(0.1) {
            let at = b.at(day, 8, 18);
            let amount = b.round_amount(500, 2_000, 100);
            airtime(b, at, current, amount, "airtime top-up");
        }
    }
    Ok(())
}

/// `user_traveller`: KES current + USD current, three trips abroad.
pub(super) fn traveller(b: &mut Builder) -> Result<()> {
    let accounts = b.customer(
        spec(
            &USER_TRAVELLER,
            CustomerKind::Personal,
            "david.mwangi@example.com",
            "+254745678901",
            address("House 21, Riverside Drive", "Nairobi", "00606"),
            1900,
        ),
        &[
            kes_account(
                AccountSubtype::CurrentAccount,
                "Main account",
                0,
                kes(350_000),
            ),
            AccountSpec {
                subtype: AccountSubtype::CurrentAccount,
                currency: Currency::Usd,
                nickname: "USD travel account",
                account_number: None,
                overdraft_limit_minor: 0,
                opening_minor: usd(1_850),
            },
        ],
    )?;
    let &[home, usd] = accounts.as_slice() else {
        return Ok(());
    };
    // Three trips: (first day index, last day index, destination).
    let mut destinations = DESTINATIONS;
    for i in (1..destinations.len()).rev() {
        let j = usize::try_from(b.between(0, i64::try_from(i).unwrap_or(0))).unwrap_or(0);
        destinations.swap(i, j);
    }
    let mut trips = Vec::new();
    for (window, destination) in [(12, 16), (44, 50), (76, 82)].into_iter().zip(destinations) {
        let start = b.between(window.0, window.1);
        let length = b.between(4, 7);
        trips.push((start, start + length - 1, destination));
    }
    for (index, day) in b.days().into_iter().enumerate() {
        let index = i64::try_from(index).unwrap_or(0);
        let dom = day.day();
        if dom == 25 {
            let at = b.at(day, 8, 10);
            transfer_in(
                b,
                at,
                home,
                kes(320_000),
                text(
                    "Salary East Africa Logistics Group".to_owned(),
                    format!("SAL/{}", day.format("%Y/%m")),
                    "salary",
                    Some("East Africa Logistics Group Ltd"),
                ),
            );
        }
        if dom == 1 {
            let at = b.at(day, 9, 11);
            transfer_out(
                b,
                at,
                home,
                kes(70_000),
                text(
                    "Rent Riverside Gardens".to_owned(),
                    format!("RENT {} HSE 21", month(day)),
                    "rent",
                    Some("Riverside Gardens Management"),
                ),
            );
        }
        if dom == 26 {
            let at = b.at(day, 10, 16);
            let rate = b.between(12_850, 13_020);
            buy_usd(b, at, home, usd, kes(60_000), rate);
        }
        let trip = trips
            .iter()
            .find(|(first, last, _)| (*first..=*last).contains(&index))
            .copied();
        for (first, _, _) in &trips {
            if index == first - 14 {
                let amount = b.amount(38_000, 75_000);
                card_on(b, day, (19, 23), home, KENYA_AIRWAYS, amount);
            }
            if index == first - 3 {
                let at = b.at(day, 10, 16);
                let rate = b.between(12_850, 13_020);
                buy_usd(b, at, home, usd, kes(110_000), rate);
            }
        }
        match trip {
            Some((first, last, destination)) => {
                for _ in 0..2 {
                    let restaurant = b.pick(&destination.restaurants);
                    let amount = b.amount(18, 95);
                    card_on(b, day, (12, 23), usd, restaurant, amount);
                }
                let amount = b.amount(9, 45);
                card_on(b, day, (8, 22), usd, destination.taxi, amount);
                if b.chance(0.35) {
                    let shop = b.pick(&destination.shops);
                    let amount = b.amount(30, 250);
                    card_on(b, day, (11, 20), usd, shop, amount);
                }
                if b.chance(0.3) {
                    let amount = b.amount(3, 12);
                    card_on(b, day, (7, 20), usd, destination.transit, amount);
                }
                if index == last {
                    let nights = last - first + 1;
                    let rate = b.between(120, 260);
                    card_on(b, day, (7, 10), usd, destination.hotel, nights * rate * 100);
                }
            }
            None => {
                if b.chance(0.3) {
                    let amount = b.amount(1_500, 6_500);
                    card_on(
                        b,
                        day,
                        (10, 20),
                        home,
                        merchant("Carrefour Two Rivers", "5411", "groceries"),
                        amount,
                    );
                }
                if b.chance(0.4) {
                    let amount = b.amount(300, 1_500);
                    card_on(
                        b,
                        day,
                        (7, 23),
                        home,
                        merchant("Uber Nairobi", "4121", "transport"),
                        amount,
                    );
                }
                if b.chance(0.25) {
                    let restaurant = b.pick(&RESTAURANTS);
                    let amount = b.amount(800, 4_500);
                    card_on(b, day, (12, 22), home, restaurant, amount);
                }
            }
        }
    }
    Ok(())
}

/// Where `user_overdrawn`'s booked balance ends, in minor units (KES -27,480.55).
const OVERDRAWN_TARGET: i64 = -2_748_055;

/// `user_overdrawn`: spends more than the salary; ends the history below zero.
pub(super) fn overdrawn(b: &mut Builder) -> Result<()> {
    let accounts = b.customer(
        spec(
            &USER_OVERDRAWN,
            CustomerKind::Personal,
            "peter.njoroge@example.com",
            "+254756789012",
            address("Block C 14, Umoja II Estate", "Nairobi", "00518"),
            980,
        ),
        &[kes_account(
            AccountSubtype::CurrentAccount,
            "Current account",
            kes(50_000),
            kes(6_200),
        )],
    )?;
    let &[current] = accounts.as_slice() else {
        return Ok(());
    };
    let anchor = b.anchor();
    for day in b.days() {
        // Nothing on the anchor's own day: the last event is the repair bill below.
        if day >= anchor.date_naive() {
            break;
        }
        let dom = day.day();
        if dom == 28 {
            let at = b.at(day, 8, 10);
            transfer_in(
                b,
                at,
                current,
                kes(58_000),
                text(
                    "Salary Mombasa Road Motors".to_owned(),
                    format!("SAL/{}", day.format("%Y/%m")),
                    "salary",
                    Some("Mombasa Road Motors Ltd"),
                ),
            );
        }
        if dom == 1 {
            let at = b.at(day, 9, 11);
            transfer_out(
                b,
                at,
                current,
                kes(22_000),
                text(
                    "Rent Umoja II Block C".to_owned(),
                    format!("RENT {} C14", month(day)),
                    "rent",
                    Some("Joseph Kimani"),
                ),
            );
        }
        if dom == 10 {
            let at = b.at(day, 9, 12);
            transfer_out(
                b,
                at,
                current,
                kes(8_000),
                text(
                    "School fees St. Mary's Academy".to_owned(),
                    "ADM 4471".to_owned(),
                    "education",
                    Some("St. Mary's Academy Umoja"),
                ),
            );
        }
        if dom == 15 {
            let at = b.at(day, 9, 12);
            transfer_out(
                b,
                at,
                current,
                kes(6_500),
                text(
                    "Motorbike loan instalment Watu Credit".to_owned(),
                    "LOAN WC-778812".to_owned(),
                    "loan_repayment",
                    Some("Watu Credit Ltd"),
                ),
            );
        }
        if is_last_day_of_month(day) {
            let at = b.at(day, 22, 23);
            b.overdraft_interest(at, current, 1_300);
        }
        if b.chance(0.2) {
            let at = b.at(day, 8, 21);
            let amount = b.round_amount(500, 2_500, 100);
            mpesa_send(b, at, current, "Lucy Njoroge", amount);
        }
        if b.chance(0.25) {
            let store = b.pick(&[SUPERMARKETS[1], SUPERMARKETS[5]]);
            let amount = b.amount(800, 3_500);
            card_on(b, day, (9, 21), current, store, amount);
        }
        if day.weekday().number_from_monday() <= 6 && b.chance(0.6) {
            let at = b.at(day, 6, 9);
            let amount = b.round_amount(80, 200, 10);
            till(
                b,
                at,
                current,
                "Super Metro Sacco",
                "4455123",
                amount,
                "transport",
            );
        }
        if b.chance(0.2) {
            let at = b.at(day, 12, 21);
            let amount = b.round_amount(300, 1_200, 10);
            till(
                b,
                at,
                current,
                "Mama Njeri Eatery",
                "9012877",
                amount,
                "dining",
            );
        }
        if b.chance(0.4) {
            let at = b.at(day, 7, 22);
            let amount = b.round_amount(50, 200, 10);
            airtime(b, at, current, amount, "airtime top-up");
        }
    }
    // Whatever the anchor did to the month's cash flow, end at exactly -27,480.55: an
    // employer's salary advance if the balance is below that, else a car repair bill.
    let at = anchor - Duration::minutes(45);
    let advance = text(
        "Salary advance Mombasa Road Motors".to_owned(),
        format!("ADV/{}", at.format("%Y/%m")),
        "salary",
        Some("Mombasa Road Motors Ltd"),
    );
    b.transfer_raising_balance_to(at, current, advance, OVERDRAWN_TARGET);
    b.card_bringing_balance_to(
        anchor - Duration::minutes(30),
        current,
        CAR_SERVICE,
        OVERDRAWN_TARGET,
    );
    Ok(())
}

/// `user_jane`: Jane Doe, account 01100012345, the API examples' creditor.
pub(super) fn jane(b: &mut Builder) -> Result<()> {
    let accounts = b.customer(
        spec(
            &USER_JANE,
            CustomerKind::Personal,
            "jane.doe@example.com",
            "+254767890123",
            address("Flat 7, Kileleshwa Court, Othaya Road", "Nairobi", "00100"),
            1200,
        ),
        &[AccountSpec {
            account_number: Some(JANE_ACCOUNT_NUMBER),
            ..kes_account(
                AccountSubtype::CurrentAccount,
                "Jane's current",
                0,
                kes(42_000),
            )
        }],
    )?;
    let &[current] = accounts.as_slice() else {
        return Ok(());
    };
    for day in b.days() {
        if is_last_day_of_month(day) {
            let at = b.at(day, 8, 10);
            transfer_in(
                b,
                at,
                current,
                kes(95_000),
                text(
                    "Salary Aga Khan University Hospital".to_owned(),
                    format!("SAL/{}", day.format("%Y/%m")),
                    "salary",
                    Some("Aga Khan University Hospital"),
                ),
            );
        }
        if day.day() == 5 {
            let at = b.at(day, 9, 11);
            transfer_out(
                b,
                at,
                current,
                kes(28_000),
                text(
                    "Rent Kileleshwa Court".to_owned(),
                    format!("RENT {} FLAT 7", month(day)),
                    "rent",
                    Some("Kileleshwa Court Apartments"),
                ),
            );
        }
        if b.chance(0.3) {
            let store = b.pick(&SUPERMARKETS);
            let amount = b.amount(1_500, 6_000);
            card_on(b, day, (9, 20), current, store, amount);
        }
        if b.chance(0.15) {
            let at = b.at(day, 9, 21);
            let friend = b.pick(&FRIENDS);
            let amount = b.round_amount(200, 3_000, 50);
            mpesa_send(b, at, current, friend, amount);
        }
        if b.chance(0.2) {
            let amount = b.amount(250, 900);
            card_on(b, day, (6, 22), current, RIDES[1], amount);
        }
        if b.chance(0.08) {
            let at = b.at(day, 18, 22);
            let amount = b.round_amount(500, 1_500, 100);
            kplc_token(b, at, current, "14298810377", amount);
        }
        if b.chance(0.3) {
            let at = b.at(day, 7, 22);
            let amount = b.round_amount(50, 500, 50);
            airtime(b, at, current, amount, "airtime top-up");
        }
        if b.chance(0.15) {
            let restaurant = b.pick(&RESTAURANTS);
            let amount = b.amount(500, 2_500);
            card_on(b, day, (12, 21), current, restaurant, amount);
        }
    }
    Ok(())
}
