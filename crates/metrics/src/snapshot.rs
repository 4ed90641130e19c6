//! One scrape's worth of numbers, copied from the counters the layers keep
//! (engine stats, client and namespace counters, recovery, the adapter,
//! virtual requests, the admin UI) through their read-only snapshot APIs.
//!
//! Owns: gathering. Must not touch: any counter (it only reads), nor the
//! text format (`encode`).

use switchyard_admin::AdminCounters;
use switchyard_engineio::StatsSnapshot;
use switchyard_sails::{RequestCounters, Sails};
use switchyard_socketio::io::{ClientCounters, RecoveryCounters, SocketIo};
use switchyard_socketio::socket::{AdapterCounters, NamespaceCounters};

/// Everything one scrape shows.
#[derive(Debug, Clone, Default)]
pub(crate) struct Snapshot {
    pub engine: StatsSnapshot,
    pub clients: ClientCounters,
    pub namespaces: Vec<NamespaceSnapshot>,
    /// The node's link to the cluster. One set per node: every namespace's
    /// adapter shares it, so it is read once, from the main namespace.
    pub adapter: AdapterCounters,
    pub adapter_link_up: bool,
    /// Absent when the server does not serve virtual requests.
    pub requests: Option<RequestCounters>,
    /// Absent when the server has no admin UI.
    pub admin: Option<AdminCounters>,
}

/// One namespace's share.
#[derive(Debug, Clone, Default)]
pub(crate) struct NamespaceSnapshot {
    pub name: String,
    pub sockets: usize,
    /// Rooms sockets joined, own-id rooms left out.
    pub rooms: usize,
    pub counters: NamespaceCounters,
    pub recovery: RecoveryCounters,
}

impl Snapshot {
    /// Reads every layer now. Room and socket counts live in each
    /// namespace's room registry actor, hence the wait.
    pub async fn take(
        io: &SocketIo,
        sails: Option<&Sails>,
        admin: Option<AdminCounters>,
    ) -> Snapshot {
        let mut namespaces = Vec::new();
        for ns in io.namespaces() {
            let summary = ns.rooms().await;
            namespaces.push(NamespaceSnapshot {
                name: ns.name().to_string(),
                sockets: summary.sockets,
                rooms: summary.rooms.len(),
                counters: ns.counters(),
                recovery: ns.recovery_counters(),
            });
        }
        let main = io.main();
        Snapshot {
            engine: io.engine().stats().snapshot(),
            clients: io.client_counters(),
            namespaces,
            adapter: main.adapter_counters(),
            adapter_link_up: main.adapter_link_up(),
            requests: sails.map(Sails::counters),
            admin,
        }
    }
}
