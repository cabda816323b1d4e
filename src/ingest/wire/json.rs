//! The same walk over OTLP/JSON, with serde visitors that keep nothing.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::estimate::{Fold, Walk, Walked, FIELD_DATA_BYTES};
use super::schema::{Cardinality, Field, Msg};
use super::WireError;

pub(super) fn walk_document(body: &[u8], root: Msg, walk: &mut Walk) -> Result<Walked, WireError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let mut stopped = None;
    let walked = MessageSeed {
        msg: root,
        entered_as: None,
        walk,
        stopped: &mut stopped,
    }
    .deserialize(&mut deserializer)
    .and_then(|walked| deserializer.end().map(|()| walked));
    match (walked, stopped) {
        (_, Some(stop)) => Err(stop),
        (Ok(walked), None) => Ok(walked),
        (Err(error), None) => Err(WireError::Malformed(format!(
            "body is not a valid OTLP/JSON export request: {error}"
        ))),
    }
}

/// A limit hit inside a visitor: kept aside (serde errors are strings) and reported.
fn stop<E: serde::de::Error>(stopped: &mut Option<WireError>, error: WireError) -> E {
    let message = error.to_string();
    *stopped = Some(error);
    E::custom(message)
}

/// One message; `entered_as` charges it (and counts it) once it turns out to exist.
struct MessageSeed<'a> {
    msg: Msg,
    entered_as: Option<Cardinality>,
    walk: &'a mut Walk,
    stopped: &'a mut Option<WireError>,
}

impl<'de> DeserializeSeed<'de> for MessageSeed<'_> {
    type Value = Walked;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Walked, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for MessageSeed<'_> {
    type Value = Walked;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "an OTLP {:?} object", self.msg)
    }

    fn visit_unit<E>(self) -> Result<Walked, E> {
        Ok(Walked::default())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Walked, A::Error> {
        if let Some(cardinality) = self.entered_as {
            if let Err(error) = self.walk.enter(self.msg, cardinality) {
                return Err(stop(self.stopped, error));
            }
        }
        let mut fold = Fold::default();
        while let Some(key) = map.next_key_seed(KeySeed { msg: self.msg })? {
            let Some(number) = key else {
                map.next_value::<IgnoredAny>()?;
                fold.data += FIELD_DATA_BYTES;
                continue;
            };
            match self.msg.proto_field(number) {
                Field::Message(child, Cardinality::One) => {
                    let walked = map.next_value_seed(MessageSeed {
                        msg: child,
                        entered_as: Some(Cardinality::One),
                        walk: self.walk,
                        stopped: self.stopped,
                    })?;
                    fold.add(self.msg, number, walked);
                }
                Field::Message(child, Cardinality::Many) => {
                    let walked = map.next_value_seed(ListSeed {
                        child,
                        walk: self.walk,
                        stopped: self.stopped,
                    })?;
                    fold.add(self.msg, number, walked);
                }
                Field::Bytes(cardinality) => {
                    let len = map.next_value_seed(StringSeed {
                        cardinality,
                        walk: self.walk,
                        stopped: self.stopped,
                    })?;
                    fold.data = fold.data.saturating_add(len);
                }
                Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                    fold.data += FIELD_DATA_BYTES;
                }
            }
        }
        Ok(fold.finish(self.msg, self.walk.item))
    }
}

/// A repeated message field: the children of a container fold as one.
struct ListSeed<'a> {
    child: Msg,
    walk: &'a mut Walk,
    stopped: &'a mut Option<WireError>,
}

impl<'de> DeserializeSeed<'de> for ListSeed<'_> {
    type Value = Walked;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Walked, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ListSeed<'_> {
    type Value = Walked;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "an array of OTLP {:?} objects", self.child)
    }

    fn visit_unit<E>(self) -> Result<Walked, E> {
        Ok(Walked::default())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Walked, A::Error> {
        let mut total = Walked::default();
        while let Some(walked) = seq.next_element_seed(MessageSeed {
            msg: self.child,
            entered_as: Some(Cardinality::Many),
            walk: self.walk,
            stopped: self.stopped,
        })? {
            total.data = total.data.saturating_add(walked.data);
            total.items = total.items.saturating_add(walked.items);
            total.normalized = total.normalized.saturating_add(walked.normalized);
        }
        Ok(total)
    }
}

/// A string (or list of strings) field; returns its length in bytes.
struct StringSeed<'a> {
    cardinality: Cardinality,
    walk: &'a mut Walk,
    stopped: &'a mut Option<WireError>,
}

impl StringSeed<'_> {
    fn charge<E: serde::de::Error>(&mut self, text: &str) -> Result<usize, E> {
        self.walk
            .string(text.as_bytes(), self.cardinality)
            .map_err(|error| stop(self.stopped, error))
    }
}

impl<'de> DeserializeSeed<'de> for StringSeed<'_> {
    type Value = usize;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<usize, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StringSeed<'_> {
    type Value = usize;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a string")
    }

    fn visit_str<E: serde::de::Error>(mut self, value: &str) -> Result<usize, E> {
        self.charge(value)
    }

    fn visit_unit<E>(self) -> Result<usize, E> {
        Ok(0)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
        let mut total = 0usize;
        while let Some(data) = seq.next_element_seed(StringSeed {
            cardinality: Cardinality::Many,
            walk: &mut *self.walk,
            stopped: &mut *self.stopped,
        })? {
            total = total.saturating_add(data);
        }
        Ok(total)
    }
}

/// A field name, resolved to its protobuf number without allocating.
struct KeySeed {
    msg: Msg,
}

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Option<u32>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<u32>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for KeySeed {
    type Value = Option<u32>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a field name")
    }

    fn visit_str<E>(self, value: &str) -> Result<Option<u32>, E> {
        Ok(self.msg.json_field(value))
    }
}
