//! `GET /`: a small page that says what this server is and links its three doors: the field app,
//! the dashboard and the API reference.

use actix_web::HttpResponse;

const HOME_HTML: &str = r#"<!doctype html>
<html lang="sv">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="dark light">
<title>Lägesbild</title>
<link rel="icon" href="/app/icon.svg" type="image/svg+xml">
<style>
body{font:17px/1.5 system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem}
h1{margin-bottom:.25rem}p{margin-top:0}
ul{list-style:none;padding:0;display:grid;gap:.75rem}
a{display:block;padding:.9rem 1rem;border:2px solid currentColor;border-radius:10px;font-weight:700;text-decoration:none}
a span{display:block;font-weight:400;font-size:.9rem}
</style>
</head>
<body>
<main>
<h1>Lägesbild</h1>
<p>Den gemensamma lägesbilden för trygghetsarbetet. <span lang="en">The shared situational picture for municipal safety work.</span></p>
<ul>
<li><a href="/app/">Fältappen<span>Rapportera observationer och aktiviteter från telefonen, även utan täckning.</span></a></li>
<li><a href="/dashboard/">Samordning<span>Värmekarta, områden, granskning och export.</span></a></li>
<li><a href="/api-docs" lang="en">API reference<span>Every endpoint, and the sync protocol for app developers.</span></a></li>
</ul>
</main>
</body>
</html>
"#;

/// `GET /`
pub async fn index() -> HttpResponse {
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(HOME_HTML)
}
