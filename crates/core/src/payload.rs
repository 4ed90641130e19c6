//! Event arguments: JSON values plus the binary attachments their
//! placeholders (`{"_placeholder":true,"num":N}`) stand for.

use bytes::Bytes;
use serde_json::Value;

use crate::protocol::packet::write_header;
use crate::protocol::{Packet, PacketKind};

/// The arguments of an event or an ack.
///
/// Binary data stays out of the JSON: `args` holds placeholders and
/// `binary[N]` the bytes of placeholder N, exactly as on the wire, so a
/// payload is passed on (echoed, broadcast) without being rebuilt.
///
/// ```
/// use switchyard_core::Payload;
/// let p = Payload::new(vec![serde_json::json!("hi")]).with_binary(b"\x01\x02".to_vec());
/// assert_eq!(p.args.len(), 2);
/// assert_eq!(p.binary(1).unwrap().as_ref(), &[1, 2]);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Payload {
    /// The arguments as JSON, binary ones as placeholders.
    pub args: Vec<Value>,
    /// The attachments: `binary[N]` is what placeholder `num: N` stands for.
    pub binary: Vec<Bytes>,
}

impl Payload {
    /// A payload of JSON arguments, with no binary ones.
    pub fn new(args: Vec<Value>) -> Payload {
        Payload {
            args,
            binary: Vec::new(),
        }
    }

    /// Appends a binary argument (a placeholder in `args`, the bytes in `binary`).
    pub fn with_binary(mut self, data: impl Into<Bytes>) -> Payload {
        self.args.push(Packet::placeholder(self.binary.len()));
        self.binary.push(data.into());
        self
    }

    /// The bytes of argument `index` if it is a binary placeholder.
    pub fn binary(&self, index: usize) -> Option<&Bytes> {
        let num = self.args.get(index)?.as_object()?;
        if num.get("_placeholder") != Some(&Value::Bool(true)) {
            return None;
        }
        self.binary.get(num.get("num")?.as_u64()? as usize)
    }

    /// Splits an EVENT packet's data into its name and arguments.
    pub fn from_event(packet: Packet) -> Option<(String, Payload)> {
        let Some(Value::Array(mut items)) = packet.data else {
            return None;
        };
        if items.is_empty() {
            return None;
        }
        let name = match items.remove(0) {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            _ => return None,
        };
        Some((
            name,
            Payload {
                args: items,
                binary: packet.attachments,
            },
        ))
    }

    /// An ACK packet's data as a payload.
    pub fn from_ack(packet: Packet) -> Payload {
        let args = match packet.data {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        };
        Payload {
            args,
            binary: packet.attachments,
        }
    }

    /// The EVENT packet `[name, ...args]` for namespace `nsp`.
    pub fn into_event(self, nsp: &str, name: &str) -> Packet {
        let mut data = Vec::with_capacity(self.args.len() + 1);
        data.push(Value::String(name.to_string()));
        data.extend(self.args);
        Packet::event(nsp, Value::Array(data)).with_attachments(self.binary)
    }

    /// The ACK packet for id `id` in namespace `nsp`.
    pub fn into_ack(self, nsp: &str, id: u64) -> Packet {
        Packet::ack(nsp, id, Value::Array(self.args)).with_attachments(self.binary)
    }

    /// Appends the text part of the EVENT packet [`into_event`](Self::into_event)
    /// would build (with ack id `id`) to `out`, without building it: the
    /// same bytes as [`Packet::encode`]. The attachments, if any, are
    /// [`binary`](Self::binary)'s, in order.
    ///
    /// ```
    /// use switchyard_core::Payload;
    /// let mut out = Vec::new();
    /// Payload::new(vec![serde_json::json!(1)]).encode_event_into("/chat", "up", Some(7), &mut out);
    /// assert_eq!(out, br#"2/chat,7["up",1]"#);
    /// ```
    pub fn encode_event_into(&self, nsp: &str, name: &str, id: Option<u64>, out: &mut Vec<u8>) {
        self.encode_into(PacketKind::Event, nsp, id, Some(name), out);
    }

    /// Appends the text part of the ACK packet [`into_ack`](Self::into_ack)
    /// would build to `out`, without building it.
    pub fn encode_ack_into(&self, nsp: &str, id: u64, out: &mut Vec<u8>) {
        self.encode_into(PacketKind::Ack, nsp, Some(id), None, out);
    }

    fn encode_into(
        &self,
        kind: PacketKind,
        nsp: &str,
        id: Option<u64>,
        name: Option<&str>,
        out: &mut Vec<u8>,
    ) {
        let kind = kind.on_wire(!self.binary.is_empty());
        write_header(out, kind, self.binary.len(), nsp, id);
        // The array `[name, ...args]` (or `[...args]`), as serde_json writes
        // it: strings and `Value`s cannot fail to serialize.
        out.push(b'[');
        if let Some(name) = name {
            let _ = serde_json::to_writer(&mut *out, name);
        }
        for (i, arg) in self.args.iter().enumerate() {
            if i > 0 || name.is_some() {
                out.push(b',');
            }
            let _ = serde_json::to_writer(&mut *out, arg);
        }
        out.push(b']');
    }
}

impl From<Vec<Value>> for Payload {
    fn from(args: Vec<Value>) -> Payload {
        Payload::new(args)
    }
}

impl From<Value> for Payload {
    /// One argument.
    fn from(arg: Value) -> Payload {
        Payload::new(vec![arg])
    }
}

#[cfg(test)]
mod tests {
    use super::Payload;
    use serde_json::json;

    /// The text written from the parts is what encoding the packet writes,
    /// with and without namespace, ack id, arguments and attachments.
    #[test]
    fn parts_encode_as_their_packet_does() {
        let payloads = [
            Payload::default(),
            Payload::new(vec![json!("a\"b"), json!({"x": [1, null]}), json!(2.5)]),
            Payload::new(vec![json!(1)])
                .with_binary(vec![1, 2])
                .with_binary(vec![3]),
        ];
        for payload in payloads {
            for nsp in ["/", "/chat"] {
                for id in [None, Some(12)] {
                    let mut out = Vec::new();
                    payload.encode_event_into(nsp, "ev", id, &mut out);
                    let mut packet = payload.clone().into_event(nsp, "ev");
                    packet.id = id;
                    assert_eq!(String::from_utf8(out).unwrap(), packet.encode().0);
                }
                let mut out = Vec::new();
                payload.encode_ack_into(nsp, 3, &mut out);
                let packet = payload.clone().into_ack(nsp, 3);
                assert_eq!(String::from_utf8(out).unwrap(), packet.encode().0);
            }
        }
    }
}
