//! Every HttpRule form: templates, verbs, bodies, response bodies, additional bindings, custom
//! methods, the matching order, 404 and 405.

use http::{Method, Request};
use serde_json::json;

use crate::support::{Harness, transcoder};

#[test]
fn the_table_lists_every_binding() {
    let transcoder = transcoder();
    let routes: Vec<(String, String, String)> = transcoder
        .routes()
        .map(|r| {
            (
                r.method.to_string(),
                r.path.clone(),
                r.rpc.rsplit('.').next().unwrap().to_owned(),
            )
        })
        .collect();
    let expect = [
        ("GET", "/v1/{name=shelves/*/books/*}", "GetBook"),
        ("GET", "/v1/books/{name}", "GetBook"),
        ("GET", "/v1/{parent=shelves/*}/books", "ListBooks"),
        ("POST", "/v1/{parent=shelves/*}/books", "CreateBook"),
        ("PATCH", "/v1/{book.name=shelves/*/books/*}", "UpdateBook"),
        ("DELETE", "/v1/{name=shelves/*/books/*}", "DeleteBook"),
        (
            "POST",
            "/v1/{name=shelves/*/books/*}:publish",
            "PublishBook",
        ),
        ("GET", "/v1/files/{path=**}", "GetFile"),
        ("POST", "/v1/library:reset", "ResetLibrary"),
        ("POST", "/v1/echo", "Echo"),
        ("GET", "/v1/echo", "Echo"),
        ("PUT", "/v1/echo/{string_value}/{nested.label}", "Echo"),
        ("GET", "/v1/shelves/{shelf_id}/title", "GetShelfTitle"),
        ("GET", "/v1/shelves/{shelf_id}/tags", "GetShelfTags"),
        ("GET", "/v1/shelves/{shelf_id}", "GetShelf"),
        ("HEAD", "/v1/shelves/{shelf_id}", "GetShelf"),
        ("GET", "/v1/shelves/special", "GetSpecialShelf"),
        (
            "POST",
            "/v1/shelves/{destination.shelf_id}/books/{book_id}:move",
            "MoveBook",
        ),
        ("POST", "/v1/fail", "Fail"),
        ("GET", "/v1/whoami", "Whoami"),
    ];
    assert_eq!(routes.len(), expect.len(), "{routes:#?}");
    for (method, path, rpc) in expect {
        assert!(
            routes
                .iter()
                .any(|r| r.0 == method && r.1 == path && r.2 == rpc),
            "missing {method} {path} → {rpc}"
        );
    }
    assert!(!routes.iter().any(|r| r.2 == "Internal"));
    // Verbs first, then literals before variables.
    let first_without_verb = routes.iter().position(|r| !r.1.contains(':')).unwrap();
    assert!(
        routes[first_without_verb..]
            .iter()
            .all(|r| !r.1.contains(':'))
    );
    let special = routes
        .iter()
        .position(|r| r.2 == "GetSpecialShelf")
        .unwrap();
    let by_id = routes.iter().position(|r| r.2 == "GetShelf").unwrap();
    assert!(special < by_id);
    let route = transcoder
        .routes()
        .find(|r| r.rpc.ends_with("GetShelfTitle"))
        .unwrap();
    assert_eq!(route.response_body.as_deref(), Some("title"));
    let route = transcoder
        .routes()
        .find(|r| r.rpc.ends_with("CreateBook"))
        .unwrap();
    assert_eq!(route.body.as_deref(), Some("book"));
}

#[tokio::test]
async fn multi_segment_variable() {
    let h = Harness::new();
    let book = h.get("/v1/shelves/1/books/2").await.ok();
    assert_eq!(h.seen().method, "GetBook");
    assert_eq!(h.seen().request, json!({ "name": "shelves/1/books/2" }));
    // The reply in proto3 JSON: lowerCamelCase, int64 as a string, enum names, RFC 3339.
    assert_eq!(
        book,
        json!({
            "name": "shelves/1/books/2",
            "title": "A Book",
            "pages": "1234567890123",
            "genre": "FICTION",
            "written": "2026-01-01T00:00:00Z",
            "author": { "displayName": "Ann" },
        })
    );
    // %2F inside a segment of a multi-segment variable stays encoded.
    h.get("/v1/shelves/a%2Fb/books/c%20d").await.ok();
    assert_eq!(
        h.seen().request,
        json!({ "name": "shelves/a%2Fb/books/c d" })
    );
}

#[tokio::test]
async fn additional_binding_and_single_segment_decoding() {
    let h = Harness::new();
    h.get("/v1/books/abc%2Fdef%20%C3%A9").await.ok();
    assert_eq!(h.seen().method, "GetBook");
    assert_eq!(h.seen().request, json!({ "name": "abc/def é" }));
}

#[tokio::test]
async fn double_wildcard_keeps_slashes() {
    let h = Harness::new();
    let file = h.get("/v1/files/a/b%2Fc/d%20e.txt").await.ok();
    assert_eq!(h.seen().request, json!({ "path": "a/b%2Fc/d e.txt" }));
    assert_eq!(
        file,
        json!({ "path": "a/b%2Fc/d e.txt", "content": "aGk=" })
    );
}

#[tokio::test]
async fn custom_verbs() {
    let h = Harness::new();
    h.post(
        "/v1/shelves/1/books/2:publish",
        r#"{"requester":"me","at":"2026-03-01T10:00:00.5Z"}"#,
    )
    .await
    .ok();
    assert_eq!(h.seen().method, "PublishBook");
    assert_eq!(
        h.seen().request,
        json!({ "name": "shelves/1/books/2", "requester": "me", "at": "2026-03-01T10:00:00.500Z" })
    );

    let reset = h.post("/v1/library:reset", r#"{"hard":true}"#).await.ok();
    assert_eq!(reset, json!({ "removed": 3 }));
    assert_eq!(h.seen().request, json!({ "hard": true }));
    // An empty body with body "*" is the empty message.
    h.call(Method::POST, "/v1/library:reset", None).await.ok();
    assert_eq!(h.seen().request, json!({}));

    // A verb on a path that also matches a plain template goes to the verb's rpc.
    h.post(
        "/v1/shelves/9/books/b7:move?destination.position.row=3",
        r#""because""#,
    )
    .await
    .ok();
    assert_eq!(h.seen().method, "MoveBook");
    assert_eq!(
        h.seen().request,
        json!({
            "destination": { "shelf_id": "9", "position": { "row": 3 } },
            "book_id": "b7",
            "note": "because",
        })
    );
    // An unknown verb matches nothing…
    h.post("/v1/library:burn", "{}")
        .await
        .problem(404, "ROUTE_NOT_FOUND");
    // …unless a variable takes it as part of its value (`2:burn` is a book id to GET).
    let reply = h.post("/v1/shelves/1/books/2:burn", "{}").await;
    reply.problem(405, "METHOD_NOT_ALLOWED");
    assert_eq!(reply.headers["allow"], "GET, PATCH, DELETE");
}

#[tokio::test]
async fn literals_beat_variables() {
    let h = Harness::new();
    let shelf = h.get("/v1/shelves/special").await.ok();
    assert_eq!(h.seen().method, "GetSpecialShelf");
    assert_eq!(shelf["title"], "Shelf special");
    // A percent-encoded literal is still that literal.
    h.get("/v1/%73helves/speci%61l").await.ok();
    assert_eq!(h.seen().method, "GetSpecialShelf");

    let shelf = h.get("/v1/shelves/7").await.ok();
    assert_eq!(h.seen().method, "GetShelf");
    assert_eq!(h.seen().request, json!({ "shelf_id": "7" }));
    assert_eq!(
        shelf,
        json!({ "id": "7", "title": "Shelf 7", "tags": ["a", "b"] })
    );
}

#[tokio::test]
async fn body_field_with_path_and_query() {
    let h = Harness::new();
    let book = h
        .post(
            "/v1/shelves/1/books?book_id=b1",
            r#"{"title":"T","author":{"displayName":"A","born":1970},"pages":"12"}"#,
        )
        .await
        .ok();
    assert_eq!(h.seen().method, "CreateBook");
    assert_eq!(
        h.seen().request,
        json!({
            "parent": "shelves/1",
            "book_id": "b1",
            "book": { "title": "T", "pages": "12", "author": { "display_name": "A", "born": 1970 } },
        })
    );
    assert_eq!(book["author"], json!({ "displayName": "A", "born": 1970 }));
}

#[tokio::test]
async fn nested_path_field_overrides_the_body() {
    let h = Harness::new();
    let book = h
        .call(
            Method::PATCH,
            "/v1/shelves/1/books/2?update_mask=title,author.displayName",
            Some(r#"{"name":"ignored","title":"New"}"#),
        )
        .await
        .ok();
    assert_eq!(
        h.seen().request,
        json!({
            "book": { "name": "shelves/1/books/2", "title": "New" },
            "update_mask": "title,author.displayName",
        })
    );
    assert_eq!(book, json!({ "name": "shelves/1/books/2", "title": "New" }));
}

#[tokio::test]
async fn repeated_body_field_and_nested_path_variable() {
    let h = Harness::new();
    let echoed = h
        .call(
            Method::PUT,
            "/v1/echo/hello%20world/lbl?nested.code=c",
            Some(r#"[1,"2",-3]"#),
        )
        .await
        .ok();
    assert_eq!(
        h.seen().request,
        json!({
            "string_value": "hello world",
            "nested": { "label": "lbl", "code": "c" },
            "int64_list": ["1", "2", "-3"],
        })
    );
    assert_eq!(echoed["int64List"], json!(["1", "2", "-3"]));
}

#[tokio::test]
async fn response_body_field() {
    let h = Harness::new();
    let title = h.get("/v1/shelves/5/title").await.ok();
    assert_eq!(title, json!("Shelf 5"));
    let tags = h.get("/v1/shelves/5/tags").await.ok();
    assert_eq!(tags, json!(["a", "b"]));
}

#[tokio::test]
async fn custom_method_and_delete() {
    let h = Harness::new();
    let reply = h.call(Method::HEAD, "/v1/shelves/5", None).await;
    assert_eq!(reply.status, 200);
    assert_eq!(h.seen().method, "GetShelf");

    let deleted = h
        .call(Method::DELETE, "/v1/shelves/1/books/2?etag=e1", None)
        .await
        .ok();
    assert_eq!(deleted, json!({}));
    assert_eq!(
        h.seen().request,
        json!({ "name": "shelves/1/books/2", "etag": "e1" })
    );
}

#[tokio::test]
async fn query_parameters_of_every_kind() {
    let h = Harness::new();
    let listed = h
        .get(concat!(
            "/v1/shelves/1/books?pageSize=10&page_token=t%2B1+2&genres=FICTION&genres=2",
            "&author.displayName=Ann&author.born_after=1900",
            "&written_after=2026-01-01T00:00:00Z&min_pages=100&show_drafts=true",
            "&max_reading_time=3600.5s&ids=1&ids=9007199254740993",
        ))
        .await
        .ok();
    assert_eq!(
        h.seen().request,
        json!({
            "parent": "shelves/1",
            "page_size": 10,
            "page_token": "t+1 2",
            "genres": ["FICTION", "NON_FICTION"],
            "author": { "display_name": "Ann", "born_after": 1900 },
            "written_after": "2026-01-01T00:00:00Z",
            "min_pages": "100",
            "show_drafts": true,
            "max_reading_time": "3600.500s",
            "ids": ["1", "9007199254740993"],
        })
    );
    assert_eq!(listed["nextPageToken"], "next");
    assert_eq!(listed["books"][0]["pages"], "12345678901234");
}

#[tokio::test]
async fn unknown_paths_and_methods() {
    let h = Harness::new();
    let problem = h.get("/v2/shelves").await.problem(404, "ROUTE_NOT_FOUND");
    assert!(problem["detail"].as_str().unwrap().contains("/v2/shelves"));
    h.get("/v1/shelves/1/books/2/extra")
        .await
        .problem(404, "ROUTE_NOT_FOUND");
    h.get("/v1/shelves//books")
        .await
        .problem(404, "ROUTE_NOT_FOUND");
    h.get("/").await.problem(404, "ROUTE_NOT_FOUND");

    let reply = h.call(Method::DELETE, "/v1/shelves/5", None).await;
    reply.problem(405, "METHOD_NOT_ALLOWED");
    assert_eq!(reply.headers["allow"], "GET, HEAD");

    // A path served by POST and GET.
    let reply = h.call(Method::PUT, "/v1/echo", Some("{}")).await;
    reply.problem(405, "METHOD_NOT_ALLOWED");
    assert_eq!(reply.headers["allow"], "POST, GET");

    let reply = h.call(Method::GET, "/v1/library:reset", None).await;
    reply.problem(405, "METHOD_NOT_ALLOWED");
    assert_eq!(reply.headers["allow"], "POST");
    assert_eq!(h.calls(), 0);
}

#[tokio::test]
async fn verbs_are_not_swallowed_by_variables() {
    // GET /v1/shelves/1/books/2:publish: the verb route is POST-only; GET /v1/{name=...}
    // would match with `2:publish` as the last segment, but a matched verb is a verb.
    let h = Harness::new();
    let reply = h.get("/v1/shelves/1/books/2:publish").await;
    reply.problem(405, "METHOD_NOT_ALLOWED");
    assert_eq!(reply.headers["allow"], "POST");

    // GET /v1/shelves/1/books: served by ListBooks though CreateBook (POST) has the same path.
    h.send(
        Request::get("/v1/shelves/1/books")
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await
    .ok();
    assert_eq!(h.seen().method, "ListBooks");
}

#[tokio::test]
async fn retained_services_only() {
    let all = transcoder().routes().count();
    let kept = transcoder()
        .retain_services(|service| service == "library.v1.BookService")
        .routes()
        .count();
    assert_eq!(kept, all);
    let none = transcoder().retain_services(|_| false);
    assert_eq!(none.routes().count(), 0);
    let harness = Harness::with(|t| t.retain_services(|_| false));
    let reply = harness.get("/v1/shelves/special").await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.json()["reason"], "ROUTE_NOT_FOUND");
    assert_eq!(harness.calls(), 0);
}
