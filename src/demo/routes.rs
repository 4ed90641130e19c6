//! The chat demo's routes: ordinary actix-web handlers that the page calls
//! with `io.socket` virtual requests and that also answer plain HTTP. They
//! translate between requests and the [`Store`](super::store::Store), and
//! tell the channels through [`Sockets`].

use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::error::InternalError;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde::Deserialize;
use serde_json::json;

use super::store::{Author, ChatError};
use super::{Demo, room};
use switchyard_sails::{SocketReq, Sockets};

impl ResponseError for ChatError {
    fn status_code(&self) -> StatusCode {
        match self {
            ChatError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ChatError::NoNick => StatusCode::UNAUTHORIZED,
            ChatError::NotJoined => StatusCode::FORBIDDEN,
            ChatError::NotFound(_) => StatusCode::NOT_FOUND,
            ChatError::Conflict(_) => StatusCode::CONFLICT,
            ChatError::TooFast => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code()).json(json!({ "error": self.to_string() }))
    }
}

type Answer = Result<HttpResponse, ChatError>;

/// Mounts the demo's routes; a body that is not the JSON a route wants is
/// answered 400 `{error}` like every other refusal.
pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    let json = web::JsonConfig::default().error_handler(|err, _| {
        let body = json!({ "error": err.to_string() });
        InternalError::from_response(err, HttpResponse::BadRequest().json(body)).into()
    });
    cfg.app_data(json)
        .route("/me", web::put().to(set_nick))
        .route("/channels", web::get().to(channels))
        .route("/channels", web::post().to(create))
        .route("/channels/{name}/join", web::post().to(join))
        .route("/channels/{name}/leave", web::post().to(leave))
        .route("/channels/{name}/members", web::get().to(members))
        .route("/channels/{name}/messages", web::get().to(messages))
        .route("/channels/{name}/messages", web::post().to(post))
        .route("/users/{nick}/messages", web::post().to(private));
}

fn now() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    since.as_millis() as u64
}

/// The socket id of a socket request; plain HTTP is refused.
fn socket_id(req: &SocketReq) -> Result<&str, ChatError> {
    req.id()
        .ok_or(ChatError::BadRequest("socket requests only"))
}

#[derive(Deserialize)]
struct Nick {
    nick: String,
}

async fn set_nick(
    req: SocketReq,
    sockets: Sockets,
    demo: web::Data<Demo>,
    body: web::Json<Nick>,
) -> Answer {
    let id = socket_id(&req)?;
    let (nick, renamed_in) = demo.store().set_nick(id, &body.nick)?;
    for channel in renamed_in {
        demo.presence(&sockets, &channel).await;
    }
    Ok(HttpResponse::Ok().json(json!({ "nick": nick, "id": id })))
}

async fn channels(demo: web::Data<Demo>) -> HttpResponse {
    HttpResponse::Ok().json(demo.store().channels())
}

#[derive(Deserialize)]
struct NewChannel {
    name: String,
}

async fn create(sockets: Sockets, demo: web::Data<Demo>, body: web::Json<NewChannel>) -> Answer {
    let list = {
        let mut store = demo.store();
        store.create(&body.name)?;
        store.channels()
    };
    let _ = sockets.blast_event("channels", json!(list)).await;
    Ok(HttpResponse::Created().json(json!({ "name": body.name })))
}

async fn join(
    req: SocketReq,
    sockets: Sockets,
    demo: web::Data<Demo>,
    name: web::Path<String>,
) -> Answer {
    let id = socket_id(&req)?;
    let (members, messages) = {
        let mut store = demo.store();
        store.join(id, &name)?;
        (store.members(&name)?, store.messages(&name)?)
    };
    // In the room before anyone hears of it, so the next message reaches it.
    let _ = sockets.join(id, room(&name)).await;
    demo.presence(&sockets, &name).await;
    let answer = json!({ "name": *name, "members": members, "messages": messages });
    Ok(HttpResponse::Ok().json(answer))
}

async fn leave(
    req: SocketReq,
    sockets: Sockets,
    demo: web::Data<Demo>,
    name: web::Path<String>,
) -> Answer {
    let id = socket_id(&req)?;
    demo.store().leave(id, &name)?;
    let _ = sockets.leave(id, room(&name)).await;
    demo.presence(&sockets, &name).await;
    Ok(HttpResponse::Ok().json(json!({ "name": *name })))
}

async fn members(demo: web::Data<Demo>, name: web::Path<String>) -> Answer {
    Ok(HttpResponse::Ok().json(demo.store().members(&name)?))
}

async fn messages(demo: web::Data<Demo>, name: web::Path<String>) -> Answer {
    Ok(HttpResponse::Ok().json(demo.store().messages(&name)?))
}

#[derive(Deserialize)]
struct Post {
    text: String,
    /// Plain HTTP only: who posts.
    #[serde(default)]
    nick: String,
}

async fn post(
    http: HttpRequest,
    req: SocketReq,
    sockets: Sockets,
    demo: web::Data<Demo>,
    name: web::Path<String>,
    body: web::Json<Post>,
) -> Answer {
    let ip: Option<IpAddr> = http.peer_addr().map(|a| a.ip());
    let author = match req.id() {
        Some(id) => Author::Socket(id),
        None => Author::Http {
            nick: &body.nick,
            ip,
        },
    };
    let message = demo.store().post(author, &name, &body.text, now())?;
    let _ = sockets
        .broadcast(room(&name), json!(message))
        .except(&req)
        .await;
    Ok(HttpResponse::Created().json(message))
}

#[derive(Deserialize)]
struct Text {
    text: String,
}

async fn private(
    req: SocketReq,
    sockets: Sockets,
    demo: web::Data<Demo>,
    to: web::Path<String>,
    body: web::Json<Text>,
) -> Answer {
    let id = socket_id(&req)?;
    let (message, target) = demo.store().private(id, &to, &body.text, now())?;
    let _ = sockets
        .broadcast_event(target, "private", json!(message))
        .await;
    Ok(HttpResponse::Created().json(message))
}
