//! The HTTP side: `/metrics` (Prometheus text), `/healthz` and `/readyz`
//! as actix-web routes for any App.
//!
//! Owns: the routes, their status codes and bodies. Must not touch: what
//! the numbers are (`snapshot`, `encode`).

use actix_web::{HttpResponse, web};

use crate::Metrics;

/// The content type of Prometheus' text format.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

pub(crate) async fn metrics(metrics: web::Data<Metrics>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(TEXT_FORMAT)
        .body(metrics.render().await)
}

pub(crate) async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok\n")
}

pub(crate) async fn readyz(metrics: web::Data<Metrics>) -> HttpResponse {
    match metrics.readiness() {
        Ok(()) => HttpResponse::Ok()
            .content_type("text/plain")
            .body("ready\n"),
        Err(not_ready) => HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body(format!("not ready: {not_ready}\n")),
    }
}
