//! The only place that names actix: the route table, middleware and handlers, a file per resource.

pub mod app;
pub mod areas;
pub mod audit;
pub mod auth;
pub mod body;
pub mod client;
pub mod common;
pub mod dashboard;
pub mod devices;
pub mod documents;
pub mod embedded;
pub mod feedback;
pub mod followup;
pub mod health;
pub mod home;
pub mod indicators;
pub mod json;
pub mod me;
pub mod middleware;
pub mod organisation;
pub mod params;
pub mod photos;
pub mod picture;
pub mod plan;
pub mod records;
pub mod reference;
pub mod reports;
pub mod retention;
pub mod spec;
pub mod sync;
pub mod tiles;
pub mod units;
pub mod users;

use crate::error::{ApiError, ApiResult};
use actix_web::http::Method;
use actix_web::{HttpRequest, guard, web};

/// Declares the route table once: it registers the handlers and lists itself in `ROUTES`, which
/// the fallback uses for 405 answers and the tests compare with `api-spec/openapi.yaml`.
macro_rules! route_table {
    ($( $method:ident $path:literal => $handler:path ),* $(,)?) => {
        /// Every route as (method, path pattern).
        pub const ROUTES: &[(&str, &str)] = &[ $( (stringify!($method), $path) ),* ];

        fn register(cfg: &mut web::ServiceConfig) {
            $( {
                let route = web::method(Method::$method);
                // Only a pattern some more literal route could take a path from checks each
                // request (`/api/v1/areas/{code}` against `/api/v1/areas/jobs`, say).
                let route = if can_be_shadowed($path) {
                    route.guard(guard::fn_guard(|ctx| !shadowed($path, ctx.head().uri.path())))
                } else {
                    route
                };
                cfg.route($path, route.to($handler));
            } )*
        }
    };
}

route_table! {
    GET "/" => home::index,
    GET "/healthz" => health::healthz,
    GET "/readyz" => health::readyz,
    GET "/metrics" => health::metrics,
    GET "/api-spec/openapi.yaml" => spec::openapi,
    GET "/api-docs" => spec::reference,
    GET "/app" => app::redirect,
    GET "/app/" => app::index,
    GET "/app/{asset}" => app::asset,
    GET "/dashboard" => dashboard::redirect,
    GET "/dashboard/" => dashboard::index,
    GET "/dashboard/config.json" => dashboard::config,
    GET "/dashboard/{asset}" => dashboard::asset,
    GET "/common/{asset}" => common::asset,
    GET "/tiles/{z}/{x}/{y}" => tiles::tile,

    POST "/api/v1/auth/login" => auth::login,
    POST "/api/v1/auth/refresh" => auth::refresh,
    POST "/api/v1/auth/logout" => auth::logout,
    GET "/api/v1/me" => me::get,
    PATCH "/api/v1/me/device" => me::label_device,

    GET "/api/v1/organisation" => organisation::get,
    PATCH "/api/v1/organisation" => organisation::update,

    GET "/api/v1/users" => users::list,
    POST "/api/v1/users" => users::create,
    GET "/api/v1/users/{id}" => users::get,
    PATCH "/api/v1/users/{id}" => users::update,
    GET "/api/v1/users/{id}/areas" => picture::shared_areas,
    PUT "/api/v1/users/{id}/areas" => picture::share_areas,

    GET "/api/v1/units" => units::list,
    POST "/api/v1/units" => units::create,
    GET "/api/v1/units/{id}" => units::get,
    PATCH "/api/v1/units/{id}" => units::update,

    GET "/api/v1/categories" => reference::list_categories,
    POST "/api/v1/categories" => reference::create_category,
    PATCH "/api/v1/categories/{id}" => reference::update_category,
    GET "/api/v1/activity-types" => reference::list_activity_types,
    POST "/api/v1/activity-types" => reference::create_activity_type,
    PATCH "/api/v1/activity-types/{id}" => reference::update_activity_type,

    GET "/api/v1/sync/info" => sync::info,
    GET "/api/v1/sync/pull" => sync::pull,
    POST "/api/v1/sync/push" => sync::push,
    GET "/api/v1/sync/quarantine" => sync::quarantine,

    GET "/api/v1/observations" => records::list_observations,
    POST "/api/v1/observations/review" => records::review_observations,
    GET "/api/v1/observations/{id}" => records::get_observation,
    PATCH "/api/v1/observations/{id}" => records::review_observation,
    GET "/api/v1/observations/{id}/history" => records::observation_history,
    GET "/api/v1/observations/{id}/attachments" => photos::of_observation,
    GET "/api/v1/attachments/{id}/photo" => photos::photo,
    GET "/api/v1/attachments/{id}/thumbnail" => photos::thumbnail,
    GET "/api/v1/uploads/{sha256}" => photos::upload_status,
    PUT "/api/v1/uploads/{sha256}" => photos::upload_chunk,
    GET "/api/v1/activities" => records::list_activities,
    GET "/api/v1/activities/{id}" => records::get_activity,
    GET "/api/v1/activities/{id}/history" => records::activity_history,

    GET "/api/v1/areas" => areas::list,
    POST "/api/v1/areas" => areas::import,
    GET "/api/v1/areas/jobs" => areas::jobs,
    DELETE "/api/v1/areas/{code}" => areas::delete,
    GET "/api/v1/heatmap" => picture::heatmap,
    GET "/api/v1/picture" => picture::picture,
    GET "/api/v1/picture/weekly" => plan::weekly_picture,
    GET "/api/v1/areas/{code}/picture" => picture::area_picture,

    GET "/api/v1/reports/activity" => reports::activity,
    GET "/api/v1/reports/followup" => followup::report,
    GET "/api/v1/reports/followup/{period}/assessment" => followup::get_assessment,
    PUT "/api/v1/reports/followup/{period}/assessment" => followup::set_assessment,
    GET "/api/v1/exports/observations" => reports::observations,
    GET "/api/v1/audit" => audit::list,
    GET "/api/v1/indicators" => indicators::list,
    POST "/api/v1/indicators" => indicators::create,
    GET "/api/v1/indicators/{id}" => indicators::get,
    PATCH "/api/v1/indicators/{id}" => indicators::update,
    PUT "/api/v1/indicators/{id}/values/{year}" => indicators::put_values,
    DELETE "/api/v1/indicators/{id}/values/{year}" => indicators::delete_values,

    GET "/api/v1/problems" => plan::list_problems,
    POST "/api/v1/problems" => plan::create_problem,
    GET "/api/v1/problems/{id}" => plan::get_problem,
    PATCH "/api/v1/problems/{id}" => plan::update_problem,
    GET "/api/v1/problems/{id}/history" => plan::problem_history,
    GET "/api/v1/measures" => plan::list_measures,
    POST "/api/v1/measures" => plan::create_measure,
    GET "/api/v1/measures/{id}" => plan::get_measure,
    PATCH "/api/v1/measures/{id}" => plan::update_measure,
    GET "/api/v1/measures/{id}/history" => plan::measure_history,
    GET "/api/v1/measures/{id}/effort" => plan::measure_effort,
    GET "/api/v1/measures/{id}/effect" => plan::measure_effect,
    GET "/api/v1/documents" => documents::list,
    POST "/api/v1/documents" => documents::approve,
    POST "/api/v1/documents/preview" => documents::preview,
    GET "/api/v1/documents/{id}" => documents::get,
    GET "/api/v1/documents/{id}/file" => documents::file,
    GET "/api/v1/feedback" => feedback::list,
    POST "/api/v1/feedback" => feedback::create,
    GET "/api/v1/feedback/{id}" => feedback::get,
    PATCH "/api/v1/feedback/{id}" => feedback::update,
    DELETE "/api/v1/feedback/{id}" => feedback::delete,

    GET "/api/v1/retention" => retention::get,
    PATCH "/api/v1/retention" => retention::update,
    POST "/api/v1/retention/run" => retention::run,

    GET "/api/v1/devices" => devices::list,
    POST "/api/v1/devices/{id}/revoke" => devices::revoke,
}

/// Registers every route and the fallback for unknown routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    register(cfg);
    cfg.app_data(web::QueryConfig::default().error_handler(|error, _| {
        ApiError::BadRequest { code: "invalid_query", detail: format!("the query string cannot be read: {error}") }
            .into()
    }));
    cfg.default_service(web::to(fallback));
}

/// Unknown routes get 404 `route_not_found`, known routes with another method 405, with or
/// without a token.
async fn fallback(req: HttpRequest) -> ApiResult<actix_web::HttpResponse> {
    let allowed: Vec<&str> = ROUTES
        .iter()
        .filter(|(_, pattern)| path_matches(pattern, req.path()) && !shadowed(pattern, req.path()))
        .map(|(method, _)| *method)
        .collect();
    Err(if allowed.is_empty() {
        ApiError::RouteNotFound(req.path().to_owned())
    } else {
        ApiError::MethodNotAllowed { method: req.method().to_string(), allow: allowed.join(", ") }
    })
}

/// Whether a path that fits `pattern` belongs to a more literal route instead, as OpenAPI reads
/// paths: `/api/v1/areas/jobs` is the jobs resource for every method, never the area `jobs`.
fn shadowed(pattern: &str, path: &str) -> bool {
    let parameters = |pattern: &str| pattern.matches('{').count();
    ROUTES.iter().any(|(_, other)| parameters(other) < parameters(pattern) && path_matches(other, path))
}

/// Whether some route with fewer parameters could fit the paths `pattern` fits: one with as many
/// segments whose every literal segment is where `pattern` has the same literal or a parameter.
fn can_be_shadowed(pattern: &str) -> bool {
    let parameters = |pattern: &str| pattern.matches('{').count();
    ROUTES.iter().any(|(_, other)| {
        parameters(other) < parameters(pattern)
            && other.split('/').count() == pattern.split('/').count()
            && other.split('/').zip(pattern.split('/')).all(|(o, p)| o == p || (p.starts_with('{') && !o.is_empty()))
    })
}

/// Whether a concrete path fits a pattern such as `/api/v1/users/{id}`.
pub fn path_matches(pattern: &str, path: &str) -> bool {
    let mut pattern_parts = pattern.split('/');
    let mut path_parts = path.split('/');
    loop {
        match (pattern_parts.next(), path_parts.next()) {
            (None, None) => return true,
            (Some(p), Some(s)) if p.starts_with('{') && p.ends_with('}') && !s.is_empty() => {}
            (Some(p), Some(s)) if p == s => {}
            _ => return false,
        }
    }
}
