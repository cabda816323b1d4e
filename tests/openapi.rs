//! The OpenAPI document (`traceledger::api::openapi`):
//! - the committed `openapi/openapi.json` is exactly what the code generates;
//! - every route the server serves is documented, and every documented operation is
//!   served (probed on a running server: never the 404 fallback, never 405) and answers
//!   only documented statuses, 401 exactly where the document asks for a key;
//! - errors are problem+json everywhere, 429/503 carry `Retry-After`;
//! - the request examples are accepted by the server, the live responses match the
//!   documented schemas, and the ledger examples verify against each other;
//! - `/docs` is a Swagger UI page whose every script and stylesheet comes from this server.
//!
//! Regenerate the committed document with
//! `TRACELEDGER_UPDATE_OPENAPI=1 cargo test --test openapi`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use base64::Engine;
use serde_json::{json, Value};
use traceledger::api::openapi::{examples, openapi_json, PUBLIC_PATHS};
use traceledger::app::RunningApp;
use traceledger::domain::{Scope, TenantName};

/// Every path the server serves, all documented. Add a new endpoint's path here when
/// you add its handler to `ApiDoc`'s `paths(...)`.
const DOCUMENTED_PATHS: &[&str] = &[
    "/healthz",
    "/readyz",
    "/openapi.json",
    "/docs",
    "/api/public/projects",
    "/v1/keys",
    "/v1/ledger/checkpoint",
    "/v1/ledger/entries",
    "/v1/ledger/proofs/inclusion",
    "/v1/ledger/proofs/consistency",
    "/v1/traces",
    "/v1/logs",
    "/api/public/otel/v1/traces",
    "/v1/provenance/search",
    "/v1/traces/{trace_id}",
    "/v1/spans",
    "/v1/exports",
    "/v1/pipeline-versions",
    "/v1/pipeline-versions/{id}",
    "/v1/proof-bundles",
    "/v1/deployments",
    "/v1/ci-keys",
];

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

fn committed_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi/openapi.json")
}

fn document() -> Value {
    serde_json::from_str(&openapi_json()).expect("openapi_json() is JSON")
}

/// `(path, method, operation)` for every operation of the document.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                out.push((path.clone(), method.to_owned(), operation.clone()));
            }
        }
    }
    out
}

/// Follows a local `$ref` (`#/components/...`).
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference.strip_prefix('#').expect("local $ref");
            resolve(
                doc,
                doc.pointer(pointer)
                    .unwrap_or_else(|| panic!("dangling $ref {reference}")),
            )
        }
        None => value,
    }
}

// ---------------------------------------------------------------------------------------
// (a) the committed document
// ---------------------------------------------------------------------------------------

#[test]
fn committed_document_is_current() {
    let path = committed_path();
    let generated = format!("{}\n", openapi_json());
    if std::env::var_os("TRACELEDGER_UPDATE_OPENAPI").is_some() {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("create openapi/");
        std::fs::write(&path, &generated).expect("write openapi/openapi.json");
        eprintln!("wrote {}", path.display());
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        let first_difference = committed
            .lines()
            .zip(generated.lines())
            .position(|(old, new)| old != new)
            .map(|line| format!("first difference at line {}", line + 1))
            .unwrap_or_else(|| "one is a prefix of the other".into());
        panic!(
            "{} is stale ({first_difference}): the API's annotations changed.\n\
             Regenerate it with:\n\n    TRACELEDGER_UPDATE_OPENAPI=1 cargo test --test openapi\n\n\
             and commit the result.",
            path.display()
        );
    }
}

// ---------------------------------------------------------------------------------------
// (b) served routes ⇔ documented paths
// ---------------------------------------------------------------------------------------

#[test]
fn expected_paths_are_documented_and_nothing_else() {
    let doc = document();
    let documented: BTreeSet<&str> = doc["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .map(String::as_str)
        .collect();
    let expected: BTreeSet<&str> = DOCUMENTED_PATHS.iter().copied().collect();
    let missing: Vec<_> = expected.difference(&documented).collect();
    let unexpected: Vec<_> = documented.difference(&expected).collect();
    assert!(missing.is_empty(), "paths missing from the document: {missing:?}");
    assert!(
        unexpected.is_empty(),
        "documented paths not in DOCUMENTED_PATHS (add them there if they are served): {unexpected:?}"
    );
}

/// Every literal `.route("...")` path in `src/` (the router and any sub-router).
fn routes_in_source() -> BTreeSet<String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read src/") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|extension| extension == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
    let mut routes = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read source");
        let mut rest = text.as_str();
        while let Some(position) = rest.find(".route(") {
            rest = &rest[position + ".route(".len()..];
            let trimmed = rest.trim_start();
            if let Some(literal) = trimmed.strip_prefix('"') {
                if let Some(end) = literal.find('"') {
                    routes.insert(literal[..end].to_owned());
                }
            }
        }
    }
    routes
}

#[test]
fn every_route_of_the_router_is_documented() {
    let doc = document();
    let routes = routes_in_source();
    assert!(
        routes.contains("/v1/traces"),
        "the source scan found no routes: {routes:?}"
    );
    let v1_routes = routes.iter().filter(|route| route.starts_with("/v1/")).count();
    assert!(v1_routes >= 10, "the source scan found only {v1_routes} /v1/ routes");
    let undocumented: Vec<_> = routes
        .iter()
        .filter(|route| doc["paths"].get(route.as_str()).is_none())
        .collect();
    assert!(
        undocumented.is_empty(),
        "routes served but not documented: {undocumented:?}\n\
         Put #[utoipa::path(...)] on their handlers, add them to ApiDoc's paths(...) in \
         src/api/openapi.rs and to DOCUMENTED_PATHS here, then run \
         TRACELEDGER_UPDATE_OPENAPI=1 cargo test --test openapi"
    );
    for path in DOCUMENTED_PATHS.iter().filter(|path| path.starts_with("/v1/")) {
        assert!(
            routes.contains(*path),
            "{path} is documented but no .route(\"{path}\") exists"
        );
    }
}

struct Server {
    app: RunningApp,
    _dir: tempfile::TempDir,
    admin_key: String,
    client: reqwest::Client,
}

impl Server {
    async fn start() -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let args = traceledger::config::ServeArgs::for_data_dir(dir.path().join("data"));
        let app = traceledger::app::spawn(&args).await.expect("spawn app");
        let store = app.state.store.clone();
        let name = TenantName::parse(traceledger::app::DEFAULT_TENANT).expect("tenant name");
        let tenant = store
            .ensure_tenant(&name, &args.store.origin_for(&name))
            .await
            .expect("tenant");
        let key = traceledger::auth::generate_key();
        store
            .insert_api_key(&tenant, &key.id, &key.hash, &[Scope::Admin])
            .await
            .expect("insert key");
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Server {
            app,
            _dir: dir,
            admin_key: key.secret,
            client,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.app.url(), path)
    }

    async fn stop(self) {
        self.app.stop().await.expect("stop");
    }
}

/// The path with its `{parameters}` replaced by their examples (or `x`).
fn concrete_path(path: &str, operation: &Value) -> String {
    let mut concrete = path.to_owned();
    for parameter in operation["parameters"].as_array().into_iter().flatten() {
        if parameter["in"] == "path" {
            let name = parameter["name"].as_str().expect("parameter name");
            let value = parameter["example"].as_str().unwrap_or("x");
            concrete = concrete.replace(&format!("{{{name}}}"), value);
        }
    }
    assert!(!concrete.contains('{'), "unfilled path parameter in {path}");
    concrete
}

async fn probe(server: &Server, method: &str, path: &str, key: Option<&str>) -> (u16, String, String) {
    let method = reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes()).expect("method");
    let mut request = server.client.request(method, server.url(path));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = response.text().await.unwrap_or_default();
    (status, content_type, body)
}

fn assert_problem(doc: &Value, context: &str, status: u16, content_type: &str, body: &str) {
    assert_eq!(content_type, "application/problem+json", "{context}: {status} {body}");
    let problem: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("{context}: not JSON: {body}"));
    let errors = validate(doc, &json!({"$ref": "#/components/schemas/problem"}), &problem, "$");
    assert!(errors.is_empty(), "{context}: {errors:?}");
    assert_eq!(problem["status"], status, "{context}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documented_operations_are_served_with_documented_statuses() {
    let doc = document();
    let server = Server::start().await;
    for (path, method, operation) in operations(&doc) {
        let concrete = concrete_path(&path, &operation);
        let documented = operation["responses"].as_object().expect("responses");
        let public = operation["security"] == json!([]);
        for key in [None, Some(server.admin_key.as_str())] {
            let context = format!(
                "{} {concrete} ({})",
                method.to_uppercase(),
                if key.is_some() { "admin key" } else { "no key" }
            );
            let (status, content_type, body) = probe(&server, &method, &concrete, key).await;
            assert!(
                !(status == 404 && body.contains("no such endpoint")),
                "{context}: documented but not served (the router's fallback answered)"
            );
            assert_ne!(status, 405, "{context}: documented method not routed");
            assert!(
                documented.contains_key(&status.to_string()),
                "{context}: answered {status}, which the document does not list: {body}"
            );
            if key.is_none() {
                assert_eq!(
                    status == 401,
                    !public,
                    "{context}: the document says the operation is {}",
                    if public { "public" } else { "secured" }
                );
            }
            if status >= 400 {
                assert_problem(&doc, &context, status, &content_type, &body);
            }
        }
    }
    server.stop().await;
}

// ---------------------------------------------------------------------------------------
// Document-wide rules
// ---------------------------------------------------------------------------------------

#[test]
fn document_rules() {
    let doc = document();
    assert!(doc["openapi"]
        .as_str()
        .is_some_and(|version| version.starts_with("3.1")));
    assert_eq!(doc["info"]["title"], "traceledger");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(doc["info"]["description"].as_str().is_some_and(|text| !text.is_empty()));
    let bearer = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(bearer["type"], "http");
    assert_eq!(bearer["scheme"], "bearer");
    assert_eq!(bearer["bearerFormat"], "API key");
    assert_eq!(doc["security"], json!([{"bearer": []}]));
    let mut operation_ids = BTreeSet::new();
    for (path, method, operation) in operations(&doc) {
        let context = format!("{} {path}", method.to_uppercase());
        let id = operation["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{context}: no operationId"));
        assert!(
            operation_ids.insert(id.to_owned()),
            "{context}: duplicate operationId {id}"
        );
        assert!(
            operation["tags"].as_array().is_some_and(|tags| !tags.is_empty()),
            "{context}: no tag"
        );
        assert!(operation["summary"].as_str().is_some(), "{context}: no summary");
        // Security: public exactly for PUBLIC_PATHS, otherwise the bearer scheme.
        if PUBLIC_PATHS.contains(&path.as_str()) {
            assert_eq!(operation["security"], json!([]), "{context}: should be public");
        } else {
            let requirements = operation
                .get("security")
                .cloned()
                .unwrap_or_else(|| doc["security"].clone());
            assert!(
                requirements
                    .as_array()
                    .is_some_and(|list| !list.is_empty() && list.iter().any(|item| item.get("bearer").is_some())),
                "{context}: should require the bearer scheme, has {requirements}"
            );
        }
        // Errors: problem+json with the problem schema; Retry-After on 429/503.
        for (status, response) in operation["responses"].as_object().expect("responses") {
            let code: u16 = status.parse().unwrap_or_else(|_| panic!("{context}: status {status}"));
            let response = resolve(&doc, response);
            if code >= 400 {
                let content = response["content"].as_object().expect("error content");
                assert_eq!(
                    content.keys().collect::<Vec<_>>(),
                    ["application/problem+json"],
                    "{context} {code}"
                );
                let schema = &content["application/problem+json"]["schema"];
                assert_eq!(schema["$ref"], "#/components/schemas/problem", "{context} {code}");
            }
            if code == 429 || code == 503 {
                assert!(
                    response["headers"].get("Retry-After").is_some(),
                    "{context} {code}: no Retry-After"
                );
            }
        }
    }
    let problem = &doc["components"]["schemas"]["problem"];
    for field in ["type", "title", "status", "detail"] {
        assert!(problem["properties"].get(field).is_some(), "problem.{field}");
    }
    // OTLP endpoints: both encodings in and out, and the full set of statuses.
    for path in ["/v1/traces", "/v1/logs", "/api/public/otel/v1/traces"] {
        let operation = &doc["paths"][path]["post"];
        let request = &operation["requestBody"]["content"];
        assert_eq!(
            request["application/x-protobuf"]["schema"]["$ref"],
            "#/components/schemas/OtlpProtobuf"
        );
        assert!(request["application/json"]["schema"]["$ref"].is_string(), "{path}");
        let ok = &operation["responses"]["200"]["content"];
        assert!(
            ok.get("application/x-protobuf").is_some() && ok.get("application/json").is_some(),
            "{path}"
        );
        for status in ["200", "400", "401", "403", "413", "415", "429", "503"] {
            assert!(operation["responses"].get(status).is_some(), "{path}: no {status}");
        }
    }
    let protobuf = &doc["components"]["schemas"]["OtlpProtobuf"];
    assert_eq!(
        (&protobuf["type"], &protobuf["format"]),
        (&json!("string"), &json!("binary"))
    );
    let checkpoint = &doc["paths"]["/v1/ledger/checkpoint"]["get"]["responses"]["200"]["content"];
    assert_eq!(
        checkpoint["text/plain; charset=utf-8"]["example"],
        examples::CHECKPOINT,
        "checkpoint example"
    );
}

// ---------------------------------------------------------------------------------------
// Examples and live responses against the documented schemas
// ---------------------------------------------------------------------------------------

fn json_type_matches(expected: &str, value: &Value) -> bool {
    match expected {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => false,
    }
}

/// A small JSON Schema check (what utoipa emits): `$ref`, `oneOf`/`anyOf`/`allOf`,
/// `type`, `required`, `properties` — and, stricter than JSON Schema, an object whose
/// schema lists `properties` must not carry undocumented ones.
fn validate(doc: &Value, schema: &Value, value: &Value, at: &str) -> Vec<String> {
    let schema = resolve(doc, schema);
    let mut errors = Vec::new();
    for keyword in ["oneOf", "anyOf"] {
        if let Some(options) = schema[keyword].as_array() {
            if !options.iter().any(|option| validate(doc, option, value, at).is_empty()) {
                errors.push(format!("{at}: matches no {keyword} option: {value}"));
            }
        }
    }
    for part in schema["allOf"].as_array().into_iter().flatten() {
        errors.extend(validate(doc, part, value, at));
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(single) => vec![single.as_str()],
        Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !types.is_empty() && !types.iter().any(|expected| json_type_matches(expected, value)) {
        errors.push(format!("{at}: expected {types:?}, found {value}"));
        return errors;
    }
    if let (Some(object), Some(properties)) = (value.as_object(), schema["properties"].as_object()) {
        for required in schema["required"].as_array().into_iter().flatten() {
            let name = required.as_str().unwrap_or_default();
            if !object.contains_key(name) {
                errors.push(format!("{at}: missing required property {name}"));
            }
        }
        for (name, item) in object {
            match properties.get(name) {
                Some(property) => errors.extend(validate(doc, property, item, &format!("{at}.{name}"))),
                None => errors.push(format!("{at}: undocumented property {name}")),
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (index, item) in array.iter().enumerate() {
            errors.extend(validate(doc, items, item, &format!("{at}[{index}]")));
        }
    }
    errors
}

/// The documented JSON schema of `method path` answering `status`.
fn response_schema<'a>(doc: &'a Value, path: &str, method: &str, status: u16) -> &'a Value {
    let response = &doc["paths"][path][method]["responses"][status.to_string()];
    assert!(!response.is_null(), "{method} {path}: {status} is not documented");
    let schema = &resolve(doc, response)["content"]["application/json"]["schema"];
    assert!(
        !schema.is_null(),
        "{method} {path} {status}: no application/json schema"
    );
    schema
}

/// The documented request example(s) of `method path` (application/json).
fn request_examples(doc: &Value, path: &str, method: &str) -> Vec<Value> {
    let content = &doc["paths"][path][method]["requestBody"]["content"]["application/json"];
    if let Some(example) = content.get("example") {
        return vec![example.clone()];
    }
    content["examples"]
        .as_object()
        .map(|examples| examples.values().map(|example| example["value"].clone()).collect())
        .unwrap_or_default()
}

async fn call(server: &Server, doc: &Value, method: &str, path: &str, template: &str, body: Option<&Value>) -> Value {
    let mut request = server
        .client
        .request(
            reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes()).expect("method"),
            server.url(path),
        )
        .bearer_auth(&server.admin_key);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    assert!(status < 300, "{method} {path}: {status} {text}");
    let value: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{method} {path}: not JSON: {text}"));
    let errors = validate(doc, response_schema(doc, template, method, status), &value, "$");
    assert!(
        errors.is_empty(),
        "{method} {path} does not match its documented schema: {errors:#?}"
    );
    value
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn examples_are_accepted_and_responses_match_the_schemas() {
    let doc = document();
    let server = Server::start().await;

    // The documented request examples, in dependency order.
    for path in ["/v1/traces", "/v1/logs"] {
        let examples = request_examples(&doc, path, "post");
        assert_eq!(examples.len(), 1, "{path}");
        let response = call(&server, &doc, "post", path, path, Some(&examples[0])).await;
        assert_eq!(
            response,
            json!({"partialSuccess": null}),
            "{path}: every record accepted"
        );
    }
    let pipeline_version = call(
        &server,
        &doc,
        "post",
        "/v1/pipeline-versions",
        "/v1/pipeline-versions",
        Some(&request_examples(&doc, "/v1/pipeline-versions", "post")[0]),
    )
    .await;
    assert_eq!(
        pipeline_version["id"],
        examples::PIPELINE_VERSION_ID,
        "the example's id is its real id"
    );
    assert_eq!(pipeline_version["created"], true);
    for path in ["/v1/ci-keys", "/v1/proof-bundles", "/v1/deployments"] {
        let example = &request_examples(&doc, path, "post")[0];
        let written = call(&server, &doc, "post", path, path, Some(example)).await;
        assert_eq!(written["created"], true, "{path}");
    }
    let searches = request_examples(&doc, "/v1/provenance/search", "post");
    assert_eq!(searches.len(), 3);
    for search in &searches {
        let found = call(
            &server,
            &doc,
            "post",
            "/v1/provenance/search",
            "/v1/provenance/search",
            Some(search),
        )
        .await;
        assert_eq!(
            found["results"].as_array().map(Vec::len),
            Some(1),
            "search {search}: {found}"
        );
    }

    // Reads.
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let size = traceledger::ledger::checkpoint::parse_unverified(
        &server
            .client
            .get(server.url("/v1/ledger/checkpoint"))
            .bearer_auth(&server.admin_key)
            .send()
            .await
            .expect("checkpoint")
            .text()
            .await
            .expect("checkpoint body"),
    )
    .expect("checkpoint parses")
    .size;
    assert_eq!(size, 6, "the six spans of a_rag_semconv");
    let reads = [
        ("/v1/keys".to_owned(), "/v1/keys"),
        (format!("/v1/ledger/entries?start=0&end={size}"), "/v1/ledger/entries"),
        (
            format!("/v1/ledger/proofs/inclusion?index=0&tree_size={size}"),
            "/v1/ledger/proofs/inclusion",
        ),
        (
            format!("/v1/ledger/proofs/consistency?first=1&second={size}"),
            "/v1/ledger/proofs/consistency",
        ),
        (format!("/v1/traces/{trace_id}"), "/v1/traces/{trace_id}"),
        ("/v1/spans".to_owned(), "/v1/spans"),
        ("/v1/pipeline-versions".to_owned(), "/v1/pipeline-versions"),
        (
            format!("/v1/pipeline-versions/{}", examples::PIPELINE_VERSION_ID),
            "/v1/pipeline-versions/{id}",
        ),
        ("/v1/proof-bundles".to_owned(), "/v1/proof-bundles"),
        ("/v1/deployments".to_owned(), "/v1/deployments"),
        ("/v1/ci-keys".to_owned(), "/v1/ci-keys"),
        ("/api/public/projects".to_owned(), "/api/public/projects"),
    ];
    for (path, template) in &reads {
        let value = call(&server, &doc, "get", path, template, None).await;
        assert!(value.as_object().is_some_and(|object| !object.is_empty()), "{path}");
    }
    server.stop().await;
}

#[test]
fn response_examples_match_their_schemas() {
    let doc = document();
    for (path, method, operation) in operations(&doc) {
        for (status, response) in operation["responses"].as_object().expect("responses") {
            let response = resolve(&doc, response);
            for (media_type, content) in response["content"].as_object().into_iter().flatten() {
                if !media_type.contains("json") {
                    continue;
                }
                let mut samples: Vec<&Value> = content.get("example").into_iter().collect();
                samples.extend(
                    content["examples"]
                        .as_object()
                        .into_iter()
                        .flatten()
                        .map(|(_, example)| &example["value"]),
                );
                for sample in samples {
                    let errors = validate(&doc, &content["schema"], sample, "$");
                    assert!(
                        errors.is_empty(),
                        "{method} {path} {status} {media_type} example: {errors:#?}"
                    );
                }
            }
        }
    }
}

/// The ledger examples come from one real run: the entry's bytes hash to the proven
/// leaf, the proofs verify against the checkpoint, the checkpoint against the key.
#[test]
fn ledger_examples_verify_against_each_other() {
    use traceledger::ledger::{checkpoint, entry, hash_from_hex, merkle};
    let hash = |value: &Value| hash_from_hex(value.as_str().expect("hex")).expect("a hash");
    let hashes = |value: &Value| value.as_array().expect("proof").iter().map(hash).collect::<Vec<_>>();

    let verifier_key = examples::key_list()["keys"][0]["verifier_key"]
        .as_str()
        .expect("key")
        .to_owned();
    let verified = checkpoint::verify_checkpoint(examples::CHECKPOINT, &verifier_key).expect("checkpoint verifies");

    let page = examples::entry_page();
    let record = &page["entries"][0];
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(record["entry_bytes"].as_str().expect("entry_bytes"))
        .expect("base64");
    let decoded: Value = serde_json::from_slice(&bytes).expect("entry bytes are JSON");
    assert_eq!(decoded, record["entry"], "entry_bytes encode entry");
    let leaf = entry::leaf_hash(&bytes);

    let inclusion = examples::inclusion_proof();
    assert_eq!(hash(&inclusion["leaf_hash"]), leaf);
    assert_eq!(inclusion["tree_size"], verified.size);
    merkle::verify_inclusion(
        inclusion["index"].as_u64().expect("index"),
        verified.size,
        &leaf,
        &hashes(&inclusion["proof"]),
        &verified.root,
    )
    .expect("inclusion proof verifies");

    let consistency = examples::consistency_proof();
    assert_eq!(
        (consistency["first"].as_u64(), consistency["second"].as_u64()),
        (Some(1), Some(verified.size))
    );
    // The tree of size 1 is the leaf itself.
    merkle::verify_consistency(1, verified.size, &leaf, &verified.root, &hashes(&consistency["proof"]))
        .expect("consistency proof verifies");
}

// ---------------------------------------------------------------------------------------
// (c) /docs works offline
// ---------------------------------------------------------------------------------------

/// The values of `attribute="..."` in `html`.
fn attribute_values(html: &str, attribute: &str) -> Vec<String> {
    let needle = format!("{attribute}=\"");
    let mut values = Vec::new();
    let mut rest = html;
    while let Some(position) = rest.find(&needle) {
        rest = &rest[position + needle.len()..];
        if let Some(end) = rest.find('"') {
            values.push(rest[..end].to_owned());
            rest = &rest[end..];
        }
    }
    values
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docs_page_is_served_with_all_its_assets() {
    let server = Server::start().await;

    let redirect = server.client.get(server.url("/docs")).send().await.expect("GET /docs");
    assert_eq!(redirect.status().as_u16(), 303);
    assert_eq!(
        redirect.headers().get("location").and_then(|value| value.to_str().ok()),
        Some("/docs/")
    );

    let page = server
        .client
        .get(server.url("/docs/"))
        .send()
        .await
        .expect("GET /docs/");
    assert_eq!(page.status().as_u16(), 200);
    let content_type = page.headers()["content-type"]
        .to_str()
        .expect("content type")
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let html = page.text().await.expect("html");
    assert!(html.contains("swagger-ui"), "not a Swagger UI page: {html}");

    let assets: Vec<String> = attribute_values(&html, "src")
        .into_iter()
        .chain(attribute_values(&html, "href"))
        .collect();
    let scripts = assets.iter().filter(|asset| asset.ends_with(".js")).count();
    let styles = assets.iter().filter(|asset| asset.ends_with(".css")).count();
    assert!(scripts >= 2 && styles >= 1, "expected scripts and styles in {assets:?}");
    for asset in &assets {
        assert!(
            !asset.contains("://") && !asset.starts_with("//"),
            "{asset} would load from another host (no network here)"
        );
        let url = format!("{}/docs/{}", server.app.url(), asset.trim_start_matches("./"));
        let response = server.client.get(&url).send().await.expect("asset");
        assert_eq!(response.status().as_u16(), 200, "{url}");
        assert!(
            !response.bytes().await.expect("asset body").is_empty(),
            "{url} is empty"
        );
    }

    let initializer = server
        .client
        .get(server.url("/docs/swagger-initializer.js"))
        .send()
        .await
        .expect("initializer")
        .text()
        .await
        .expect("initializer body");
    assert!(
        initializer.contains("\"/openapi.json\""),
        "Swagger UI must read /openapi.json: {initializer}"
    );
    assert!(
        !initializer.contains("http://") && !initializer.contains("https://"),
        "the initializer points at another host: {initializer}"
    );

    let served = server
        .client
        .get(server.url("/openapi.json"))
        .send()
        .await
        .expect("openapi.json");
    assert_eq!(served.status().as_u16(), 200);
    assert_eq!(served.headers()["content-type"], "application/json");
    assert_eq!(served.text().await.expect("document"), openapi_json());

    server.stop().await;
}
