//! The OpenAPI 3.1 document: every annotated rpc present, structure checked in Rust, and the
//! whole document validated by `openapi-spec-validator` (PyPI) when python3 has it.

use std::collections::{BTreeMap, HashSet};
use std::process::Command;

use serde_json::{Value, json};
use wekeza_transcode::OpenApiInfo;

use crate::support::{pool, transcoder};

fn document() -> Value {
    let info = OpenApiInfo::new("Library", "1.0.0")
        .description("A test API.")
        .server("https://api.example.com")
        .security_scheme("bearer", json!({ "type": "http", "scheme": "bearer" }))
        .security_scheme(
            "apiKey",
            json!({ "type": "apiKey", "in": "header", "name": "x-api-key" }),
        )
        .security(|method| match method.name() {
            "Whoami" => vec![],
            "DeleteBook" => vec![BTreeMap::from([(
                "bearer".to_owned(),
                vec!["library.write".to_owned()],
            )])],
            _ => vec![
                BTreeMap::from([("bearer".to_owned(), vec![])]),
                BTreeMap::from([("apiKey".to_owned(), vec![])]),
            ],
        });
    transcoder().openapi(&info)
}

fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            out.push((path.clone(), method.clone(), operation));
        }
    }
    out
}

#[test]
fn every_annotated_rpc_is_an_operation() {
    let doc = document();
    let ops = operations(&doc);
    let ids: Vec<&str> = ops
        .iter()
        .map(|(_, _, op)| op["operationId"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), transcoder().routes().count(), "{ids:?}");
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        ids.len(),
        "operationIds are unique"
    );

    let http = pool().get_extension_by_name("google.api.http").unwrap();
    for service in pool().services() {
        for method in service.methods() {
            let annotated = method.options().has_extension(&http);
            assert_eq!(ids.contains(&method.name()), annotated, "{}", method.name());
        }
    }
    let find = |path: &str, method: &str| {
        ops.iter()
            .find(|(p, m, _)| p == path && m == method)
            .map(|(_, _, op)| *op)
            .unwrap_or_else(|| panic!("no {method} {path}"))
    };
    assert_eq!(find("/v1/{name}", "get")["operationId"], "GetBook");
    assert_eq!(
        find("/v1/books/{name}", "get")["operationId"],
        "BookService_GetBook"
    );
    assert_eq!(find("/v1/files/{path}", "get")["operationId"], "GetFile");
    assert_eq!(
        find("/v1/library:reset", "post")["operationId"],
        "ResetLibrary"
    );
    assert_eq!(
        find("/v1/{name}:publish", "post")["operationId"],
        "PublishBook"
    );
    assert_eq!(
        find("/v1/shelves/{shelf_id}", "head")["operationId"],
        "BookService_GetShelf"
    );
    assert_eq!(
        find(
            "/v1/shelves/{destination.shelf_id}/books/{book_id}:move",
            "post"
        )["operationId"],
        "MoveBook"
    );
}

#[test]
fn operations_describe_parameters_bodies_and_responses() {
    let doc = document();
    let op = &doc["paths"]["/v1/{name}"]["get"];
    assert_eq!(op["tags"], json!(["BookService"]));
    assert_eq!(op["summary"], "Gets a book.");
    assert_eq!(
        op["description"],
        "Gets a book.\n\nThe name is the book's full resource name."
    );
    let name = &op["parameters"][0];
    assert_eq!(name["name"], "name");
    assert_eq!(name["in"], "path");
    assert_eq!(name["required"], true);
    assert_eq!(name["schema"]["pattern"], "^shelves/[^/]+/books/[^/]+$");
    assert!(
        name["description"]
            .as_str()
            .unwrap()
            .starts_with("The book's name.")
    );
    assert_eq!(op["parameters"][1]["name"], "readMask");
    assert_eq!(op["parameters"][1]["in"], "query");
    assert_eq!(
        op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/library.v1.Book"
    );
    assert_eq!(
        op["responses"]["default"]["$ref"],
        "#/components/responses/Problem"
    );
    assert_eq!(op["security"], json!([{ "bearer": [] }, { "apiKey": [] }]));

    // `/v1/{book.name}` would be the same OpenAPI path as `/v1/{name}`: it shares that key.
    assert!(doc["paths"].get("/v1/{book.name}").is_none());
    let update = &doc["paths"]["/v1/{name}"]["patch"];
    assert_eq!(update["operationId"], "UpdateBook");
    assert_eq!(update["parameters"][0]["name"], "name");
    assert!(
        update["parameters"][0]["description"]
            .as_str()
            .unwrap()
            .starts_with("Binds field `book.name`.")
    );

    // `**` keeps the field name and says it spans segments.
    let file = &doc["paths"]["/v1/files/{path}"]["get"]["parameters"][0];
    assert!(
        file["description"].as_str().unwrap().contains("`**`"),
        "{file}"
    );
    assert!(file["schema"].get("pattern").is_none());
    // A one-paragraph comment is the summary only.
    assert_eq!(
        doc["paths"]["/v1/files/{path}"]["get"]["summary"],
        "Reads a file anywhere under /v1/files/."
    );
    assert!(
        doc["paths"]["/v1/files/{path}"]["get"]
            .get("description")
            .is_none()
    );

    // Query parameters: nested fields flattened with dots, repeated as arrays, no maps.
    let list = &doc["paths"]["/v1/{parent}/books"]["get"];
    let names: Vec<&str> = list["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "parent",
            "pageSize",
            "pageToken",
            "genres",
            "author.displayName",
            "author.bornAfter",
            "writtenAfter",
            "minPages",
            "showDrafts",
            "maxReadingTime",
            "ids",
        ]
    );
    let genres = &list["parameters"][3];
    assert_eq!(
        genres["schema"],
        json!({ "type": "array", "items": { "$ref": "#/components/schemas/library.v1.Genre" } })
    );
    assert_eq!(list["parameters"][6]["schema"]["format"], "date-time");
    assert_eq!(list["parameters"][10]["schema"]["items"]["format"], "int64");

    // Body field: the field's schema; REQUIRED makes the body required.
    let create = &doc["paths"]["/v1/{parent}/books"]["post"];
    assert_eq!(create["requestBody"]["required"], true);
    assert_eq!(
        create["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/library.v1.Book"
    );
    assert_eq!(create["parameters"][1]["name"], "bookId");
    // body "*" with path fields: the message without them, no query parameters.
    let publish = &doc["paths"]["/v1/{name}:publish"]["post"];
    let schema = &publish["requestBody"]["content"]["application/json"]["schema"];
    assert!(schema["properties"].get("name").is_none());
    assert_eq!(schema["required"], json!(["requester"]));
    assert_eq!(publish["parameters"].as_array().unwrap().len(), 1);
    // response_body: the field's schema.
    let title = &doc["paths"]["/v1/shelves/{shelf_id}/title"]["get"];
    assert_eq!(
        title["responses"]["200"]["content"]["application/json"]["schema"],
        json!({ "type": "string" })
    );
    assert_eq!(title["parameters"][0]["schema"]["format"], "int64");
    // Security from the hook: none, or a scope.
    assert!(doc["paths"]["/v1/whoami"]["get"].get("security").is_none());
    assert_eq!(
        doc["paths"]["/v1/{name}"]["delete"]["security"],
        json!([{ "bearer": ["library.write"] }])
    );
}

#[test]
fn components_follow_the_json_mapping() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    let book = &schemas["library.v1.Book"];
    assert_eq!(book["description"], "A book.");
    assert_eq!(book["required"], json!(["title"]));
    assert_eq!(book["properties"]["createTime"]["readOnly"], true);
    assert_eq!(book["properties"]["pages"]["type"], "string");
    assert_eq!(book["properties"]["pages"]["format"], "int64");
    assert_eq!(book["properties"]["written"]["format"], "date-time");
    assert_eq!(book["properties"]["title"]["description"], "The title.");
    assert_eq!(
        schemas["library.v1.Genre"]["enum"],
        json!(["GENRE_UNSPECIFIED", "FICTION", "NON_FICTION"])
    );
    assert!(
        schemas["library.v1.Genre"]["description"]
            .as_str()
            .unwrap()
            .contains("- `FICTION`: Made up.")
    );

    let everything = &schemas["library.v1.Everything"]["properties"];
    assert_eq!(
        everything["counts"],
        json!({ "type": "object", "additionalProperties": { "type": "string", "format": "int64", "pattern": "^-?[0-9]+$" } })
    );
    assert_eq!(
        everything["authorsById"]["additionalProperties"]["$ref"],
        "#/components/schemas/library.v1.Author"
    );
    assert_eq!(
        everything["stringList"],
        json!({ "type": "array", "items": { "type": "string" } })
    );
    assert_eq!(everything["bytesValue"]["format"], "byte");
    assert_eq!(everything["uint64Value"]["format"], "uint64");
    assert_eq!(everything["duration"]["type"], "string");
    assert_eq!(everything["structValue"]["type"], "object");
    assert_eq!(
        everything["wrappedInt64"]["type"],
        json!(["string", "null"])
    );
    assert_eq!(
        everything["wrappedBool"]["type"],
        json!(["boolean", "null"])
    );
    assert!(
        everything["choiceText"]["description"]
            .as_str()
            .unwrap()
            .contains("oneof `choice`")
    );
    // Recursive messages are one component referring to itself.
    assert_eq!(
        schemas["library.v1.Nested"]["properties"]["child"]["$ref"],
        "#/components/schemas/library.v1.Nested"
    );

    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert_eq!(
        schemas["Problem"]["required"],
        json!(["type", "title", "status", "detail", "reason"])
    );
    assert_eq!(
        doc["tags"],
        json!([{ "name": "BookService", "description": "Manages shelves and the books on them." }])
    );
    assert_eq!(
        doc["servers"],
        json!([{ "url": "https://api.example.com" }])
    );
}

/// Every `$ref` resolves and every `{param}` of a path is declared exactly once.
#[test]
fn the_document_is_consistent() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    out.push(r);
                }
                map.values().for_each(|v| refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for reference in all {
        let pointer = reference.strip_prefix('#').unwrap();
        assert!(doc.pointer(pointer).is_some(), "dangling {reference}");
    }
    for (path, _, op) in operations(&doc) {
        let templated: Vec<&str> = path
            .split('{')
            .skip(1)
            .map(|rest| rest.split('}').next().unwrap())
            .collect();
        let declared: Vec<&str> = op["parameters"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .filter(|p| p["in"] == "path")
                    .map(|p| p["name"].as_str().unwrap())
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(templated, declared, "{path}");
        assert!(op["responses"]["200"].is_object() && op["responses"]["default"].is_object());
    }
}

#[test]
fn the_document_validates_as_openapi_3_1() {
    let doc = document();
    let path = std::env::temp_dir().join(format!(
        "wekeza-transcode-openapi-{}.json",
        std::process::id()
    ));
    std::fs::write(&path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    let script = "import json, sys\n\
        from openapi_spec_validator import validate, OpenAPIV31SpecValidator\n\
        validate(json.load(open(sys.argv[1])), cls=OpenAPIV31SpecValidator)\n";
    // The Makefile's venv when it says so, else the machine's python3.
    let python = std::env::var("WEKEZA_PYTHON").unwrap_or_else(|_| "python3".into());
    let have = Command::new(&python)
        .args(["-c", "import openapi_spec_validator"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        // CI installs the validator (PyPI `openapi-spec-validator`); elsewhere, say so.
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs python3 with openapi-spec-validator"
        );
        eprintln!("skipped: python3 with openapi-spec-validator is not installed");
        return;
    }
    let output = Command::new(&python)
        .args(["-c", script])
        .arg(&path)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(
        output.status.success(),
        "openapi-spec-validator: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
