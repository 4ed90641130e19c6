//! A Socket.IO server with socket.io's admin UI: `cargo run -p switchyard-admin --example
//! admin_ui`, then open http://127.0.0.1:3000/admin-ui/ with server URL
//! `http://127.0.0.1:3000` (no login: `Auth::None`, for a machine nobody else reaches), and
//! connect any socket.io client to `http://127.0.0.1:3000` to see it listed.

use actix_web::{App, HttpServer};
use switchyard_admin::{AdminConfig, Auth};
use switchyard_socketio::io::{SocketIo, SocketIoConfig};

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let config = AdminConfig {
        auth: Auth::None,
        ..AdminConfig::default()
    };
    let builder = SocketIo::builder(SocketIoConfig::default());
    let (builder, admin) =
        switchyard_admin::instrument(builder, config).map_err(std::io::Error::other)?;
    let io = builder.build();
    admin.attach(&io);
    println!("open http://127.0.0.1:3000/admin-ui/");
    HttpServer::new(move || {
        App::new()
            .configure(io.configure("/socket.io/"))
            .configure(switchyard_admin::ui::configure("/admin-ui"))
    })
    .bind("127.0.0.1:3000")?
    .run()
    .await
}
