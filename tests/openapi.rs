//! The OpenAPI document (`traceledger::api::openapi`):
//! - the committed `openapi/openapi.json` is exactly what the code generates;
//! - every route the server serves is documented, and every documented operation is
//!   served (probed on a running server: never the 404 fallback, never 405) and answers
//!   only documented statuses, 401 exactly where the document asks for a key;
//! - errors are problem+json everywhere, 429/503 carry `Retry-After`;
//! - the request examples are accepted by the server; a real answer of every documented
//!   JSON response (and of problem answers) validates against its schema in the committed
//!   document with the `jsonschema` crate (JSON Schema 2020-12, references resolved in the
//!   whole document), stricter than the document: no undocumented property; the response
//!   examples validate too, and the ledger examples verify against each other;
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
    dir: tempfile::TempDir,
    admin_key: String,
    client: reqwest::Client,
}

impl Server {
    async fn start() -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let args = traceledger::config::ServeArgs::for_data_dir(dir.path().join("data"));
        let app = traceledger::app::spawn(&args).await.expect("spawn app");
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let mut server = Server {
            app,
            dir,
            admin_key: String::new(),
            client,
        };
        server.admin_key = server.key(&[Scope::Admin]).await;
        server
    }

    /// A new API key of the default tenant with `scopes`.
    async fn key(&self, scopes: &[Scope]) -> String {
        let store = self.app.state.store.clone();
        let name = TenantName::parse(traceledger::app::DEFAULT_TENANT).expect("tenant name");
        let origin = traceledger::config::ServeArgs::for_data_dir(self.dir.path().join("data"))
            .store
            .origin_for(&name);
        let tenant = store.ensure_tenant(&name, &origin).await.expect("tenant");
        let key = traceledger::auth::generate_key();
        store
            .insert_api_key(&tenant, &key.id, &key.hash, scopes)
            .await
            .expect("insert key");
        key.secret
    }

    /// Runs `sql` on the server's SQLite database (to forge index rows).
    async fn exec_sql(&self, sql: &str) {
        use sqlx::Connection;
        let path = self.dir.path().join("data").join("traceledger.db");
        let mut connection = sqlx::SqliteConnection::connect(&format!("sqlite:{}", path.display()))
            .await
            .expect("connect to the server's SQLite database");
        sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&mut connection)
            .await
            .unwrap_or_else(|error| panic!("{sql}: {error}"));
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

fn assert_problem(contract: &Contract, context: &str, status: u16, content_type: &str, body: &str) {
    assert_eq!(content_type, "application/problem+json", "{context}: {status} {body}");
    let problem: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("{context}: not JSON: {body}"));
    let errors = contract.check(&json!({"$ref": "#/components/schemas/problem"}), &problem);
    assert!(errors.is_empty(), "{context}: {errors:#?}");
    assert_eq!(problem["status"], status, "{context}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documented_operations_are_served_with_documented_statuses() {
    let doc = document();
    let contract = Contract::committed();
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
                assert_problem(&contract, &context, status, &content_type, &body);
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

/// The base URI under which the document is registered as a JSON Schema resource: the
/// document's local references (`#/components/schemas/...`) resolve inside it.
const DOCUMENT_URI: &str = "urn:traceledger:openapi";

/// The committed document as JSON Schema 2020-12 (what OpenAPI 3.1 schemas are),
/// checked with the `jsonschema` crate — and stricter than the document: every object
/// schema that lists `properties` also gets `additionalProperties: false`, so an answer
/// that carries a property the document does not name fails. Schemas without
/// `properties` (free-form `Object`s such as an entry's `body`) stay free-form.
struct Contract {
    /// The committed document, as written.
    doc: Value,
    /// The strict copy, registered at [`DOCUMENT_URI`].
    registry: jsonschema::Registry<'static>,
}

impl Contract {
    fn committed() -> Contract {
        let text = std::fs::read_to_string(committed_path()).expect("read openapi/openapi.json");
        let doc: Value = serde_json::from_str(&text).expect("openapi/openapi.json is JSON");
        let mut strict = doc.clone();
        for schema in strict["components"]["schemas"]
            .as_object_mut()
            .expect("components.schemas")
            .values_mut()
        {
            forbid_undocumented_properties(schema);
        }
        let registry = jsonschema::Registry::new()
            .draft(jsonschema::Draft::Draft202012)
            .add(DOCUMENT_URI, strict)
            .expect("register the document")
            .prepare()
            .expect("resolve the document's references");
        Contract { doc, registry }
    }

    /// Every way `value` fails `schema` (a schema of the document, inline or a `$ref`),
    /// empty when it conforms.
    fn check(&self, schema: &Value, value: &Value) -> Vec<String> {
        let mut schema = schema.clone();
        forbid_undocumented_properties(&mut schema);
        absolute_references(&mut schema);
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .with_registry(&self.registry)
            .build(&schema)
            .unwrap_or_else(|error| panic!("schema {schema} does not compile: {error}"));
        validator
            .iter_errors(value)
            .map(|error| format!("at {:?}: {error}", error.instance_path().to_string()))
            .collect()
    }
}

/// Adds `additionalProperties: false` to every object schema in `schema` that lists
/// `properties` and says nothing about other properties.
fn forbid_undocumented_properties(schema: &mut Value) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    // Under `allOf`, each part would refuse the other parts' properties: the rule would
    // need `unevaluatedProperties` at the right level instead. utoipa emits `allOf` only
    // for `#[serde(flatten)]`, which no answer type uses.
    assert!(
        !object.contains_key("allOf"),
        "allOf in {schema_text}: adapt forbid_undocumented_properties",
        schema_text = Value::Object(object.clone())
    );
    if object.get("properties").is_some_and(Value::is_object) && !object.contains_key("additionalProperties") {
        object.insert("additionalProperties".into(), Value::Bool(false));
    }
    for keyword in ["properties", "$defs"] {
        if let Some(Value::Object(children)) = object.get_mut(keyword) {
            children.values_mut().for_each(forbid_undocumented_properties);
        }
    }
    for keyword in ["oneOf", "anyOf", "prefixItems"] {
        if let Some(Value::Array(children)) = object.get_mut(keyword) {
            children.iter_mut().for_each(forbid_undocumented_properties);
        }
    }
    for keyword in ["items", "additionalProperties", "not"] {
        if let Some(child) = object.get_mut(keyword) {
            forbid_undocumented_properties(child);
        }
    }
}

/// Rewrites the document-local references in `schema` (`#/...`) as references into
/// the registered document.
fn absolute_references(schema: &mut Value) {
    match schema {
        Value::Object(object) => {
            for (key, child) in object.iter_mut() {
                match child {
                    Value::String(reference) if key == "$ref" && reference.starts_with('#') => {
                        *reference = format!("{DOCUMENT_URI}{reference}");
                    }
                    _ => absolute_references(child),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(absolute_references),
        _ => {}
    }
}

/// The documented schema of `method template` answering `status` with `content_type`.
fn response_schema<'a>(doc: &'a Value, template: &str, method: &str, status: u16, content_type: &str) -> &'a Value {
    let response = &doc["paths"][template][method]["responses"][status.to_string()];
    assert!(!response.is_null(), "{method} {template}: {status} is not documented");
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    let schema = &resolve(doc, response)["content"][media_type]["schema"];
    assert!(
        !schema.is_null(),
        "{method} {template} {status}: no {media_type} schema documented"
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

/// Calls the running server and checks every answer against the committed document,
/// remembering which `(method, path template, status)` had a real answer checked.
struct LiveCheck<'a> {
    server: &'a Server,
    contract: &'a Contract,
    checked: BTreeSet<(String, String, u16)>,
}

impl LiveCheck<'_> {
    /// `method path` (an instance of the documented `template`) with `key` and an
    /// optional JSON body: asserts the answer's status is `expected` and its body matches
    /// the schema documented for that status and content type; returns the body.
    async fn call(
        &mut self,
        key: Option<&str>,
        method: &str,
        path: &str,
        template: &str,
        body: Option<&Value>,
        expected: u16,
    ) -> Value {
        let mut request = self.server.client.request(
            reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes()).expect("method"),
            self.server.url(path),
        );
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = response.text().await.expect("body");
        assert_eq!(status, expected, "{method} {path}: {text}");
        let value: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{method} {path}: not JSON: {text}"));
        let schema = response_schema(&self.contract.doc, template, method, status, &content_type);
        let errors = self.contract.check(schema, &value);
        assert!(
            errors.is_empty(),
            "{method} {path} ({status} {content_type}) does not match its documented schema: {errors:#?}\n{value}"
        );
        self.checked.insert((method.to_owned(), template.to_owned(), status));
        value
    }
}

/// Every JSON endpoint answers, on a real server, what the committed document says:
/// each operation's documented `application/json` 2xx answers and a sample of problem
/// answers (400, 401, 403, 404) are validated against their schemas, including the
/// optional parts — an empty log's search, content revealed or not, the
/// `index_mismatch(es)` flags of forged index rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn examples_are_accepted_and_responses_match_the_schemas() {
    let contract = Contract::committed();
    let doc = &contract.doc;
    let server = Server::start().await;
    let admin = server.admin_key.clone();
    // `audit:read` without `audit:content`: reports without content.
    let reader = server.key(&[Scope::AuditRead]).await;
    let ingest_only = server.key(&[Scope::Ingest]).await;
    let mut live = LiveCheck {
        server: &server,
        contract: &contract,
        checked: BTreeSet::new(),
    };
    let admin = Some(admin.as_str());
    let reader = Some(reader.as_str());

    // An empty log: a search answers only its empty results.
    let search = "/v1/provenance/search";
    let empty = live
        .call(admin, "post", search, search, Some(&json!({"output": "anything"})), 200)
        .await;
    assert_eq!(empty, json!({"results": []}));

    // The documented request examples, in dependency order.
    for path in ["/v1/traces", "/v1/logs", "/api/public/otel/v1/traces"] {
        let examples = request_examples(doc, path, "post");
        assert_eq!(examples.len(), 1, "{path}");
        let response = live.call(admin, "post", path, path, Some(&examples[0]), 200).await;
        assert_eq!(
            response,
            json!({"partialSuccess": null}),
            "{path}: every record accepted"
        );
    }
    for path in [
        "/v1/pipeline-versions",
        "/v1/ci-keys",
        "/v1/proof-bundles",
        "/v1/deployments",
    ] {
        let example = &request_examples(doc, path, "post")[0];
        let written = live.call(admin, "post", path, path, Some(example), 201).await;
        assert_eq!(written["created"], true, "{path}");
        if path == "/v1/pipeline-versions" {
            assert_eq!(
                written["id"],
                examples::PIPELINE_VERSION_ID,
                "the example's id is its real id"
            );
        }
        let again = live.call(admin, "post", path, path, Some(example), 200).await;
        assert_eq!(again["created"], false, "{path}");
        assert_eq!(again["entry_index"], written["entry_index"], "{path}");
    }
    let searches = request_examples(doc, search, "post");
    assert_eq!(searches.len(), 3);
    for selector in &searches {
        for (key, revealed) in [(admin, true), (reader, false)] {
            let found = live.call(key, "post", search, search, Some(selector), 200).await;
            assert_eq!(
                found["results"].as_array().map(Vec::len),
                Some(1),
                "search {selector}: {found}"
            );
            assert_eq!(
                found["results"][0]["content_revealed"], revealed,
                "search {selector}: {found}"
            );
        }
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
    assert_eq!(
        size, 6,
        "span, log record, pipeline version, CI key, proof bundle, deployment"
    );
    let reads = [
        ("/v1/keys".to_owned(), "/v1/keys"),
        ("/v1/keys?origin=traceledger.local/default".to_owned(), "/v1/keys"),
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
        ("/openapi.json".to_owned(), "/openapi.json"),
    ];
    for (path, template) in &reads {
        let value = live.call(admin, "get", path, template, None, 200).await;
        assert!(value.as_object().is_some_and(|object| !object.is_empty()), "{path}");
    }
    let report = live
        .call(
            reader,
            "get",
            &format!("/v1/traces/{trace_id}"),
            "/v1/traces/{trace_id}",
            None,
            200,
        )
        .await;
    assert_eq!(report["content_revealed"], false, "{report}");
    // Its span was ingested before its pipeline version was registered.
    assert_eq!(report["pipeline"]["status"], "unlinked", "{report}");
    let bundle = live
        .call(
            admin,
            "post",
            "/v1/exports",
            "/v1/exports",
            Some(&json!({"trace_id": trace_id})),
            200,
        )
        .await;
    assert_eq!(bundle["payloadType"], "application/vnd.in-toto+json");

    // A trace ingested once its pipeline version is deployed is linked to it, its
    // deployment and its proof bundle (by the deployment live in its environment: its
    // resource names no service).
    let linked_trace = "4bf92f3577b34da6a3ce929d0e0e4737";
    let mut request = request_examples(doc, "/v1/traces", "post")[0].clone();
    request["resourceSpans"][0]["resource"]["attributes"]
        .as_array_mut()
        .expect("resource attributes")
        .retain(|attribute| attribute["key"] == "deployment.environment.name");
    let span = &mut request["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
    span["traceId"] = json!(linked_trace);
    span["spanId"] = json!("00f067aa0ba902b8");
    live.call(admin, "post", "/v1/traces", "/v1/traces", Some(&request), 200)
        .await;
    for (key, revealed) in [(admin, true), (reader, false)] {
        let report = live
            .call(
                key,
                "get",
                &format!("/v1/traces/{linked_trace}"),
                "/v1/traces/{trace_id}",
                None,
                200,
            )
            .await;
        assert_eq!(report["content_revealed"], revealed, "{report}");
        let pipeline = &report["pipeline"];
        assert_eq!(pipeline["status"], "linked", "{report}");
        assert_eq!(pipeline["version"]["id"], examples::PIPELINE_VERSION_ID, "{report}");
        assert_eq!(pipeline["version"]["verified"], true, "{report}");
        assert!(pipeline["deployment"].is_object(), "{report}");
        assert_eq!(pipeline["proof_bundles"].as_array().map(Vec::len), Some(1), "{report}");
    }

    // Problems.
    live.call(
        admin,
        "get",
        "/v1/ledger/entries?start=5&end=1",
        "/v1/ledger/entries",
        None,
        400,
    )
    .await;
    let both = json!({"output": "a", "trace_id": trace_id});
    live.call(admin, "post", search, search, Some(&both), 400).await;
    let unknown_trace = "/v1/traces/00000000000000000000000000000001";
    live.call(admin, "get", unknown_trace, "/v1/traces/{trace_id}", None, 404)
        .await;
    live.call(
        admin,
        "get",
        "/v1/pipeline-versions/pv_00000000000000000000000000000000",
        "/v1/pipeline-versions/{id}",
        None,
        404,
    )
    .await;
    live.call(None, "get", "/v1/spans", "/v1/spans", None, 401).await;
    live.call(Some(&ingest_only), "get", "/v1/spans", "/v1/spans", None, 403)
        .await;

    // Forged index rows: the answers flag them, and the flags are documented too.
    server.exec_sql("UPDATE spans SET model = 'forged-model'").await;
    server
        .exec_sql("UPDATE governance SET body = REPLACE(body, 'support-rag-api', 'forged-api') WHERE kind = 'pipeline_version'")
        .await;
    server
        .exec_sql(
            "INSERT INTO output_index (tenant_id, digest, entry_idx) \
             SELECT DISTINCT o.tenant_id, o.digest, g.entry_idx FROM output_index o, governance g \
             WHERE g.kind = 'pipeline_version'",
        )
        .await;
    let spans = live.call(reader, "get", "/v1/spans", "/v1/spans", None, 200).await;
    assert_eq!(spans["spans"][0]["index_mismatch"], true, "{spans}");
    assert!(spans["index_mismatches"].is_array(), "{spans}");
    let path = "/v1/pipeline-versions";
    let versions = live.call(reader, "get", path, path, None, 200).await;
    assert_eq!(versions["records"][0]["index_mismatch"], true, "{versions}");
    assert!(versions["index_mismatches"].is_array(), "{versions}");
    let one = live
        .call(
            reader,
            "get",
            &format!("/v1/pipeline-versions/{}", examples::PIPELINE_VERSION_ID),
            "/v1/pipeline-versions/{id}",
            None,
            200,
        )
        .await;
    assert_eq!(one["index_mismatch"], true, "{one}");
    let by_output = searches
        .iter()
        .find(|selector| selector.get("output").is_some())
        .expect("an output example");
    let found = live.call(admin, "post", search, search, Some(by_output), 200).await;
    assert!(found["index_mismatches"].is_array(), "{found}");
    let report = found["results"]
        .as_array()
        .and_then(|results| results.iter().find(|report| report["trace_id"] == linked_trace))
        .expect("the linked trace is found");
    assert_eq!(report["verification"]["status"], "failed", "{report}");
    assert!(report["verification"]["index_mismatches"].is_array(), "{report}");
    assert_eq!(report["pipeline"]["version"]["index_mismatch"], true, "{report}");

    // Every documented JSON answer of every operation was checked on a real one.
    let mut unchecked = Vec::new();
    for (path, method, operation) in operations(doc) {
        for (status, response) in operation["responses"].as_object().expect("responses") {
            let code: u16 = status.parse().expect("status code");
            let json = resolve(doc, response)["content"]
                .as_object()
                .is_some_and(|content| content.contains_key("application/json"));
            if code < 300 && json && !live.checked.contains(&(method.clone(), path.clone(), code)) {
                unchecked.push(format!("{} {path} {code}", method.to_uppercase()));
            }
        }
    }
    assert!(
        unchecked.is_empty(),
        "documented JSON answers no real answer was checked against: {unchecked:?}"
    );
    server.stop().await;
}

/// The checker itself: it follows references, and refuses a missing, mistyped or
/// undocumented property, also in a nested object, while free-form objects stay free.
#[test]
fn contract_check_is_strict() {
    let contract = Contract::committed();
    let schema = |name: &str| json!({"$ref": format!("#/components/schemas/{name}")});
    let proof = examples::inclusion_proof();
    assert_eq!(contract.check(&schema("InclusionProof"), &proof), Vec::<String>::new());
    let mut extra = proof.clone();
    extra["note"] = json!("undocumented");
    assert_eq!(
        contract.check(&schema("InclusionProof"), &extra).len(),
        1,
        "undocumented property"
    );
    let mut mistyped = proof.clone();
    mistyped["index"] = json!("0");
    assert_eq!(
        contract.check(&schema("InclusionProof"), &mistyped).len(),
        1,
        "mistyped property"
    );
    let mut missing = proof;
    missing.as_object_mut().expect("object").remove("proof");
    assert_eq!(
        contract.check(&schema("InclusionProof"), &missing).len(),
        1,
        "missing property"
    );

    let page = examples::entry_page();
    assert_eq!(contract.check(&schema("EntryPage"), &page), Vec::<String>::new());
    let mut nested = page.clone();
    nested["entries"][0]["entry"]["extra"] = json!(1);
    assert_eq!(
        contract.check(&schema("EntryPage"), &nested).len(),
        1,
        "nested undocumented property"
    );
    let mut free_form = page;
    free_form["entries"][0]["entry"]["body"]["anything"] = json!({"at": "all"});
    assert_eq!(
        contract.check(&schema("EntryPage"), &free_form),
        Vec::<String>::new(),
        "an entry body is free-form"
    );
}

#[test]
fn response_examples_match_their_schemas() {
    let contract = Contract::committed();
    let doc = &contract.doc;
    for (path, method, operation) in operations(doc) {
        for (status, response) in operation["responses"].as_object().expect("responses") {
            let response = resolve(doc, response);
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
                    let errors = contract.check(&content["schema"], sample);
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
