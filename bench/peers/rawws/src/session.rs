//! One client connection after the handshake: its reader (frames in, answered through the
//! outbox or the rooms) and its writer (the outbox drained into the socket, batched, plus the
//! Engine.IO heartbeat), both in one task over the two halves of the TcpStream. Owns the
//! connection's life; the frame shapes are `packet.rs`'s, the membership `rooms.rs`'s.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use fastwebsockets::{Frame, OpCode, Payload, Role, WebSocketRead, WebSocketWrite};
use tokio::io::BufWriter;
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc::Receiver;
use tokio::time::Instant;

use crate::counters;
use crate::outbox::{self, Outbox};
use crate::packet::{self, Incoming};
use crate::rooms::Rooms;

/// Bytes the writer gathers before a write(2); frames queued together go out in one.
const WRITE_BUFFER: usize = 8 * 1024;
/// Frames taken from the outbox before the buffered ones are flushed.
const BATCH: usize = 64;

type Writer = WebSocketWrite<BufWriter<OwnedWriteHalf>>;

/// Serves connection number `conn` (handshake done) until either side ends it.
pub(crate) async fn serve(stream: TcpStream, rooms: Arc<Rooms>, conn: u64) {
    let (read, write) = stream.into_split();
    let (mut reader, mut writer) = fastwebsockets::after_handshake_split(
        read,
        BufWriter::with_capacity(WRITE_BUFFER, write),
        Role::Server,
    );
    // WebSocket pings and closes end or are ignored here rather than answered from the read
    // half (the load generator sends neither but a final close).
    reader.set_auto_pong(false);
    reader.set_auto_close(false);
    reader.set_max_message_size(packet::MAX_PAYLOAD);
    // Header and payload handed to the buffer as two slices: no staging copy.
    writer.set_writev_threshold(0);
    let (outbox, queued) = Outbox::new();
    outbox.push(packet::open(&format!("e{conn:015}")));
    let ponged = AtomicBool::new(true);
    let mut joined = Vec::new();
    tokio::select! {
        () = read_loop(&mut reader, conn, &outbox, &rooms, &ponged, &mut joined) => {}
        () = write_loop(&mut writer, queued, &ponged) => {}
    }
    rooms.leave_all(&joined, conn);
}

/// Answers the client's frames until it closes, breaks the protocol, or the socket fails.
async fn read_loop(
    reader: &mut WebSocketRead<OwnedReadHalf>,
    conn: u64,
    outbox: &Outbox,
    rooms: &Rooms,
    ponged: &AtomicBool,
    joined: &mut Vec<Bytes>,
) {
    // Never called: automatic pongs and closes are off.
    let mut obligated = |_| async { Ok::<(), Infallible>(()) };
    loop {
        let Ok(frame) = reader.read_frame(&mut obligated).await else {
            return;
        };
        match frame.opcode {
            OpCode::Text if frame.fin => {}
            OpCode::Ping | OpCode::Pong => continue,
            OpCode::Close => return,
            // Binary frames and fragments: not a shape of the scenarios.
            _ => {
                counters::IGNORED.add();
                return;
            }
        }
        // The payload is a slice of the read buffer; `Echo` sends this very buffer back.
        let text = match frame.payload {
            Payload::Bytes(bytes) => bytes.freeze(),
            other => Bytes::copy_from_slice(&other),
        };
        match packet::parse(&text) {
            Incoming::Pong => ponged.store(true, Ordering::Relaxed),
            Incoming::Connect => outbox.push(packet::connected(&format!("s{conn:015}"))),
            Incoming::Close => return,
            Incoming::Echo => outbox.push(text.clone()),
            Incoming::EchoAck { id, args } => outbox.push(packet::ack(id, args)),
            Incoming::Join { id, room } => {
                if rooms.join(room, conn, outbox) {
                    joined.push(Bytes::copy_from_slice(room));
                }
                if let Some(id) = id {
                    outbox.push(packet::ack_ok(id));
                }
            }
            Incoming::Fanout { id, room, payload } => {
                let frame = packet::fanout(payload);
                let full = rooms.broadcast(room, &frame);
                let deadline = Instant::now() + outbox::WAIT;
                for member in full {
                    member.push_by(frame.clone(), deadline).await;
                }
                if let Some(id) = id {
                    outbox.push(packet::ack_ok(id));
                }
            }
            Incoming::Other => counters::IGNORED.add(),
        }
    }
}

/// Writes the queued frames, a batch per write, and keeps the heartbeat: a ping every
/// interval, the session closed when its pong is not in within the timeout.
async fn write_loop(writer: &mut Writer, mut queued: Receiver<Bytes>, ponged: &AtomicBool) {
    let interval = Duration::from_millis(packet::PING_INTERVAL_MS);
    let mut next_ping = Instant::now() + interval;
    let mut awaiting_pong = false;
    // One timer for the connection's life, moved rather than created per wake-up.
    let timer = tokio::time::sleep_until(next_ping);
    tokio::pin!(timer);
    loop {
        tokio::select! {
            biased;
            frame = queued.recv() => {
                // The reader holds a sender until the session ends.
                let Some(frame) = frame else { return };
                if write(writer, &frame).await.is_err() {
                    return;
                }
                for _ in 1..BATCH {
                    let Ok(frame) = queued.try_recv() else { break };
                    if write(writer, &frame).await.is_err() {
                        return;
                    }
                }
                if writer.flush().await.is_err() {
                    return;
                }
            }
            () = &mut timer => {
                if awaiting_pong {
                    if !ponged.load(Ordering::Relaxed) {
                        counters::PING_TIMEOUTS.add();
                        return;
                    }
                    awaiting_pong = false;
                    timer.as_mut().reset(next_ping);
                } else {
                    ponged.store(false, Ordering::Relaxed);
                    if write(writer, &packet::PING).await.is_err() || writer.flush().await.is_err() {
                        return;
                    }
                    awaiting_pong = true;
                    let now = Instant::now();
                    next_ping = now + interval;
                    timer.as_mut().reset(now + Duration::from_millis(packet::PING_TIMEOUT_MS));
                }
            }
        }
    }
}

/// One text frame into the write buffer.
async fn write(writer: &mut Writer, text: &Bytes) -> Result<(), fastwebsockets::WebSocketError> {
    writer
        .write_frame(Frame::text(Payload::Borrowed(text)))
        .await
}
