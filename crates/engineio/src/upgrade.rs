//! WebSocket connections taken over from the HTTP layer. actix-http hands a
//! request with `Connection: upgrade` to an upgrade service together with
//! the raw connection (`switchyard_socketio::server::serve` installs one); from
//! then on no HTTP dispatcher holds the connection, so an idle WebSocket
//! keeps no 8 KiB read and write buffers, and outgoing frames go to the
//! socket in one vectored write straight from the bytes a broadcast shares.
//!
//! An [`Engine`](super::Engine) mounted in an actix-web app serves WebSockets
//! through the app as well (`Engine::configure`); this path is the lean one.
//!
//! Owns: the taken-over connection (handshake response, reader, vectored
//! writer). Must not touch: Engine.IO logic; the endpoint decides through
//! [`WsEndpoint`].

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};

use actix_codec::{Encoder, Framed, FramedParts};
use actix_http::body::{BodySize, MessageBody};
use actix_http::{Request, h1};
use actix_service::boxed::{self, BoxService};
use actix_service::{IntoServiceFactory, Service, ServiceFactory};
use actix_web::dev::{AppConfig, ServiceRequest, ServiceResponse, fn_service};
use actix_web::error::PayloadError;
use actix_web::{App, HttpRequest, HttpResponse};
use bytes::{Buf, Bytes, BytesMut};
use futures_util::future::LocalBoxFuture;
use futures_util::{SinkExt, Stream};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use super::sink::WsSink;

/// An Engine.IO endpoint that can take WebSocket connections over.
pub trait WsEndpoint: Send + Sync {
    /// Whether requests to `path` are this endpoint's.
    fn serves(&self, path: &str) -> bool;

    /// Runs the endpoint's checks and handshake for `req`: a connection to
    /// run, or the response that refuses it.
    fn upgrade(
        &self,
        req: HttpRequest,
    ) -> LocalBoxFuture<'static, Result<WsConnection, HttpResponse>>;
}

/// An accepted WebSocket: the `101` response, then the transport to start
/// on the connection's reading half.
pub struct WsConnection {
    response: HttpResponse,
    start: Box<dyn FnOnce(RawInput) -> WsSink>,
}

impl WsConnection {
    pub(super) fn new(response: HttpResponse, start: Box<dyn FnOnce(RawInput) -> WsSink>) -> Self {
        WsConnection { response, start }
    }
}

/// Serves one connection actix-http handed over with `head`: to the endpoint
/// whose path it names (404 for any other path). A connection that fails
/// is simply gone (its session hears so from its transport); nothing to report.
pub async fn serve_upgraded(
    endpoints: &[Arc<dyn WsEndpoint>],
    head: Request,
    framed: Framed<TcpStream, h1::Codec>,
) {
    let path = head.path().to_string();
    match handshake(endpoints, head, framed).await {
        // The connection lives on in a task of its own that holds only the
        // small `Writer`, so the HTTP dispatcher's task (about 3 KiB) ends here.
        Ok(Some(writer)) => drop(actix_web::rt::spawn(async move {
            if let Err(e) = writer.await {
                log::debug!("WebSocket to {path}: {e}");
            }
        })),
        Ok(None) => {}
        Err(e) => log::debug!("upgrade to {path}: {e}"),
    }
}

/// Answers the upgrade request: the `101` and a started transport with the
/// writer that feeds the client, or a refusal written and the connection closed.
async fn handshake(
    endpoints: &[Arc<dyn WsEndpoint>],
    head: Request,
    mut framed: Framed<TcpStream, h1::Codec>,
) -> io::Result<Option<Writer>> {
    let path = head.path().to_string();
    // The request's header values share the HTTP read buffer (8 KiB): the
    // request is moved into the endpoint's check and dropped with it, never
    // held for the connection's life.
    let req = http_request(head).await?;
    let outcome = match endpoints.iter().find(|e| e.serves(&path)) {
        Some(endpoint) => endpoint.upgrade(req).await,
        None => Err(HttpResponse::NotFound().finish()),
    };
    let conn = match outcome {
        Ok(conn) => conn,
        Err(res) => return refuse(framed, res).await.map(|()| None),
    };
    // The `101` is encoded here but written by the `Writer`, together with
    // what the session queues first (its open packet): one write and one
    // segment for the client to read instead of two.
    let (head, _) = actix_http::Response::from(conn.response).into_parts();
    let mut response = BytesMut::new();
    framed
        .codec_mut()
        .encode(h1::Message::Item((head, BodySize::None)), &mut response)?;
    // The HTTP codec and its buffers are dropped here. What the client sent
    // after its request head (its first frames, if it did not wait for the
    // 101) is the start of the WebSocket stream.
    let FramedParts { io, read_buf, .. } = framed.into_parts();
    let leftover = (!read_buf.is_empty()).then(|| read_buf.freeze());
    let (read, write) = io.into_split();
    let sink = (conn.start)(RawInput { leftover, read });
    Ok(Some(Writer {
        sink,
        write,
        batch: VecDeque::new(),
        response: Response::Unsent(response.freeze()),
    }))
}

/// An empty actix-web app whose one service answers with the request it was
/// given: how an `HttpRequest` is made from a bare actix-http `Request`.
type RequestService = BoxService<Request, ServiceResponse, actix_web::Error>;

thread_local! {
    /// One per worker thread, built on its first upgrade (the app is `!Send`).
    static REQUESTS: RefCell<Option<Rc<RequestService>>> = const { RefCell::new(None) };
}

/// The engine's checks take an actix-web `HttpRequest` (so does the
/// `allow_request` hook); actix-http hands over a bare `Request`. actix-web
/// offers no constructor for one outside its test helpers, so the request is
/// passed through an (empty) app, which builds it exactly as it does for
/// every request it serves: headers, peer address, connection info.
async fn http_request(head: Request) -> io::Result<HttpRequest> {
    let service = match REQUESTS.with(|s| s.borrow().clone()) {
        Some(service) => service,
        None => {
            let app = App::new().default_service(fn_service(|req: ServiceRequest| async {
                Ok(req.into_response(HttpResponse::Ok().finish()))
            }));
            let service = app
                .into_factory()
                .new_service(AppConfig::default())
                .await
                .map_err(|()| io::Error::other("building the request app failed"))?;
            let service = Rc::new(boxed::service(service));
            REQUESTS.with(|s| *s.borrow_mut() = Some(service.clone()));
            service
        }
    };
    let res = service
        .call(head)
        .await
        .map_err(|e| io::Error::other(e.to_string()))?;
    Ok(res.request().clone())
}

/// Writes a refusal (e.g. `400 {"code":1,...}`) and closes the connection.
async fn refuse(mut framed: Framed<TcpStream, h1::Codec>, res: HttpResponse) -> io::Result<()> {
    let (head, body) = actix_http::Response::from(res).into_parts();
    let body = body.try_into_bytes().unwrap_or_default();
    let size = BodySize::Sized(body.len() as u64);
    framed.send(h1::Message::Item((head, size))).await?;
    if !body.is_empty() {
        framed.send(h1::Message::Chunk(Some(body))).await?;
    }
    framed.send(h1::Message::Chunk(None)).await?;
    framed.into_parts().io.shutdown().await
}

/// Most chunks one vectored write takes.
const MAX_SLICES: usize = 64;

/// Moves what the sink holds to the socket, many chunks per write, until
/// the sink is closed and drained; then ends the sending direction.
struct Writer {
    sink: WsSink,
    write: OwnedWriteHalf,
    batch: VecDeque<Bytes>,
    response: Response,
}

/// Where the handshake's `101` response is.
enum Response {
    /// Not polled yet.
    Unsent(Bytes),
    /// Given one turn of the thread (see [`Writer::poll`]).
    Held(Bytes),
    /// In the batch, or written.
    Queued,
}

impl Future for Writer {
    type Output = io::Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match std::mem::replace(&mut this.response, Response::Queued) {
            Response::Unsent(response) => {
                // The transport has just told its session it opened; the
                // session (on this thread, its task queued before this one
                // now) queues the open packet when it runs. Waiting that one
                // turn lets both leave in one write. Only an ordering of
                // writes, never a condition: the `101` goes first either way.
                this.response = Response::Held(response);
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            Response::Held(response) => {
                this.batch.push_back(response);
                // What the session queued meanwhile joins it; nothing queued
                // is fine (the sink wakes this writer on its next push).
                let _ = this.sink.poll_drain(cx, &mut this.batch, MAX_SLICES - 1);
            }
            Response::Queued => {}
        }
        loop {
            if this.batch.is_empty() {
                if this.batch.capacity() > MAX_SLICES {
                    // A burst grew it; an idle connection does not keep that.
                    this.batch = VecDeque::new();
                }
                match this.sink.poll_drain(cx, &mut this.batch, MAX_SLICES) {
                    Poll::Ready(Some(())) => continue,
                    Poll::Ready(None) => return Pin::new(&mut this.write).poll_shutdown(cx),
                    Poll::Pending => return Poll::Pending,
                }
            }
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let n = this.batch.len().min(MAX_SLICES);
            for (slot, chunk) in slices.iter_mut().zip(this.batch.iter()) {
                *slot = IoSlice::new(chunk);
            }
            let written = match Pin::new(&mut this.write).poll_write_vectored(cx, &slices[..n]) {
                Poll::Ready(Ok(0)) => Err(io::ErrorKind::WriteZero.into()),
                Poll::Ready(result) => result,
                Poll::Pending => return Poll::Pending,
            };
            match written {
                Ok(n) => advance(&mut this.batch, n),
                Err(e) => {
                    // The client is gone; its reading half sees that and closes the session.
                    this.sink.abandon();
                    return Poll::Ready(Err(e));
                }
            }
        }
    }
}

/// Drops `n` written bytes from the front of `batch`.
fn advance(batch: &mut VecDeque<Bytes>, mut n: usize) {
    while n > 0 {
        let front = batch
            .front_mut()
            .expect("written bytes came from the batch");
        if n >= front.len() {
            n -= front.len();
            batch.pop_front();
        } else {
            front.advance(n);
            n = 0;
        }
    }
}

/// The reading half as the transport's input: each read copied into a
/// buffer of its own size, so an idle connection holds no read buffer.
pub struct RawInput {
    leftover: Option<Bytes>,
    read: OwnedReadHalf,
}

/// Largest single read.
const READ_CHUNK: usize = 8 * 1024;

impl Stream for RawInput {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(bytes) = self.leftover.take() {
            return Poll::Ready(Some(Ok(bytes)));
        }
        // Uninitialised: zeroing 8 KiB on every poll (most of them find
        // nothing, or one small frame) showed in the echo profile.
        let mut buf = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
        let mut read = ReadBuf::uninit(&mut buf);
        match Pin::new(&mut self.read).poll_read(cx, &mut read) {
            Poll::Ready(Ok(())) if read.filled().is_empty() => Poll::Ready(None),
            Poll::Ready(Ok(())) => Poll::Ready(Some(Ok(Bytes::copy_from_slice(read.filled())))),
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(PayloadError::Io(e)))),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(chunks: &[&'static [u8]]) -> VecDeque<Bytes> {
        chunks.iter().map(|c| Bytes::from_static(c)).collect()
    }

    #[test]
    fn advance_drops_whole_chunks_and_trims_a_partial_one() {
        let mut b = batch(&[b"abc", b"de", b"fgh"]);
        advance(&mut b, 4);
        assert_eq!(b, batch(&[b"e", b"fgh"]));
        advance(&mut b, 1);
        assert_eq!(b, batch(&[b"fgh"]));
        advance(&mut b, 3);
        assert!(b.is_empty());
    }
}
