//! One route for HTTP and sockets, on an actix-web app of your own:
//! `cargo run -p switchyard-sails --example sails_hello`, then `curl localhost:3000/hello`
//! or, from sails.io.js, `io.socket.get('/hello', (body, jwr) => ...)`.

use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::json;
use switchyard_sails::{Sails, SocketReq, Sockets, VirtualRequestConfig};
use switchyard_socketio::io::{SocketIo, SocketIoConfig};
use switchyard_socketio::namespace::NamespaceBuilder;

async fn hello(req: SocketReq) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "hello": "world", "isSocket": req.is_socket() }))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let sails = Sails::new(VirtualRequestConfig::default());
    let root = sails.namespace(NamespaceBuilder::default());
    let io = SocketIo::builder(SocketIoConfig::default())
        .ns("/", root)
        .build();
    HttpServer::new(move || {
        sails.app(
            App::new()
                .app_data(Sockets::new(io.main()))
                .configure(io.configure("/socket.io/"))
                .route("/hello", web::get().to(hello)),
        )
    })
    .bind("127.0.0.1:3000")?
    .run()
    .await
}
