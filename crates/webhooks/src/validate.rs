//! Request fields → endpoint values. Every wrong field is reported at once, as a field path
//! (the proto field names, e.g. `event_types[1]`) and what is wrong with it.
//!
//! An endpoint's URL is https; in the sandbox also `http://localhost` and `http://127.0.0.1`, so
//! developers can receive events on their own machine. Event types are catalogue names, at
//! least one, each kept once in the order given.

use url::Url;
use wekeza_events::catalogue::EventType;
use wekeza_proto::v1 as pb;
use wekeza_store::webhooks::EndpointChanges;

use crate::Error;

/// The longest endpoint URL, in characters.
pub const MAX_URL_CHARS: usize = 2048;
/// The longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 512;
/// The hosts plain `http` may target in the sandbox.
const SANDBOX_HTTP_HOSTS: [&str; 2] = ["localhost", "127.0.0.1"];

/// What was wrong with a request, field by field.
#[derive(Debug, Default)]
struct Violations(Vec<(String, String)>);

impl Violations {
    fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push((field.into(), description.into()));
    }

    fn finish<T>(self, value: T) -> Result<T, Error> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(Error::InvalidRequest(self.0))
        }
    }
}

/// The values of a new endpoint (`disabled` false).
pub fn create(
    request: &pb::CreateWebhookEndpointRequest,
    sandbox: bool,
) -> Result<EndpointChanges, Error> {
    let mut violations = Violations::default();
    check_url("url", &request.url, sandbox, &mut violations);
    check_description("description", &request.description, &mut violations);
    let event_types = event_types("event_types", &request.event_types, &mut violations);
    violations.finish(EndpointChanges {
        url: request.url.clone(),
        description: request.description.clone(),
        event_types,
        disabled: false,
    })
}

/// `current` with the fields `mask` names taken from `wanted`; paths other than `url`,
/// `description`, `event_types` and `disabled` are refused.
pub fn update(
    current: EndpointChanges,
    wanted: &pb::WebhookEndpoint,
    mask: Option<&prost_types::FieldMask>,
    sandbox: bool,
) -> Result<EndpointChanges, Error> {
    let mut violations = Violations::default();
    let paths = mask.map(|mask| mask.paths.as_slice()).unwrap_or_default();
    if paths.is_empty() {
        violations.add("update_mask", "name at least one field to change");
    }
    let mut changed = current;
    for path in paths {
        match path.as_str() {
            "url" => {
                check_url("endpoint.url", &wanted.url, sandbox, &mut violations);
                changed.url.clone_from(&wanted.url);
            }
            "description" => {
                check_description("endpoint.description", &wanted.description, &mut violations);
                changed.description.clone_from(&wanted.description);
            }
            "event_types" => {
                changed.event_types =
                    event_types("endpoint.event_types", &wanted.event_types, &mut violations);
            }
            "disabled" => changed.disabled = wanted.disabled,
            other => violations.add(
                "update_mask",
                format!(
                    "`{other}` cannot be changed; only url, description, event_types and disabled"
                ),
            ),
        }
    }
    violations.finish(changed)
}

fn check_url(field: &str, text: &str, sandbox: bool, violations: &mut Violations) {
    if text.is_empty() {
        return violations.add(field, "is required");
    }
    if text.chars().count() > MAX_URL_CHARS {
        return violations.add(field, format!("must be at most {MAX_URL_CHARS} characters"));
    }
    let Ok(url) = Url::parse(text) else {
        return violations.add(field, "is not an absolute URL");
    };
    if !url.username().is_empty() || url.password().is_some() {
        return violations.add(field, "must not carry credentials");
    }
    let local_http = sandbox
        && url.scheme() == "http"
        && url
            .host_str()
            .is_some_and(|host| SANDBOX_HTTP_HOSTS.contains(&host));
    if !(url.scheme() == "https" && url.host_str().is_some() || local_http) {
        let allowed = if sandbox {
            "must be https (or http://localhost, http://127.0.0.1 in the sandbox)"
        } else {
            "must be https"
        };
        violations.add(field, allowed);
    }
}

fn check_description(field: &str, text: &str, violations: &mut Violations) {
    if text.chars().count() > MAX_DESCRIPTION_CHARS {
        violations.add(
            field,
            format!("must be at most {MAX_DESCRIPTION_CHARS} characters"),
        );
    }
}

/// The catalogue names among `names`, each once; a violation for every other name and for
/// none at all.
fn event_types(field: &str, names: &[String], violations: &mut Violations) -> Vec<String> {
    if names.is_empty() {
        violations.add(field, "name at least one event type");
    }
    let mut kept: Vec<String> = Vec::new();
    for (index, name) in names.iter().enumerate() {
        match EventType::parse(name) {
            Some(kind) if !kept.iter().any(|seen| seen == kind.name()) => {
                kept.push(kind.name().to_owned());
            }
            Some(_) => {}
            None => {
                let known: Vec<&str> = EventType::ALL.iter().map(|kind| kind.name()).collect();
                violations.add(
                    format!("{field}[{index}]"),
                    format!("is not an event type; one of {}", known.join(", ")),
                );
            }
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn request(url: &str, event_types: &[&str]) -> pb::CreateWebhookEndpointRequest {
        pb::CreateWebhookEndpointRequest {
            url: url.into(),
            description: String::new(),
            event_types: event_types.iter().map(|name| (*name).to_owned()).collect(),
        }
    }

    fn fields(error: Error) -> Vec<String> {
        match error {
            Error::InvalidRequest(violations) => {
                violations.into_iter().map(|(field, _)| field).collect()
            }
            other => vec![other.to_string()],
        }
    }

    #[test]
    fn urls_are_https_except_local_http_in_the_sandbox() {
        let types = ["payment.status_changed"];
        assert!(create(&request("https://example.com/hook", &types), false).is_ok());
        for url in ["http://localhost:8080/hook", "http://127.0.0.1/hook"] {
            assert!(create(&request(url, &types), true).is_ok(), "{url}");
            assert_eq!(
                fields(create(&request(url, &types), false).unwrap_err()),
                ["url"]
            );
        }
        for url in [
            "",
            "example.com",
            "http://example.com/hook",
            "ftp://example.com",
            "https://user:pw@example.com",
        ] {
            assert_eq!(
                fields(create(&request(url, &types), true).unwrap_err()),
                ["url"],
                "{url}"
            );
        }
    }

    #[test]
    fn event_types_are_catalogue_names_kept_once() {
        let ok = create(
            &request(
                "https://example.com",
                &[
                    "payment.status_changed",
                    "consent.status_changed",
                    "payment.status_changed",
                ],
            ),
            false,
        )
        .unwrap();
        assert_eq!(
            ok.event_types,
            ["payment.status_changed", "consent.status_changed"]
        );
        assert_eq!(
            fields(create(&request("https://example.com", &[]), false).unwrap_err()),
            ["event_types"]
        );
        assert_eq!(
            fields(
                create(
                    &request("https://example.com", &["payment.status_changed", "nope"]),
                    false
                )
                .unwrap_err()
            ),
            ["event_types[1]"]
        );
    }

    #[test]
    fn updates_change_only_the_masked_fields() {
        let current = create(
            &request("https://example.com", &["payment.status_changed"]),
            false,
        )
        .unwrap();
        let wanted = pb::WebhookEndpoint {
            url: "https://example.org".into(),
            disabled: true,
            ..Default::default()
        };
        let mask = |paths: &[&str]| prost_types::FieldMask {
            paths: paths.iter().map(|path| (*path).to_owned()).collect(),
        };
        let changed = update(current.clone(), &wanted, Some(&mask(&["disabled"])), false).unwrap();
        assert!(changed.disabled);
        assert_eq!(changed.url, current.url);
        assert_eq!(
            fields(update(current.clone(), &wanted, None, false).unwrap_err()),
            ["update_mask"]
        );
        assert_eq!(
            fields(update(current.clone(), &wanted, Some(&mask(&["secret"])), false).unwrap_err()),
            ["update_mask"]
        );
        assert_eq!(
            fields(update(current, &wanted, Some(&mask(&["event_types"])), false).unwrap_err()),
            ["endpoint.event_types"]
        );
    }
}
