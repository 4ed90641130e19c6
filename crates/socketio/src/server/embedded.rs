//! A file compiled into the binary, answered with its ETag so that a
//! browser revalidates with a 304: socket.io's client bundle here, the admin
//! UI's files in `switchyard-admin`. Owns that answer only, not the routes.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};

/// The answer to `req` for an embedded file: 304 when the request names
/// `etag` (quoted, as sent), else 200 with `body`, its type, the ETag and
/// `Cache-Control: public, max-age=0` (use it, but ask first).
pub fn embedded_file(
    req: &HttpRequest,
    etag: &str,
    content_type: &'static str,
    body: &'static [u8],
) -> HttpResponse {
    let fresh = req.headers().get(header::IF_NONE_MATCH);
    if fresh.is_some_and(|v| v.as_bytes() == etag.as_bytes()) {
        return HttpResponse::NotModified().finish();
    }
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::ETAG, etag.to_string()))
        .insert_header((header::CACHE_CONTROL, "public, max-age=0"))
        .body(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn the_body_with_its_etag_then_304_for_that_etag() {
        let req = TestRequest::get().to_http_request();
        let res = embedded_file(&req, "\"1.0\"", "text/plain", b"hi");
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers().get(header::ETAG).unwrap(), "\"1.0\"");
        let req = TestRequest::get()
            .insert_header((header::IF_NONE_MATCH, "\"1.0\""))
            .to_http_request();
        assert_eq!(
            embedded_file(&req, "\"1.0\"", "text/plain", b"hi").status(),
            304
        );
        let req = TestRequest::get()
            .insert_header((header::IF_NONE_MATCH, "\"0.9\""))
            .to_http_request();
        assert_eq!(
            embedded_file(&req, "\"1.0\"", "text/plain", b"hi").status(),
            200
        );
    }
}
