//! socket.io-client's browser bundle, vendored from npm (see
//! `scripts/refresh-socket-io-client.sh`) and served beside the endpoint as
//! socket.io's `serveClient` does. Owns those routes only.

use actix_web::{HttpRequest, web};

use super::embedded::embedded_file;

/// The bundles, as (file name, contents).
const CLIENT_BUNDLES: [(&str, &str); 3] = [
    (
        "socket.io.js",
        include_str!("../../vendor/socket.io-client/socket.io.js"),
    ),
    (
        "socket.io.min.js",
        include_str!("../../vendor/socket.io-client/socket.io.min.js"),
    ),
    (
        "socket.io.esm.min.js",
        include_str!("../../vendor/socket.io-client/socket.io.esm.min.js"),
    ),
];

/// The vendored client's version, which is also its ETag.
const CLIENT_VERSION: &str = include_str!("../../vendor/socket.io-client/VERSION");

/// Routes serving socket.io's browser client under `path`
/// (`{path}socket.io.js`, `.min.js`, `.esm.min.js`), with socket.io's ETag
/// (the version) so a browser revalidates with a 304.
pub fn client_bundle(path: &str) -> impl Fn(&mut web::ServiceConfig) + Clone + 'static {
    let base = path.to_string();
    move |cfg: &mut web::ServiceConfig| {
        for (name, body) in CLIENT_BUNDLES {
            let etag = format!("\"{}\"", CLIENT_VERSION.trim());
            cfg.route(
                &format!("{base}{name}"),
                web::get().to(move |req: HttpRequest| {
                    let type_ = "application/javascript; charset=utf-8";
                    let res = embedded_file(&req, &etag, type_, body.as_bytes());
                    async move { res }
                }),
            );
        }
    }
}
