//! The event catalogue in `docs/events.md` is the code's: the table between its markers must be
//! exactly the rows `EventType::catalogue_row` renders, so the documentation cannot drift.

use wekeza_events::EventType;

const START: &str = "<!-- catalogue:start -->";
const END: &str = "<!-- catalogue:end -->";
const HEADER: &str = "| Type | Subject | Payload | Emitted when |\n|---|---|---|---|";

#[test]
fn the_documented_catalogue_is_the_code_catalogue() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/events.md");
    let docs = std::fs::read_to_string(path).unwrap();
    let start = docs
        .find(START)
        .expect("docs/events.md has the catalogue start marker");
    let end = docs
        .find(END)
        .expect("docs/events.md has the catalogue end marker");
    let documented = docs[start + START.len()..end].trim();
    let rows: Vec<String> = EventType::ALL
        .into_iter()
        .map(EventType::catalogue_row)
        .collect();
    let expected = format!("{HEADER}\n{}", rows.join("\n"));
    assert_eq!(
        documented, expected,
        "docs/events.md's catalogue differs from the code; replace the table with:\n{expected}"
    );
}
