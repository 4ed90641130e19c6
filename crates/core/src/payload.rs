//! Event arguments: JSON values plus the binary attachments their
//! placeholders (`{"_placeholder":true,"num":N}`) stand for.

use bytes::Bytes;
use serde_json::Value;

use crate::protocol::Packet;

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
