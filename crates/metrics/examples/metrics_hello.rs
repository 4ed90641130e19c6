//! Metrics and health routes on an app of your own, with Sails' virtual
//! requests counted by status: `cargo run -p switchyard-metrics --example
//! metrics_hello`, connect a socket.io client to localhost:3000, then
//! `curl localhost:9464/metrics` (loopback only) and `curl localhost:3000/readyz`.

use actix_web::{App, HttpResponse, HttpServer, web};
use switchyard_metrics::Metrics;
use switchyard_sails::{Sails, VirtualRequestConfig};
use switchyard_socketio::io::{SocketIo, SocketIoConfig};
use switchyard_socketio::namespace::NamespaceBuilder;

async fn hello() -> HttpResponse {
    HttpResponse::Ok().body("hello\n")
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let sails = Sails::new(VirtualRequestConfig::default());
    let io = SocketIo::builder(SocketIoConfig::default())
        .ns("/", sails.namespace(NamespaceBuilder::default()))
        .build();
    let metrics = Metrics::new(&io).with_sails(&sails);

    // The metrics on a listener of their own, on loopback: only this host scrapes them.
    let scrape = metrics.configure("/metrics");
    let metrics_server = HttpServer::new(move || App::new().configure(scrape.clone()))
        .workers(1)
        .bind("127.0.0.1:9464")?
        .run();

    // /healthz and /readyz on the app's own port, where orchestrators probe.
    let health = metrics.health();
    let app_server = HttpServer::new(move || {
        sails.app(
            App::new()
                .configure(io.configure("/socket.io/"))
                .configure(health.clone())
                .route("/hello", web::get().to(hello)),
        )
    })
    .bind("127.0.0.1:3000")?
    .run();
    serve_both(app_server, metrics_server).await
}

/// Serves both until either stops (Ctrl-C stops both: each server handles signals).
async fn serve_both(
    app: actix_web::dev::Server,
    metrics: actix_web::dev::Server,
) -> std::io::Result<()> {
    let (app, metrics) = tokio::join!(app, metrics);
    app.and(metrics)
}
