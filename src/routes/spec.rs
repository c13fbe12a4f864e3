//! The API contract, served from the binary: the OpenAPI file and a reference page built from it
//! with no network access.

use crate::reports::escape;
use actix_web::HttpResponse;
use serde_yaml_ng::Value;
use std::fmt::Write;
use std::sync::LazyLock;

/// `api-spec/openapi.yaml`, embedded at build time.
pub const OPENAPI_YAML: &str = include_str!("../../api-spec/openapi.yaml");

static REFERENCE_HTML: LazyLock<String> = LazyLock::new(|| render_reference(OPENAPI_YAML));

/// The OpenAPI 3.1 description.
pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok().content_type("application/yaml; charset=utf-8").body(OPENAPI_YAML)
}

/// A readable reference page of every endpoint.
pub async fn reference() -> HttpResponse {
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(REFERENCE_HTML.as_str())
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or("")
}

fn render_reference(yaml: &str) -> String {
    let spec: Value = match serde_yaml_ng::from_str(yaml) {
        Ok(spec) => spec,
        Err(error) => {
            return format!("<!doctype html><p>The API description cannot be read: {}</p>", escape(&error.to_string()));
        }
    };
    let info = spec.get("info").cloned().unwrap_or(Value::Null);
    let mut html = String::new();
    let _ = write!(
        html,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} — API reference</title><style>\
         body{{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}}\
         h2{{margin-top:2.5rem;border-bottom:1px solid #ccc}}section{{margin:1rem 0;padding:.75rem 1rem;border:1px solid #ddd;border-radius:6px}}\
         code,.m{{font-family:ui-monospace,monospace}}.m{{font-weight:700;display:inline-block;min-width:4.5rem}}\
         .GET{{color:#05603a}}.POST{{color:#1d4ed8}}.PATCH,.PUT{{color:#9a5b00}}.DELETE{{color:#b42318}}\
         table{{border-collapse:collapse}}td,th{{padding:.2rem .6rem;border-bottom:1px solid #eee;text-align:left}}</style></head><body>\
         <h1>{title} <small>{version}</small></h1><p>{description}</p><p>Machine-readable: <a href=\"/api-spec/openapi.yaml\">openapi.yaml</a></p>",
        title = escape(text(&info, "title")),
        version = escape(text(&info, "version")),
        description = escape(text(&info, "description")),
    );
    let Some(paths) = spec.get("paths").and_then(Value::as_mapping) else {
        return html;
    };
    for (path, item) in paths {
        let path = path.as_str().unwrap_or("");
        let _ = write!(html, "<h2><code>{}</code></h2>", escape(path));
        let Some(item) = item.as_mapping() else { continue };
        for (method, operation) in item {
            let method = method.as_str().unwrap_or("").to_uppercase();
            if !matches!(method.as_str(), "GET" | "POST" | "PUT" | "PATCH" | "DELETE") {
                continue;
            }
            let auth = match operation.get("security").and_then(Value::as_sequence) {
                Some(list) if list.is_empty() => "public".to_owned(),
                _ => operation
                    .get("x-required-role")
                    .and_then(Value::as_str)
                    .map_or("bearer token".to_owned(), |role| format!("bearer token, role: {role}")),
            };
            let _ = write!(
                html,
                "<section id=\"{id}\"><p><span class=\"m {method}\">{method}</span> <code>{path}</code> — {summary} <em>({auth})</em></p><p>{description}</p><table><tr><th>status</th><th>meaning</th></tr>",
                id = escape(text(operation, "operationId")),
                path = escape(path),
                summary = escape(text(operation, "summary")),
                description = escape(text(operation, "description")),
                auth = escape(&auth),
            );
            if let Some(responses) = operation.get("responses").and_then(Value::as_mapping) {
                for (status, response) in responses {
                    let status = match status {
                        Value::Number(n) => n.to_string(),
                        other => other.as_str().unwrap_or("").to_owned(),
                    };
                    let meaning = match response.get("$ref").and_then(Value::as_str) {
                        Some(reference) => reference.rsplit('/').next().unwrap_or("").to_owned(),
                        None => text(response, "description").to_owned(),
                    };
                    let _ = write!(html, "<tr><td>{}</td><td>{}</td></tr>", escape(&status), escape(&meaning));
                }
            }
            html.push_str("</table></section>");
        }
    }
    html.push_str("</body></html>");
    html
}
