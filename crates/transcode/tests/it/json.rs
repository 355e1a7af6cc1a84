//! The proto3 JSON mapping both ways, query and path values of every kind, REQUIRED fields,
//! and every kind of bad input answered as 4xx problem+json.

use http::{Method, Request};
use serde_json::json;

use crate::support::Harness;

#[tokio::test]
async fn every_json_shape_round_trips() {
    let h = Harness::new();
    // Input mixes proto names and lowerCamelCase, numbers and strings for 64-bit integers,
    // enum names and numbers.
    let input = json!({
        "double_value": 1.5,
        "floatValue": -2.25,
        "int32Value": -7,
        "int64_value": 9007199254740993u64,
        "uint32Value": 4294967295u32,
        "uint64Value": "18446744073709551615",
        "sint32Value": -3,
        "sint64Value": "-9223372036854775808",
        "fixed32Value": 7,
        "fixed64Value": "8",
        "sfixed32Value": -9,
        "sfixed64Value": "-10",
        "boolValue": true,
        "stringValue": "héllo",
        "bytesValue": "aGk/",
        "genre": 2,
        "choiceAuthor": { "displayName": "Ann" },
        "counts": { "a": 1, "b": "2" },
        "authorsById": { "7": { "displayName": "Bob", "born": 1950 } },
        "stringList": ["x", "y"],
        "int64List": [1, "2"],
        "genreList": ["FICTION", 2],
        "timestamp": "2026-01-01T12:00:00+02:00",
        "duration": "1.000340012s",
        "structValue": { "k": [1, "two", null, { "n": true }] },
        "anyJson": [1, 2],
        "wrappedInt64": "5",
        "wrappedString": "",
        "wrappedBool": false,
        "wrappedDouble": 0.5,
        "mask": "stringValue,nested.label",
        "nested": { "label": "l", "code": "c", "child": { "label": "deeper", "code": "d" } },
        "optionalInt32": 0,
        "nestedList": [{ "code": "x" }],
    });
    let echoed = h.post("/v1/echo", &input.to_string()).await.ok();
    assert_eq!(
        echoed,
        json!({
            "doubleValue": 1.5,
            "floatValue": -2.25,
            "int32Value": -7,
            "int64Value": "9007199254740993",
            "uint32Value": 4294967295u32,
            "uint64Value": "18446744073709551615",
            "sint32Value": -3,
            "sint64Value": "-9223372036854775808",
            "fixed32Value": 7,
            "fixed64Value": "8",
            "sfixed32Value": -9,
            "sfixed64Value": "-10",
            "boolValue": true,
            "stringValue": "héllo",
            "bytesValue": "aGk/",
            "genre": "NON_FICTION",
            "choiceAuthor": { "displayName": "Ann" },
            "counts": { "a": "1", "b": "2" },
            "authorsById": { "7": { "displayName": "Bob", "born": 1950 } },
            "stringList": ["x", "y"],
            "int64List": ["1", "2"],
            "genreList": ["FICTION", "NON_FICTION"],
            "timestamp": "2026-01-01T10:00:00Z",
            "duration": "1.000340012s",
            "structValue": { "k": [1.0, "two", null, { "n": true }] },
            "anyJson": [1.0, 2.0],
            "wrappedInt64": "5",
            "wrappedString": "",
            "wrappedBool": false,
            "wrappedDouble": 0.5,
            "mask": "stringValue,nested.label",
            "nested": { "label": "l", "code": "c", "child": { "label": "deeper", "code": "d" } },
            "optionalInt32": 0,
            "nestedList": [{ "code": "x" }],
        })
    );
}

#[tokio::test]
async fn defaults_are_omitted_and_empty_bodies_are_empty_messages() {
    let h = Harness::new();
    let echoed = h
        .post(
            "/v1/echo",
            r#"{"int32Value":0,"stringValue":"","stringList":[]}"#,
        )
        .await
        .ok();
    assert_eq!(echoed, json!({}));
    assert_eq!(h.post("/v1/echo", "").await.ok(), json!({}));
    assert_eq!(h.post("/v1/echo", " \n").await.ok(), json!({}));
    // null means "not set".
    assert_eq!(
        h.post("/v1/echo", r#"{"nested":null,"timestamp":null}"#)
            .await
            .ok(),
        json!({})
    );
}

#[tokio::test]
async fn query_values_of_every_kind() {
    let h = Harness::new();
    let echoed = h
        .get(concat!(
            "/v1/echo?doubleValue=-1.25&float_value=Infinity&int32Value=-5&int64Value=-9007199254740993",
            "&uint32Value=7&uint64_value=18446744073709551615&sint32Value=-1&sint64Value=-2",
            "&fixed32Value=3&fixed64Value=4&sfixed32Value=-5&sfixed64Value=-6",
            "&boolValue=true&stringValue=caf%C3%A9&bytesValue=aGk_&genre=NON_FICTION",
            "&choiceNumber=42&stringList=a&stringList=b&int64List=1&int64List=-2",
            "&genreList=FICTION&genreList=2&timestamp=2026-01-01T00:00:00Z&duration=-1.5s",
            "&wrappedInt64=7&wrappedString=abc&wrappedBool=false&wrappedDouble=2.5",
            "&mask=a,b.c&nested.label=l&nested.code=c&nested.child.label=deep&nested.child.code=d",
            "&optionalInt32=0",
        ))
        .await
        .ok();
    assert_eq!(
        echoed,
        json!({
            "doubleValue": -1.25,
            "floatValue": "Infinity",
            "int32Value": -5,
            "int64Value": "-9007199254740993",
            "uint32Value": 7,
            "uint64Value": "18446744073709551615",
            "sint32Value": -1,
            "sint64Value": "-2",
            "fixed32Value": 3,
            "fixed64Value": "4",
            "sfixed32Value": -5,
            "sfixed64Value": "-6",
            "boolValue": true,
            "stringValue": "café",
            "bytesValue": "aGk/",
            "genre": "NON_FICTION",
            "choiceNumber": "42",
            "stringList": ["a", "b"],
            "int64List": ["1", "-2"],
            "genreList": ["FICTION", "NON_FICTION"],
            "timestamp": "2026-01-01T00:00:00Z",
            "duration": "-1.500s",
            "wrappedInt64": "7",
            "wrappedString": "abc",
            "wrappedBool": false,
            "wrappedDouble": 2.5,
            "mask": "a,b.c",
            "nested": { "label": "l", "code": "c", "child": { "label": "deep", "code": "d" } },
            "optionalInt32": 0,
        })
    );
}

#[tokio::test]
async fn bad_query_values_are_400() {
    let h = Harness::new();
    let problem = h
        .get("/v1/shelves/1/books?page_size=ten")
        .await
        .problem(400, "INVALID_REQUEST");
    assert_eq!(problem["errors"][0]["field"], "page_size");
    let problem = h
        .get("/v1/shelves/1/books?nope=1")
        .await
        .problem(400, "UNKNOWN_FIELD");
    assert_eq!(problem["errors"][0]["field"], "nope");
    h.get("/v1/shelves/1/books?author.nope=1")
        .await
        .problem(400, "UNKNOWN_FIELD");
    h.get("/v1/shelves/1/books?page_size=1&pageSize=2")
        .await
        .problem(400, "INVALID_REQUEST");
    h.get("/v1/shelves/1/books?genres=HORROR")
        .await
        .problem(400, "INVALID_REQUEST");
    h.get("/v1/shelves/1/books?show_drafts=yes")
        .await
        .problem(400, "INVALID_REQUEST");
    h.get("/v1/shelves/1/books?written_after=yesterday")
        .await
        .problem(400, "INVALID_REQUEST");
    h.get("/v1/shelves/1/books?min_pages=many")
        .await
        .problem(400, "INVALID_REQUEST");
    h.get("/v1/shelves/1/books?labels=x")
        .await
        .problem(400, "INVALID_REQUEST");
    h.get("/v1/shelves/1/books?author=x")
        .await
        .problem(400, "INVALID_REQUEST");
    h.get("/v1/shelves/1/books?page_token=%zz")
        .await
        .problem(400, "INVALID_REQUEST");
    h.get("/v1/shelves/1/books?page_size=99999999999")
        .await
        .problem(400, "INVALID_REQUEST");
    // Fields bound by the path or the body cannot come from the query.
    h.get("/v1/shelves/1/books?parent=shelves/2")
        .await
        .problem(400, "INVALID_REQUEST");
    h.post("/v1/shelves/1/books?book.title=x", r#"{"title":"t"}"#)
        .await
        .problem(400, "INVALID_REQUEST");
    h.post("/v1/echo?int32Value=1", "{}")
        .await
        .problem(400, "INVALID_REQUEST");
    // Two members of one oneof.
    h.get("/v1/echo?choiceText=a&choiceNumber=1")
        .await
        .problem(400, "INVALID_REQUEST");
    assert_eq!(h.calls(), 0);
}

#[tokio::test]
async fn bad_path_values_are_400() {
    let h = Harness::new();
    let problem = h
        .get("/v1/shelves/abc")
        .await
        .problem(400, "INVALID_REQUEST");
    assert_eq!(problem["errors"][0]["field"], "shelf_id");
    h.get("/v1/books/%zz").await.problem(400, "INVALID_REQUEST");
    h.get("/v1/books/%ff").await.problem(400, "INVALID_REQUEST");
    h.get("/v1/shelves/99999999999999999999")
        .await
        .problem(400, "INVALID_REQUEST");
    assert_eq!(h.calls(), 0);
}

#[tokio::test]
async fn bad_bodies_are_400() {
    let h = Harness::new();
    let problem = h
        .post("/v1/echo", r#"{"bogus":1}"#)
        .await
        .problem(400, "UNKNOWN_FIELD");
    assert_eq!(
        problem["errors"],
        json!([{ "field": "bogus", "description": "unknown field" }])
    );
    h.post("/v1/echo", r#"{"nested":{"code":"c","bogus":1}}"#)
        .await
        .problem(400, "UNKNOWN_FIELD");
    h.post("/v1/echo", r#"{"int32Value":"#)
        .await
        .problem(400, "MALFORMED_BODY");
    h.post("/v1/echo", r#"{"int32Value":1} trailing"#)
        .await
        .problem(400, "MALFORMED_BODY");
    h.post("/v1/echo", "not json")
        .await
        .problem(400, "MALFORMED_BODY");
    h.post("/v1/echo", r#"{"int32Value":"abc"}"#)
        .await
        .problem(400, "INVALID_REQUEST");
    h.post("/v1/echo", r#"{"int32Value":1.5}"#)
        .await
        .problem(400, "INVALID_REQUEST");
    h.post("/v1/echo", r#"{"int32Value":4294967296}"#)
        .await
        .problem(400, "INVALID_REQUEST");
    h.post("/v1/echo", r#"{"boolValue":"true"}"#)
        .await
        .problem(400, "INVALID_REQUEST");
    h.post("/v1/echo", r#"{"genre":"HORROR"}"#)
        .await
        .problem(400, "INVALID_REQUEST");
    h.post("/v1/echo", r#"{"timestamp":"yesterday"}"#)
        .await
        .problem(400, "INVALID_REQUEST");
    h.post("/v1/echo", r#"{"bytesValue":"!!"}"#)
        .await
        .problem(400, "INVALID_REQUEST");
    h.post("/v1/echo", r#"{"stringList":"x"}"#)
        .await
        .problem(400, "INVALID_REQUEST");
    h.post("/v1/echo", "[]")
        .await
        .problem(400, "INVALID_REQUEST");
    h.post("/v1/echo", "null")
        .await
        .problem(400, "INVALID_REQUEST");
    h.post("/v1/echo", r#"{"choiceText":"a","choiceNumber":"1"}"#)
        .await
        .problem(400, "INVALID_REQUEST");
    // A body-field rule takes that field's JSON.
    h.post("/v1/shelves/9/books/b7:move", r#"{"note":"x"}"#)
        .await
        .problem(400, "INVALID_REQUEST");
    // A rule without a body refuses one (an empty one is fine).
    h.call(Method::GET, "/v1/echo", Some(r#"{"int32Value":1}"#))
        .await
        .problem(400, "INVALID_REQUEST");
    h.call(Method::GET, "/v1/echo", Some("")).await.ok();
    // Not JSON at all.
    let reply = h
        .send(
            Request::post("/v1/echo")
                .header("content-type", "text/plain")
                .body(axum::body::Body::from("{}"))
                .unwrap(),
        )
        .await;
    reply.problem(415, "UNSUPPORTED_MEDIA_TYPE");
    // JSON with parameters is JSON.
    for content_type in ["application/json; charset=utf-8", "Application/JSON"] {
        let reply = h
            .send(
                Request::post("/v1/echo")
                    .header("content-type", content_type)
                    .body(axum::body::Body::from(r#"{"int32Value":1}"#))
                    .unwrap(),
            )
            .await;
        assert_eq!(reply.ok(), json!({ "int32Value": 1 }));
    }
    // Nothing else is: no content type, another +json type, gRPC-web's JSON.
    for content_type in [
        None,
        Some("application/merge-patch+json"),
        Some("application/grpc-web+json"),
    ] {
        let mut request = Request::post("/v1/echo");
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let reply = h
            .send(request.body(axum::body::Body::from("{}")).unwrap())
            .await;
        reply.problem(415, "UNSUPPORTED_MEDIA_TYPE");
    }
    assert_eq!(h.calls(), 3);
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let h = Harness::with(|t| t.max_body_bytes(64));
    let big = format!(r#"{{"stringValue":"{}"}}"#, "x".repeat(100));
    h.post("/v1/echo", &big)
        .await
        .problem(413, "BODY_TOO_LARGE");
    h.post("/v1/echo", r#"{"stringValue":"small"}"#).await.ok();
}

#[tokio::test]
async fn required_fields_are_checked_after_merging() {
    let h = Harness::new();
    // No body at all: the `book` body field is REQUIRED.
    let problem = h
        .call(Method::POST, "/v1/shelves/1/books", None)
        .await
        .problem(400, "MISSING_FIELD");
    assert_eq!(
        problem["errors"],
        json!([{ "field": "book", "description": "required field is missing" }])
    );
    // The book's own REQUIRED fields, nested.
    let problem = h
        .post("/v1/shelves/1/books", r#"{"author":{"born":1}}"#)
        .await
        .problem(400, "MISSING_FIELD");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["book.title", "book.author.display_name"]);
    // Path-bound REQUIRED fields count as set.
    h.post("/v1/shelves/1/books", r#"{"title":"t"}"#).await.ok();
    // A REQUIRED field of the whole-body message.
    let problem = h
        .post("/v1/shelves/1/books/2:publish", "{}")
        .await
        .problem(400, "MISSING_FIELD");
    assert_eq!(problem["errors"][0]["field"], "requester");
    // Inside repeated and map values, with their index.
    let problem = h
        .post("/v1/echo", r#"{"nestedList":[{"code":"a"},{"label":"b"}]}"#)
        .await
        .problem(400, "MISSING_FIELD");
    assert_eq!(problem["errors"][0]["field"], "nested_list[1].code");
    let problem = h
        .post(
            "/v1/echo",
            r#"{"nested":{"child":{"label":"x"},"code":"c"}}"#,
        )
        .await
        .problem(400, "MISSING_FIELD");
    assert_eq!(problem["errors"][0]["field"], "nested.child.code");
    // Set through a path variable, the nested message still needs its REQUIRED field.
    let problem = h
        .call(Method::PUT, "/v1/echo/s/lbl", Some("[]"))
        .await
        .problem(400, "MISSING_FIELD");
    assert_eq!(problem["errors"][0]["field"], "nested.code");
    assert_eq!(h.calls(), 1);
}

mod never_a_500 {
    //! Whatever the input, the answer is 2xx or 4xx, JSON or problem+json.

    use http::Method;
    use proptest::prelude::*;
    use serde_json::Value;

    use crate::support::Harness;

    const KEYS: &[&str] = &[
        "doubleValue",
        "int32_value",
        "int64Value",
        "uint64Value",
        "boolValue",
        "stringValue",
        "bytesValue",
        "genre",
        "choiceText",
        "choiceNumber",
        "choiceAuthor",
        "counts",
        "authorsById",
        "stringList",
        "int64List",
        "genreList",
        "timestamp",
        "duration",
        "structValue",
        "anyJson",
        "wrappedInt64",
        "wrappedBool",
        "mask",
        "nested",
        "label",
        "code",
        "child",
        "optionalInt32",
        "nestedList",
        "displayName",
        "bogus",
        "",
    ];

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            "[a-zA-Z0-9_:.,/+=-]{0,12}".prop_map(Value::String),
            prop::sample::select(vec![
                "FICTION",
                "2026-01-01T00:00:00Z",
                "1.5s",
                "aGk=",
                "NaN",
                "-1"
            ])
            .prop_map(|s| Value::String(s.into())),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((prop::sample::select(KEYS), inner), 0..5).prop_map(
                    |pairs| {
                        Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
                    }
                ),
            ]
        })
    }

    fn path() -> impl Strategy<Value = String> {
        let segment = prop_oneof![
            prop::sample::select(vec![
                "v1",
                "shelves",
                "books",
                "echo",
                "files",
                "1",
                "special",
                "library:reset",
                "2:publish",
                "b:move",
                "title",
                "tags",
                "%2F",
                "%zz",
                "%ff",
                "",
                "a:b",
            ])
            .prop_map(str::to_owned),
            "[a-z0-9%:._~-]{1,6}",
        ];
        let known = prop::sample::select(vec![
            "/v1/echo",
            "/v1/echo/x/y",
            "/v1/shelves/1/books",
            "/v1/shelves/1/books/2",
            "/v1/shelves/1/books/2:publish",
            "/v1/library:reset",
            "/v1/files/a/b",
            "/v1/shelves/7",
            "/v1/shelves/7/title",
            "/v1/shelves/1/books/b:move",
        ])
        .prop_map(str::to_owned);
        prop_oneof![
            3 => known,
            1 => prop::collection::vec(segment, 0..6).prop_map(|s| format!("/{}", s.join("/"))),
        ]
    }

    fn query() -> impl Strategy<Value = String> {
        let pair = (
            prop::sample::select(KEYS),
            prop::sample::select(vec![".", ".label", ".code", ".child.label", ""]),
            "[a-zA-Z0-9%+:.,_-]{0,8}",
        )
            .prop_map(|(k, suffix, v)| format!("{k}{suffix}={v}"));
        prop::collection::vec(pair, 0..4).prop_map(|pairs| pairs.join("&"))
    }

    fn method() -> impl Strategy<Value = Method> {
        prop::sample::select(vec![
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

        #[test]
        fn random_requests(
            method in method(),
            path in path(),
            query in query(),
            body in prop_oneof![
                3 => Just(String::new()),
                2 => Just("{}".to_owned()),
                3 => json_value().prop_map(|v| v.to_string()),
                2 => "[ -~]{0,40}",
            ],
        ) {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let h = Harness::new();
            let uri = if query.is_empty() { path.clone() } else { format!("{path}?{query}") };
            let Ok(uri) = uri.parse::<http::Uri>() else { return Ok(()) };
            let reply = runtime.block_on(h.call(method.clone(), &uri.to_string(), Some(&body)));
            prop_assert!(reply.status.is_success() || reply.status.is_client_error(),
                "{method} {uri} {body} → {} {}", reply.status, reply.text);
            let content_type = reply.headers["content-type"].to_str().unwrap();
            prop_assert!(content_type == "application/json" || content_type == "application/problem+json");
            let _: Value = serde_json::from_str(&reply.text).unwrap();
        }
    }
}
