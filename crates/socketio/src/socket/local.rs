//! This node's side of the cluster seam: the namespace's [`LocalSockets`]
//! implementation, through which an adapter applies what other nodes ask.
//! Everything it does is `local`, so nothing bounces back to the cluster.
//! Names no adapter and no wire format.

use std::sync::Weak;
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tokio::sync::{mpsc, oneshot};

use super::fetched::FetchedSocket;
use super::operator::BroadcastOperator;
use super::server_side::{ServerSideAck, ServerSideEvent};
use super::shared::{HandOver, Lost, NamespaceCore};
use switchyard_core::Payload;
use switchyard_core::{BroadcastOptions, LocalSockets, RecoverySession, SocketDetails};

/// One namespace's sockets on this node, as the other nodes reach them.
pub(crate) struct Local {
    pub(crate) core: Weak<NamespaceCore>,
    /// The namespace's recovery window, known before its core is.
    pub(crate) window: Option<Duration>,
}

impl Local {
    fn operator(&self, opts: &BroadcastOptions) -> Option<BroadcastOperator> {
        let core = self.core.upgrade()?;
        Some(BroadcastOperator::with_options(
            core,
            BroadcastOptions {
                local: true,
                ..opts.clone()
            },
        ))
    }
}

impl LocalSockets for Local {
    fn broadcast(
        &self,
        event: &str,
        payload: Payload,
        opts: &BroadcastOptions,
    ) -> BoxFuture<'static, ()> {
        let Some(op) = self.operator(opts) else {
            return async {}.boxed();
        };
        let event = event.to_string();
        async move {
            let _ = op.emit(&event, payload).await;
        }
        .boxed()
    }

    fn broadcast_at(
        &self,
        event: &str,
        payload: Payload,
        opts: &BroadcastOptions,
        offset: &str,
    ) -> BoxFuture<'static, ()> {
        let Some(op) = self.operator(opts) else {
            return async {}.boxed();
        };
        let (event, offset) = (event.to_string(), offset.to_string());
        async move {
            let _ = op.emit_at(&event, payload, offset).await;
        }
        .boxed()
    }

    fn recovery_window(&self) -> Option<Duration> {
        self.window
    }

    fn hand_over(&self, pid: &str) -> BoxFuture<'static, Option<RecoverySession>> {
        let Some(core) = self.core.upgrade() else {
            return async { None }.boxed();
        };
        let (reply, answer) = oneshot::channel();
        let pid = pid.to_string();
        async move {
            core.rooms
                .hand_over
                .send(HandOver { pid, reply })
                .await
                .ok()?;
            answer.await.ok()?
        }
        .boxed()
    }

    fn lost(&self) {
        if let Some(core) = self.core.upgrade() {
            // Bounded: once per loss the link saw, in order with the
            // broadcasts it delivers after it.
            core.rooms.lost.do_send(Lost);
        }
    }

    fn broadcast_with_ack(
        &self,
        event: &str,
        payload: Payload,
        opts: &BroadcastOptions,
        timeout: Duration,
    ) -> BoxFuture<'static, (usize, mpsc::UnboundedReceiver<Payload>)> {
        let Some(op) = self.operator(opts) else {
            return async { (0, mpsc::unbounded_channel().1) }.boxed();
        };
        let event = event.to_string();
        async move { op.timeout(timeout).start_ack(&event, payload).await }.boxed()
    }

    fn fetch(&self, opts: &BroadcastOptions) -> BoxFuture<'static, Vec<SocketDetails>> {
        let Some(op) = self.operator(opts) else {
            return async { Vec::new() }.boxed();
        };
        async move {
            let sockets = op
                .fetch_sockets()
                .await
                .unwrap_or_else(|e| e.into_partial());
            sockets.iter().map(FetchedSocket::details).collect()
        }
        .boxed()
    }

    fn sockets_rooms(
        &self,
        opts: &BroadcastOptions,
        rooms: Vec<String>,
        join: bool,
    ) -> BoxFuture<'static, ()> {
        let applied = match self.operator(opts) {
            Some(op) if join => op.sockets_join(rooms),
            Some(op) => op.sockets_leave(rooms),
            None => return async {}.boxed(),
        };
        async move {
            let _ = applied.await;
        }
        .boxed()
    }

    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) {
        if let Some(op) = self.operator(opts) {
            drop(op.disconnect_sockets(close));
        }
    }

    fn all_rooms(&self) -> BoxFuture<'static, Vec<String>> {
        let fetch = self.fetch(&BroadcastOptions::default());
        async move {
            let mut rooms: Vec<String> = fetch.await.into_iter().flat_map(|s| s.rooms).collect();
            rooms.sort();
            rooms.dedup();
            rooms
        }
        .boxed()
    }

    fn server_side_event(
        &self,
        name: String,
        payload: Payload,
        wants_ack: bool,
    ) -> Option<oneshot::Receiver<Payload>> {
        let core = self.core.upgrade()?;
        let to = core.server_side.for_event(&name)?;
        let (ack, answer) = if wants_ack {
            let (tx, rx) = oneshot::channel();
            (Some(ServerSideAck(tx)), Some(rx))
        } else {
            (None, None)
        };
        let event = ServerSideEvent {
            nsp: core.name.to_string(),
            name,
            payload,
            ack,
        };
        if to.try_send(event).is_err() {
            core.stats
                .listener_dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return None;
        }
        answer
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use serde_json::json;
    use switchyard_core::{Adapter, AdapterFactory, LocalNamespace};

    use std::collections::HashMap;

    use actix::prelude::*;

    use super::*;
    use crate::adapter::LocalAdapter;
    use crate::socket::server_side::ServerSideHandlers;
    use crate::socket::shared::NamespaceParts;

    /// Keeps the namespace's side of the seam, as a cluster adapter would.
    #[derive(Default)]
    struct Keep(Mutex<Option<LocalNamespace>>);

    impl AdapterFactory for Keep {
        fn create(&self, _: &str, local: LocalNamespace) -> Arc<dyn Adapter> {
            *self.0.lock().unwrap() = Some(local);
            Arc::new(LocalAdapter)
        }
    }

    /// Answers every server-side event with its own label and the event's name.
    struct Answer(&'static str);

    impl Actor for Answer {
        type Context = Context<Self>;
    }

    impl Handler<ServerSideEvent> for Answer {
        type Result = ();
        fn handle(&mut self, ev: ServerSideEvent, _: &mut Context<Self>) {
            if let Some(ack) = ev.ack {
                ack.send(json!([self.0, ev.name]));
            }
        }
    }

    /// What the handler of `name` answers, as another node asking through
    /// the adapter would get it.
    async fn answer(local: &LocalNamespace, name: &str) -> Option<Payload> {
        let rx = local.server_side_event(name.to_string(), Payload::default(), true)?;
        rx.await.ok()
    }

    #[test]
    fn an_event_goes_to_the_handler_of_its_name_else_the_catch_all() {
        actix::System::new().block_on(async {
            let handlers = |any: bool| ServerSideHandlers {
                by_name: HashMap::from([
                    ("ping".to_string(), Answer("ping").start().recipient()),
                    ("stats".to_string(), Answer("stats").start().recipient()),
                ]),
                any: any.then(|| Answer("any").start().recipient()),
            };
            for any in [true, false] {
                let keep = Keep::default();
                let parts = NamespaceParts {
                    adapters: &keep,
                    server_side: handlers(any),
                    limits: Default::default(),
                    recovery: None,
                    observers: Default::default(),
                    parser: Default::default(),
                };
                let _core = crate::rooms::start("/", parts);
                let local = keep
                    .0
                    .lock()
                    .unwrap()
                    .clone()
                    .expect("the adapter was made");
                let got = |label: &str, name: &str| Some(Payload::from(json!([label, name])));
                assert_eq!(answer(&local, "ping").await, got("ping", "ping"));
                assert_eq!(answer(&local, "stats").await, got("stats", "stats"));
                match any {
                    true => assert_eq!(answer(&local, "other").await, got("any", "other")),
                    false => assert_eq!(answer(&local, "other").await, None),
                }
            }
        });
    }
}
