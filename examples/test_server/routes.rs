//! The test server's actix-web routes under `/vr/`, answering plain HTTP
//! and Sails virtual requests alike (see tests/js/sails/virtual_requests.test.mjs
//! and tests/js/sails/api.test.mjs).

use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::{Next, from_fn};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use switchyard_sails::{RoomChange, SocketReq, Sockets};

/// Mounts every `/vr/` route on `cfg`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/vr")
            .route("/echo", web::route().to(echo))
            .route("/text", web::get().to(|| async { "hello" }))
            .route("/page", web::get().to(page))
            .route("/status/{code}", web::get().to(status))
            .route("/panic", web::get().to(panics))
            .route("/slow", web::get().to(slow))
            .route("/cookie", web::get().to(cookie))
            .route("/rooms/{room}/join", web::post().to(join))
            .route("/rooms/{room}/leave", web::post().to(leave))
            .route("/rooms/{room}/broadcast", web::post().to(broadcast))
            .service(
                web::scope("/guarded")
                    .wrap(from_fn(csrf))
                    .route("/echo", web::route().to(echo)),
            ),
    );
}

/// Everything the request carried, and whether it came over a socket.
async fn echo(req: HttpRequest, sock: SocketReq, body: web::Bytes) -> HttpResponse {
    let query: Map<String, Value> = url_pairs(req.query_string())
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    let headers: Map<String, Value> = req
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), json!(v.to_str().unwrap_or_default())))
        .collect();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    HttpResponse::Ok()
        .insert_header(("x-echo", "yes"))
        .json(json!({
            "method": req.method().as_str(),
            "path": req.path(),
            "query": query,
            "body": body,
            "headers": headers,
            "isSocket": sock.is_socket(),
            "socketId": sock.id(),
        }))
}

/// `a=1&b=x%20y` as decoded pairs.
fn url_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    web::Query::<Vec<(String, String)>>::from_query(query)
        .map(|q| q.into_inner())
        .unwrap_or_default()
        .into_iter()
}

/// An empty page on the server's origin, for browser tests to fill.
async fn page() -> HttpResponse {
    let html = "<!doctype html><html><head><meta charset=\"utf-8\"><title>test</title>\
                <link rel=\"icon\" href=\"data:,\"></head><body></body></html>";
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html)
}

async fn status(code: web::Path<u16>) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(*code)
        .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST);
    HttpResponse::build(status).json(json!({ "status": status.as_u16() }))
}

async fn panics() -> HttpResponse {
    panic!("this handler panics on purpose");
}

#[derive(Deserialize)]
struct Slow {
    ms: u64,
}

async fn slow(q: web::Query<Slow>) -> HttpResponse {
    let ms = q.ms.min(10_000);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    HttpResponse::Ok().json(json!({ "slept": ms }))
}

async fn cookie(req: HttpRequest) -> HttpResponse {
    let seen = req.headers().get("cookie").and_then(|v| v.to_str().ok());
    let fresh = uuid::Uuid::new_v4().simple().to_string();
    HttpResponse::Ok()
        .insert_header(("set-cookie", format!("vrsid={fresh}; Path=/")))
        .json(json!({ "cookie": seen }))
}

fn socket_only() -> HttpResponse {
    HttpResponse::BadRequest().json(json!({ "error": "socket requests only" }))
}

/// `?by=`: how a join or leave names the socket.
#[derive(Deserialize)]
struct By {
    #[serde(default)]
    by: String,
}

/// The caller joins or leaves `room`, named as `by` says: `id` (its id),
/// `socket` (its `SocketRef`), else the request itself (Sails'
/// `sails.sockets.join(req, room)`).
fn room_change(
    sock: &SocketReq,
    sockets: &Sockets,
    room: &str,
    by: &str,
    join: bool,
) -> RoomChange {
    match (by, join) {
        ("id", true) => sockets.join(sock.id(), room),
        ("id", false) => sockets.leave(sock.id(), room),
        ("socket", true) => sockets.join(sock.socket(), room),
        ("socket", false) => sockets.leave(sock.socket(), room),
        (_, true) => sockets.join(sock, room),
        (_, false) => sockets.leave(sock, room),
    }
}

async fn join(
    sock: SocketReq,
    sockets: Sockets,
    room: web::Path<String>,
    by: web::Query<By>,
) -> HttpResponse {
    if !sock.is_socket() {
        return socket_only();
    }
    match room_change(&sock, &sockets, &room, &by.by, true).await {
        Ok(()) => HttpResponse::Ok().json(json!({ "joined": *room })),
        Err(e) => HttpResponse::ServiceUnavailable().body(e.to_string()),
    }
}

async fn leave(
    sock: SocketReq,
    sockets: Sockets,
    room: web::Path<String>,
    by: web::Query<By>,
) -> HttpResponse {
    if !sock.is_socket() {
        return socket_only();
    }
    match room_change(&sock, &sockets, &room, &by.by, false).await {
        Ok(()) => HttpResponse::Ok().json(json!({ "left": *room })),
        Err(e) => HttpResponse::ServiceUnavailable().body(e.to_string()),
    }
}

/// A broadcast to the path's room and the `also` rooms: as `event`, or
/// without one as Sails' default event (`message`); the caller left out
/// with `omitSelf`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BroadcastBody {
    #[serde(default)]
    event: Option<String>,
    #[serde(default)]
    data: Value,
    #[serde(default)]
    omit_self: bool,
    #[serde(default)]
    also: Vec<String>,
}

async fn broadcast(
    sock: SocketReq,
    sockets: Sockets,
    room: web::Path<String>,
    body: web::Json<BroadcastBody>,
) -> HttpResponse {
    let body = body.into_inner();
    let sending = match (body.event, body.also.is_empty()) {
        // One room, as Sails' `broadcast('room', ...)`.
        (Some(event), true) => sockets.broadcast_event(room.as_str(), event, body.data),
        (None, true) => sockets.broadcast(room.as_str(), body.data),
        // Many, as `broadcast(['a', 'b'], ...)`.
        (event, false) => {
            let rooms: Vec<String> = std::iter::once(room.into_inner())
                .chain(body.also)
                .collect();
            match event {
                Some(event) => sockets.broadcast_event(rooms, event, body.data),
                None => sockets.broadcast(rooms, body.data),
            }
        }
    };
    let sending = match body.omit_self {
        true => sending.except(&sock),
        false => sending,
    };
    match sending.await {
        Ok(_) => HttpResponse::Ok().json(json!({ "sent": true })),
        Err(e) => HttpResponse::BadRequest().json(json!({ "error": e.to_string() })),
    }
}

/// One CSRF check for HTTP and socket requests alike: `x-csrf-token: secret`.
async fn csrf(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let token = req.headers().get("x-csrf-token");
    if token.is_some_and(|t| t.as_bytes() == b"secret") {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let refused = HttpResponse::Forbidden().json(json!({ "error": "invalid csrf token" }));
    Ok(req.into_response(refused).map_into_right_body())
}
