//! One node of a cluster over Redis: run two on different ports against one
//! Redis and a broadcast from either reaches the sockets of both.
//! `cargo run -p switchyard-redis --example redis_cluster_node -- redis://127.0.0.1:6379 3000`
//! (and `... 3001`); a client's `shout` event goes to everyone on every node.

use actix::prelude::*;
use actix_web::{App, HttpServer};
use switchyard_redis::{RedisAdapter, RedisConfig};
use switchyard_socketio::io::{SocketIo, SocketIoConfig};
use switchyard_socketio::namespace::NamespaceBuilder;
use switchyard_socketio::socket::Event;

struct Shout;

impl Actor for Shout {
    type Context = Context<Self>;
}

impl Handler<Event> for Shout {
    type Result = ();
    fn handle(&mut self, ev: Event, _: &mut Context<Self>) {
        let all = ev.socket.namespace();
        actix::spawn(async move {
            let _ = all.emit("shout", ev.payload).await;
        });
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "redis://127.0.0.1:6379".into());
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(3000);
    let redis = RedisAdapter::connect(RedisConfig::new(url))
        .await
        .map_err(std::io::Error::other)?;
    let ns = NamespaceBuilder::default().on_event(Shout.start().recipient());
    let io = SocketIo::builder(SocketIoConfig::default())
        .adapter(redis)
        .ns("/", ns)
        .build();
    HttpServer::new(move || App::new().configure(io.configure("/socket.io/")))
        .bind(("127.0.0.1", port))?
        .run()
        .await
}
