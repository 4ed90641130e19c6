//! A [`Snapshot`] as Prometheus metric families: a `prometheus-client`
//! collector, so names, types, units and escaping follow its encoder.
//! Every name starts `switchyard_`; counters end `_total`, byte counts
//! `_bytes_total`.
//!
//! Owns: the names, help texts and labels. Must not touch: where the
//! numbers come from (`snapshot`).

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};

use crate::snapshot::{NamespaceSnapshot, Snapshot};
use switchyard_engineio::SessionCounts;

/// The snapshot in Prometheus text format (0.0.4).
pub(crate) fn text(snapshot: Snapshot) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(SnapshotCollector(snapshot)));
    let mut out = String::new();
    prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)
        .expect("writing to a String cannot fail");
    out
}

#[derive(Debug)]
struct SnapshotCollector(Snapshot);

/// One metric family being written, one labelled sample at a time.
struct Family<'a>(MetricEncoder<'a>);

/// Starts a family: `name` without its `_total` or unit suffix.
fn family<'a>(
    encoder: &'a mut DescriptorEncoder<'_>,
    name: &'a str,
    help: &str,
    unit: Option<&'a Unit>,
    kind: MetricType,
) -> Result<Family<'a>, std::fmt::Error> {
    Ok(Family(encoder.encode_descriptor(name, help, unit, kind)?))
}

impl Family<'_> {
    fn counter(&mut self, labels: &impl EncodeLabelSet, value: u64) -> std::fmt::Result {
        ConstCounter::new(value).encode(self.0.encode_family(labels)?)
    }

    fn gauge(&mut self, labels: &impl EncodeLabelSet, value: i64) -> std::fmt::Result {
        ConstGauge::new(value).encode(self.0.encode_family(labels)?)
    }
}

/// A family with one unlabelled counter.
fn counter(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: u64,
) -> std::fmt::Result {
    let metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    ConstCounter::new(value).encode(metric)
}

/// A family with one unlabelled gauge.
fn gauge(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: i64,
) -> std::fmt::Result {
    let metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    ConstGauge::new(value).encode(metric)
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Collector for SnapshotCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> std::fmt::Result {
        let s = &self.0;
        engine(&mut e, s)?;
        namespaces(&mut e, s)?;
        refusals(&mut e, s)?;
        adapter(&mut e, s)?;
        if let Some(requests) = &s.requests {
            let mut f = family(
                &mut e,
                "switchyard_virtual_requests",
                "Sails virtual requests answered, by HTTP status (refusals included)",
                None,
                MetricType::Counter,
            )?;
            for (status, n) in &requests.by_status {
                f.counter(&[("status", status.to_string())], *n)?;
            }
        }
        if let Some(admin) = &s.admin {
            let mut f = family(
                &mut e,
                "switchyard_admin_dropped",
                "Admin UI messages dropped: its feed's outbox was full (outbox), event counts left out of aggregatedEvents (events)",
                None,
                MetricType::Counter,
            )?;
            f.counter(&[("what", "outbox")], admin.outbox_dropped)?;
            f.counter(&[("what", "events")], admin.events_dropped)?;
            counter(
                &mut e,
                "switchyard_admin_sessions_evicted",
                "Admin UI login sessions forgotten to keep the store at its bound",
                admin.sessions_evicted,
            )?;
        }
        Ok(())
    }
}

/// Each count with its `transport` and `protocol` labels.
fn by_transport(by: &SessionCounts) -> [([(&'static str, &'static str); 2], u64); 4] {
    let labels = |transport, protocol| [("transport", transport), ("protocol", protocol)];
    [
        (labels("polling", "3"), by.polling_v3),
        (labels("polling", "4"), by.polling_v4),
        (labels("websocket", "3"), by.websocket_v3),
        (labels("websocket", "4"), by.websocket_v4),
    ]
}

fn engine(e: &mut DescriptorEncoder<'_>, s: &Snapshot) -> std::fmt::Result {
    let g = &s.engine;
    let mut f = family(
        e,
        "switchyard_engine_sessions",
        "Engine.IO sessions open now, by transport now (upgraded ones are websocket) and protocol version",
        None,
        MetricType::Gauge,
    )?;
    for (labels, n) in by_transport(&g.open_by) {
        f.gauge(&labels, i64::try_from(n).unwrap_or(i64::MAX))?;
    }
    let mut f = family(
        e,
        "switchyard_engine_sessions_opened",
        "Engine.IO sessions opened, by the transport of their handshake and protocol version",
        None,
        MetricType::Counter,
    )?;
    for (labels, n) in by_transport(&g.opened_by) {
        f.counter(&labels, n)?;
    }
    counter(
        e,
        "switchyard_engine_upgrades",
        "Polling sessions upgraded to WebSocket",
        g.upgrades,
    )?;
    counter(
        e,
        "switchyard_engine_packets_received",
        "Engine.IO packets received",
        g.packets_in,
    )?;
    counter(
        e,
        "switchyard_engine_packets_sent",
        "Engine.IO packets handed to a transport",
        g.packets_out,
    )?;
    for (name, help, n) in [
        (
            "switchyard_engine_received",
            "Bytes of the Engine.IO packets received, before transport framing",
            g.bytes_in,
        ),
        (
            "switchyard_engine_sent",
            "Bytes of the Engine.IO packets sent, before transport framing",
            g.bytes_out,
        ),
    ] {
        let metric = e.encode_descriptor(name, help, Some(&Unit::Bytes), MetricType::Counter)?;
        ConstCounter::new(n).encode(metric)?;
    }
    counter(
        e,
        "switchyard_engine_volatile_dropped",
        "Volatile packets dropped because the transport was not writable",
        g.volatile_dropped,
    )?;
    let mut f = family(
        e,
        "switchyard_engine_slow_consumer_closes",
        "Sessions closed as slow consumers, by the queue that went over its bound",
        None,
        MetricType::Counter,
    )?;
    f.counter(&[("queue", "outgoing")], g.overflow_closed)?;
    f.counter(&[("queue", "upcall")], g.upcall_overflow_closed)?;
    counter(
        e,
        "switchyard_parse_errors",
        "Connections closed for a Socket.IO packet that did not parse",
        s.clients.parse_errors,
    )
}

fn namespaces(e: &mut DescriptorEncoder<'_>, s: &Snapshot) -> std::fmt::Result {
    let all = &s.namespaces;
    let label = |name: &str| [("namespace", name.to_string())];
    type Size = fn(&NamespaceSnapshot) -> usize;
    let gauges: [(&str, &str, Size); 2] = [
        (
            "switchyard_sockets",
            "Sockets connected now, by namespace",
            |n| n.sockets,
        ),
        (
            "switchyard_rooms",
            "Rooms with members now, by namespace (own-id rooms not counted)",
            |n| n.rooms,
        ),
    ];
    for (name, help, value) in gauges {
        let mut f = family(e, name, help, None, MetricType::Gauge)?;
        for ns in all {
            f.gauge(&label(&ns.name), count(value(ns)))?;
        }
    }
    type Read = fn(&NamespaceSnapshot) -> u64;
    let counters: [(&str, &str, Read); 8] = [
        (
            "switchyard_broadcasts",
            "Broadcasts fanned out to this node's sockets, by namespace",
            |n| n.counters.broadcasts,
        ),
        (
            "switchyard_broadcast_recipients",
            "Packets broadcasts handed to clients' sessions, by namespace",
            |n| n.counters.delivered,
        ),
        (
            "switchyard_volatile_dropped",
            "Volatile broadcast packets dropped because a client's mailbox was full, by namespace",
            |n| n.counters.volatile_dropped,
        ),
        (
            "switchyard_slow_consumer_disconnects",
            "Clients disconnected because their session's mailbox was full, by namespace",
            |n| n.counters.slow_consumers,
        ),
        (
            "switchyard_acks_timed_out",
            "Acks the server stopped waiting for, by namespace",
            |n| n.counters.acks_timed_out,
        ),
        (
            "switchyard_room_requests_overloaded",
            "Room requests refused because the room registry's mailbox was full, by namespace",
            |n| n.counters.overloaded,
        ),
        (
            "switchyard_listener_dropped",
            "Events catch-all listeners missed because their mailbox was full, by namespace",
            |n| n.counters.listener_dropped,
        ),
        (
            "switchyard_recovery_replayed_packets",
            "Packets replayed to recovered sockets, by namespace",
            |n| n.recovery.replayed,
        ),
    ];
    for (name, help, value) in counters {
        let mut f = family(e, name, help, None, MetricType::Counter)?;
        for ns in all {
            f.counter(&label(&ns.name), value(ns))?;
        }
    }
    let mut f = family(
        e,
        "switchyard_disconnects",
        "Sockets disconnected, by namespace and socket.io's reason",
        None,
        MetricType::Counter,
    )?;
    for ns in all {
        for (reason, n) in ns.counters.disconnects.iter() {
            let labels = [("namespace", ns.name.as_str()), ("reason", reason.as_str())];
            f.counter(&labels, n)?;
        }
    }
    let mut f = family(
        e,
        "switchyard_recoveries",
        "Connection state recovery attempts by outcome, and sessions expired, by namespace",
        None,
        MetricType::Counter,
    )?;
    for ns in all {
        let r = &ns.recovery;
        for (outcome, n) in [
            ("recovered", r.recovered),
            ("unknown_offset", r.unknown_offset),
            ("unknown_session", r.unknown_session),
            ("offset_not_kept", r.offset_not_kept),
            ("too_much_missed", r.too_much_missed),
            ("aborted", r.aborted),
            ("expired", r.expired),
        ] {
            f.counter(&[("namespace", ns.name.as_str()), ("outcome", outcome)], n)?;
        }
    }
    let mut f = family(
        e,
        "switchyard_recovery_losses",
        "Times broadcasts from the cluster were lost and what recovery kept was forgotten, by namespace",
        None,
        MetricType::Counter,
    )?;
    for ns in all {
        f.counter(&label(&ns.name), ns.recovery.losses)?;
    }
    Ok(())
}

/// Refusals by the config key of the limit that refused; the namespace
/// ones summed over namespaces.
fn refusals(e: &mut DescriptorEncoder<'_>, s: &Snapshot) -> std::fmt::Result {
    let sum = |read: fn(&switchyard_socketio::socket::NamespaceCounters) -> u64| {
        s.namespaces.iter().map(|n| read(&n.counters)).sum::<u64>()
    };
    let mut f = family(
        e,
        "switchyard_refusals",
        "Requests refused by a limit, by the config key of that limit",
        None,
        MetricType::Counter,
    )?;
    for (limit, n) in [
        ("max_connections_per_ip", s.engine.refused_sessions_per_ip),
        (
            "handshakes_per_second_per_ip",
            s.engine.refused_handshake_rate,
        ),
        ("ws_check_origin", s.engine.refused_origin),
        ("max_namespaces_per_client", s.clients.namespaces_refused),
        ("max_rooms_per_socket", sum(|c| c.rooms_refused)),
        ("max_pending_acks_per_socket", sum(|c| c.acks_refused)),
        ("vr_max_in_flight", sum(|c| c.requests_refused)),
    ] {
        f.counter(&[("limit", limit)], n)?;
    }
    Ok(())
}

fn adapter(e: &mut DescriptorEncoder<'_>, s: &Snapshot) -> std::fmt::Result {
    let a = &s.adapter;
    gauge(
        e,
        "switchyard_adapter_link_up",
        "1 while the adapter's link to the cluster is up (always, for the local adapter)",
        i64::from(s.adapter_link_up),
    )?;
    let mut f = family(
        e,
        "switchyard_adapter_messages",
        "Messages exchanged with the other nodes, by direction",
        None,
        MetricType::Counter,
    )?;
    f.counter(&[("direction", "published")], a.published)?;
    f.counter(&[("direction", "received")], a.received)?;
    counter(
        e,
        "switchyard_adapter_errors",
        "Adapter messages that could not be published or decoded, and failed connection attempts",
        a.errors,
    )?;
    counter(
        e,
        "switchyard_adapter_dropped",
        "Adapter messages dropped: a bounded queue was full, or the link went with them",
        a.dropped,
    )?;
    counter(
        e,
        "switchyard_adapter_reconnects",
        "Times the adapter's link was lost and made again",
        a.reconnects,
    )?;
    counter(
        e,
        "switchyard_adapter_request_timeouts",
        "Requests to the other nodes (fetchSockets, serverSideEmit with an ack) that timed out",
        a.request_timeouts,
    )?;
    let trips = &a.request_round_trips;
    let mut metric = e.encode_descriptor(
        "switchyard_adapter_request_duration",
        "Round trip of requests to the other nodes (fetchSockets, serverSideEmit with an ack, broadcasts with acks) answered in full",
        Some(&Unit::Seconds),
        MetricType::Histogram,
    )?;
    let sum = trips.sum_micros as f64 / 1e6;
    metric.encode_histogram::<NoLabelSet>(sum, trips.count(), &trips.by_bound(), None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_sails::RequestCounters;

    fn sample() -> Snapshot {
        let mut s = Snapshot {
            adapter_link_up: true,
            ..Snapshot::default()
        };
        s.engine.opened_by.websocket_v4 = 3;
        s.engine.opened_by.polling_v3 = 1;
        s.engine.open_by.websocket_v4 = 2;
        s.engine.upgrades = 1;
        s.engine.bytes_in = 120;
        s.engine.refused_sessions_per_ip = 4;
        s.adapter.published = 7;
        let trips = switchyard_core::RoundTripRecorder::default();
        trips.observe(std::time::Duration::from_millis(2));
        s.adapter.request_round_trips = trips.snapshot();
        let mut chat = NamespaceSnapshot {
            name: "/chat".into(),
            sockets: 2,
            rooms: 1,
            ..NamespaceSnapshot::default()
        };
        chat.counters.broadcasts = 5;
        chat.counters.delivered = 9;
        chat.counters.rooms_refused = 1;
        chat.recovery.recovered = 2;
        let mut main = NamespaceSnapshot {
            name: "/".into(),
            ..NamespaceSnapshot::default()
        };
        main.counters.rooms_refused = 2;
        s.namespaces = vec![main, chat];
        s.requests = Some(RequestCounters {
            by_status: vec![(200, 3), (404, 1)],
        });
        s.admin = Some(switchyard_admin::AdminCounters {
            outbox_dropped: 6,
            events_dropped: 0,
            sessions_evicted: 2,
        });
        s
    }

    /// Each sample line, as Prometheus reads them.
    fn samples(text: &str) -> Vec<&str> {
        text.lines().filter(|l| !l.starts_with('#')).collect()
    }

    #[test]
    fn the_snapshot_reads_as_prometheus_text_with_names_types_and_labels() {
        let text = text(sample());
        let lines = samples(&text);
        for expected in [
            r#"switchyard_engine_sessions{transport="websocket",protocol="4"} 2"#,
            r#"switchyard_engine_sessions{transport="polling",protocol="4"} 0"#,
            r#"switchyard_engine_sessions_opened_total{transport="websocket",protocol="4"} 3"#,
            r#"switchyard_engine_sessions_opened_total{transport="polling",protocol="3"} 1"#,
            "switchyard_engine_upgrades_total 1",
            "switchyard_engine_received_bytes_total 120",
            r#"switchyard_sockets{namespace="/chat"} 2"#,
            r#"switchyard_rooms{namespace="/chat"} 1"#,
            r#"switchyard_broadcasts_total{namespace="/chat"} 5"#,
            r#"switchyard_broadcast_recipients_total{namespace="/chat"} 9"#,
            r#"switchyard_recoveries_total{namespace="/chat",outcome="recovered"} 2"#,
            r#"switchyard_disconnects_total{namespace="/",reason="transport close"} 0"#,
            r#"switchyard_refusals_total{limit="max_connections_per_ip"} 4"#,
            r#"switchyard_adapter_messages_total{direction="published"} 7"#,
            "switchyard_adapter_link_up 1",
            r#"switchyard_adapter_request_duration_seconds_bucket{le="0.001"} 0"#,
            r#"switchyard_adapter_request_duration_seconds_bucket{le="0.0025"} 1"#,
            r#"switchyard_adapter_request_duration_seconds_bucket{le="+Inf"} 1"#,
            "switchyard_adapter_request_duration_seconds_count 1",
            "switchyard_adapter_request_duration_seconds_sum 0.002",
            r#"switchyard_virtual_requests_total{status="404"} 1"#,
            r#"switchyard_admin_dropped_total{what="outbox"} 6"#,
            r#"switchyard_admin_dropped_total{what="events"} 0"#,
            "switchyard_admin_sessions_evicted_total 2",
        ] {
            assert!(lines.contains(&expected), "no {expected:?} in\n{text}");
        }
        assert!(text.contains("# TYPE switchyard_engine_upgrades_total counter\n"));
        assert!(text.contains("# TYPE switchyard_sockets gauge\n"));
        assert!(text.contains("# TYPE switchyard_engine_received_bytes_total counter\n"));
    }

    #[test]
    fn namespace_refusals_are_summed_once_over_namespaces() {
        let text = text(sample());
        let lines = samples(&text);
        assert!(lines.contains(&r#"switchyard_refusals_total{limit="max_rooms_per_socket"} 3"#));
        // One family per name: a family written twice would be rejected by Prometheus.
        let mut types: Vec<&str> = text.lines().filter(|l| l.starts_with("# TYPE")).collect();
        let all = types.len();
        types.sort_unstable();
        types.dedup();
        assert_eq!(types.len(), all);
    }

    #[test]
    fn without_virtual_requests_or_admin_ui_there_are_no_such_families() {
        let text = text(Snapshot::default());
        assert!(!text.contains("switchyard_virtual_requests"));
        assert!(!text.contains("switchyard_admin_"));
        assert!(text.contains("switchyard_adapter_link_up 0"));
    }
}
