//! Sails' resourceful pubsub for one model: the rooms a record's watchers
//! sit in (`sails_model_<model>_<id>:<model>`, `sails_model_create_<model>`)
//! and the events its changes publish, named after the model, with Sails'
//! payloads (`{verb: "created", data, id}`, `updated`, `destroyed`,
//! `addedTo`, `removedFrom`). Built on [`Sockets`] alone.

use serde_json::{Value, json};

use super::{SocketReq, Sockets};
use switchyard_socketio::socket::{BroadcastError, EffectError};

/// One model's pubsub rooms and events (Sails' `Model.subscribe`,
/// `Model.publish`, and the blueprints' `_publishCreate`...).
///
/// ```no_run
/// use actix_web::{HttpResponse, web};
/// use serde_json::{Value, json};
/// use switchyard_sails::{Model, SocketReq, Sockets};
///
/// /// POST /pets: creates a pet; sockets watching `pet` hear `created`.
/// async fn create(req: SocketReq, sockets: Sockets, body: web::Json<Value>) -> HttpResponse {
///     let pets = Model::new(sockets, "pet");
///     let pet = json!({ "id": 1, "name": body["name"] });
///     let _ = pets.publish_create(json!(1), pet.clone(), req.id()).await;
///     HttpResponse::Created().json(pet)
/// }
/// ```
#[derive(Clone, Debug)]
pub struct Model {
    sockets: Sockets,
    identity: String,
}

/// A record id as Sails writes it in a room name: a string as it is, anything else as JSON.
fn id_text(id: &Value) -> String {
    match id {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `payload` with `key` set to `value` when there is one: Sails leaves an
/// undefined field out rather than sending `null`.
fn with_optional(mut payload: Value, key: &str, value: Option<Value>) -> Value {
    if let (Value::Object(fields), Some(value)) = (&mut payload, value) {
        fields.insert(key.into(), value);
    }
    payload
}

impl Model {
    /// The pubsub of the model called `identity` (also the event name).
    pub fn new(sockets: Sockets, identity: impl Into<String>) -> Self {
        Model {
            sockets,
            identity: identity.into(),
        }
    }

    /// The room of record `id`'s subscribers: `sails_model_<model>_<id>:<model>`.
    pub fn room(&self, id: &Value) -> String {
        format!("sails_model_{0}_{1}:{0}", self.identity, id_text(id))
    }

    /// The room of the model's watchers: `sails_model_create_<model>`.
    pub fn class_room(&self) -> String {
        format!("sails_model_create_{}", self.identity)
    }

    /// Subscribes the requesting socket to the records `ids`; a plain HTTP
    /// request has no socket and is ignored, as in Sails.
    pub async fn subscribe(
        &self,
        req: &SocketReq,
        ids: impl IntoIterator<Item = Value>,
    ) -> Result<(), EffectError> {
        self.subscription(req, ids, true).await
    }

    /// Unsubscribes the requesting socket from the records `ids`.
    pub async fn unsubscribe(
        &self,
        req: &SocketReq,
        ids: impl IntoIterator<Item = Value>,
    ) -> Result<(), EffectError> {
        self.subscription(req, ids, false).await
    }

    /// The requesting socket joins (`join`) or leaves the rooms of `ids`.
    async fn subscription(
        &self,
        req: &SocketReq,
        ids: impl IntoIterator<Item = Value>,
        join: bool,
    ) -> Result<(), EffectError> {
        let Some(socket) = req.id() else {
            return Ok(());
        };
        let rooms: Vec<String> = ids.into_iter().map(|id| self.room(&id)).collect();
        let only = self.sockets.namespace().to(socket);
        match join {
            true => only.sockets_join(rooms).await,
            false => only.sockets_leave(rooms).await,
        }
    }

    /// The requesting socket hears of every new record (`Model._watch`),
    /// and is subscribed to each as it is created.
    pub async fn watch(&self, req: &SocketReq) -> Result<(), EffectError> {
        match req.is_socket() {
            true => self.sockets.join(req, self.class_room()).await,
            false => Ok(()),
        }
    }

    /// The requesting socket stops hearing of new records.
    pub async fn unwatch(&self, req: &SocketReq) -> Result<(), EffectError> {
        match req.is_socket() {
            true => self.sockets.leave(req, self.class_room()).await,
            false => Ok(()),
        }
    }

    /// Sends `data` as the model's event to the subscribers of each record
    /// in `ids`, but the socket `except` (`Model.publish`).
    pub async fn publish(
        &self,
        ids: impl IntoIterator<Item = Value>,
        data: Value,
        except: Option<&str>,
    ) -> Result<usize, BroadcastError> {
        let rooms: Vec<String> = ids.into_iter().map(|id| self.room(&id)).collect();
        let event = self.identity.as_str();
        (self.sockets.broadcast_event(rooms, event, data))
            .except(except)
            .await
    }

    /// A record was created: the watchers (but `except`) hear
    /// `{verb: "created", data, id}` and are subscribed to it.
    pub async fn publish_create(
        &self,
        id: Value,
        data: Value,
        except: Option<&str>,
    ) -> Result<usize, BroadcastError> {
        let payload = json!({ "verb": "created", "data": data, "id": id });
        let class = self.class_room();
        let sent = (self.sockets)
            .broadcast_event(class.as_str(), self.identity.as_str(), payload)
            .except(except)
            .await?;
        (self.sockets)
            .add_room_members_to_rooms(&class, [self.room(&id)])
            .await?;
        Ok(sent)
    }

    /// Record `id` changed: its subscribers (but `except`) hear
    /// `{verb: "updated", data: changes, id, previous}`.
    pub async fn publish_update(
        &self,
        id: Value,
        changes: Value,
        previous: Option<Value>,
        except: Option<&str>,
    ) -> Result<usize, BroadcastError> {
        let payload = json!({ "verb": "updated", "data": changes, "id": id });
        let payload = with_optional(payload, "previous", previous);
        self.publish([id], payload, except).await
    }

    /// Record `id` is gone: its subscribers (but `except`) hear
    /// `{verb: "destroyed", id, previous}`, and the watchers leave its room.
    pub async fn publish_destroy(
        &self,
        id: Value,
        previous: Option<Value>,
        except: Option<&str>,
    ) -> Result<usize, BroadcastError> {
        let payload = json!({ "verb": "destroyed", "id": id });
        let payload = with_optional(payload, "previous", previous);
        let room = self.room(&id);
        let sent = self.publish([id], payload, except).await?;
        (self.sockets)
            .remove_room_members_from_rooms(&self.class_room(), [room])
            .await?;
        Ok(sent)
    }

    /// `added_id` joined record `id`'s collection `attribute`: its subscribers
    /// (but `except`) hear `{verb: "addedTo", id, attribute, addedId, added}`.
    pub async fn publish_add(
        &self,
        id: Value,
        attribute: &str,
        added_id: Value,
        added: Option<Value>,
        except: Option<&str>,
    ) -> Result<usize, BroadcastError> {
        let payload = json!({
            "id": id,
            "verb": "addedTo",
            "attribute": attribute,
            "addedId": added_id,
        });
        let payload = with_optional(payload, "added", added);
        self.publish([id], payload, except).await
    }

    /// `removed_id` left record `id`'s collection `attribute`: its subscribers
    /// (but `except`) hear `{verb: "removedFrom", id, attribute, removedId}`.
    pub async fn publish_remove(
        &self,
        id: Value,
        attribute: &str,
        removed_id: Value,
        except: Option<&str>,
    ) -> Result<usize, BroadcastError> {
        let payload = json!({
            "id": id,
            "verb": "removedFrom",
            "attribute": attribute,
            "removedId": removed_id,
        });
        self.publish([id], payload, except).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_written_as_sails_writes_them() {
        assert_eq!(id_text(&json!(7)), "7");
        assert_eq!(id_text(&json!("abc")), "abc");
    }

    #[test]
    fn an_absent_optional_field_is_left_out_not_null() {
        let base = json!({ "verb": "destroyed", "id": 1 });
        assert_eq!(with_optional(base.clone(), "previous", None), base);
        let with = with_optional(base, "previous", Some(json!({ "a": 1 })));
        assert_eq!(
            with,
            json!({ "verb": "destroyed", "id": 1, "previous": { "a": 1 } })
        );
    }
}
