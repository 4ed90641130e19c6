//! The admin UI itself: the files `@socket.io/admin-ui` ships in
//! `ui/dist` (without source maps), vendored in `vendor/admin-ui` and
//! served from memory, so it works without internet access. Its icon font,
//! which its `index.html` loads from jsDelivr, is vendored too (`@mdi/font`
//! 7.4.47: the stylesheet and its woff2; that one line of `index.html`
//! points at them), since its buttons are icons only; Roboto, from Google
//! Fonts, is left to fall back to the browser's sans-serif offline.
//! `index.html` refers to its files relatively (`js/...`, `css/...`), so it
//! works under any path.
//!
//! Owns: those routes. Must not touch: the admin namespace.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use switchyard_socketio::server::embedded_file;

/// The UI's files, as (path under the mount point, content type, contents).
const FILES: [(&str, &str, &[u8]); 10] = [
    (
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("../vendor/admin-ui/index.html"),
    ),
    (
        "favicon.png",
        "image/png",
        include_bytes!("../vendor/admin-ui/favicon.png"),
    ),
    (
        "js/app.0d7d7845.js",
        "application/javascript; charset=utf-8",
        include_bytes!("../vendor/admin-ui/js/app.0d7d7845.js"),
    ),
    (
        "js/chunk-vendors.934c03ff.js",
        "application/javascript; charset=utf-8",
        include_bytes!("../vendor/admin-ui/js/chunk-vendors.934c03ff.js"),
    ),
    (
        "css/app.6e3b9661.css",
        "text/css; charset=utf-8",
        include_bytes!("../vendor/admin-ui/css/app.6e3b9661.css"),
    ),
    (
        "css/chunk-vendors.9f55d012.css",
        "text/css; charset=utf-8",
        include_bytes!("../vendor/admin-ui/css/chunk-vendors.9f55d012.css"),
    ),
    (
        "css/materialdesignicons.min.css",
        "text/css; charset=utf-8",
        include_bytes!("../vendor/admin-ui/css/materialdesignicons.min.css"),
    ),
    (
        "fonts/materialdesignicons-webfont.woff2",
        "font/woff2",
        include_bytes!("../vendor/admin-ui/fonts/materialdesignicons-webfont.woff2"),
    ),
    (
        "img/logo-dark.3727fec5.svg",
        "image/svg+xml",
        include_bytes!("../vendor/admin-ui/img/logo-dark.3727fec5.svg"),
    ),
    (
        "img/logo-light.73342c25.svg",
        "image/svg+xml",
        include_bytes!("../vendor/admin-ui/img/logo-light.73342c25.svg"),
    ),
];

/// The vendored UI's version (`@socket.io/admin-ui` on npm), also its ETag.
pub const UI_VERSION: &str = include_str!("../vendor/admin-ui/VERSION");

/// Routes serving the admin UI under `path` (e.g. `/admin-ui`): the page
/// at `{path}/` (`{path}` redirects there, so that its relative links
/// resolve), its scripts, styles and images beside it.
///
/// ```no_run
/// use actix_web::{App, HttpServer};
///
/// # async fn f() -> std::io::Result<()> {
/// HttpServer::new(|| App::new().configure(switchyard_admin::ui::configure("/admin-ui")))
///     .bind("127.0.0.1:3000")?
///     .run()
///     .await
/// # }
/// ```
pub fn configure(path: &str) -> impl Fn(&mut web::ServiceConfig) + Clone + 'static {
    let base = path.trim_end_matches('/').to_string();
    move |cfg: &mut web::ServiceConfig| {
        let etag = format!("\"admin-ui-{}\"", UI_VERSION.trim());
        let page = format!("{base}/");
        cfg.route(
            &base,
            web::get().to(move || {
                let page = page.clone();
                async move {
                    HttpResponse::MovedPermanently()
                        .insert_header((header::LOCATION, page))
                        .finish()
                }
            }),
        );
        for (name, content_type, body) in FILES {
            let etag = etag.clone();
            let serve = move |req: HttpRequest| {
                let res = embedded_file(&req, &etag, content_type, body);
                async move { res }
            };
            if name == "index.html" {
                cfg.route(&format!("{base}/"), web::get().to(serve.clone()));
            }
            cfg.route(&format!("{base}/{name}"), web::get().to(serve));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::{App, test};

    #[actix_web::test]
    async fn the_page_and_its_files_are_served_under_the_path() {
        let app = test::init_service(App::new().configure(configure("/ops/admin/"))).await;
        let get = |uri: &str| test::TestRequest::get().uri(uri).to_request();
        let res = test::call_service(&app, get("/ops/admin")).await;
        assert_eq!(res.status(), 301);
        assert_eq!(res.headers().get(header::LOCATION).unwrap(), "/ops/admin/");
        let res = test::call_service(&app, get("/ops/admin/")).await;
        assert_eq!(res.status(), 200);
        let page = test::read_body(res).await;
        let page = std::str::from_utf8(&page).unwrap();
        assert!(page.contains("Socket.IO Admin UI"));
        // Every file the page names is served, relative to it.
        for linked in [
            "js/app.0d7d7845.js",
            "js/chunk-vendors.934c03ff.js",
            "css/app.6e3b9661.css",
            "css/materialdesignicons.min.css",
        ] {
            assert!(page.contains(&format!("\"{linked}\"")), "{linked}");
            let res = test::call_service(&app, get(&format!("/ops/admin/{linked}"))).await;
            assert_eq!(res.status(), 200, "{linked}");
        }
        // The icon font, where its stylesheet looks for it.
        let font = "/ops/admin/fonts/materialdesignicons-webfont.woff2?v=7.4.47";
        let res = test::call_service(&app, get(font)).await;
        assert_eq!(res.status(), 200);
        let res = test::call_service(&app, get("/ops/admin/js/app.0d7d7845.js.map")).await;
        assert_eq!(res.status(), 404);
    }
}
