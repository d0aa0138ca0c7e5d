//! A tick's entries read for the rules alone, straight from the body: the
//! id, the agent's position and, of each nearby list, only the two items
//! the rules can act on, kept as borrowed text. Nothing else of an agent
//! is built, so a tick decided by the rules costs about what reading its
//! bytes costs (building every agent's JSON tree and dropping it again was
//! four fifths of a thousand-agent tick; docs/PERFORMANCE.md).
//!
//! Decisions are those of [`rules::decide`] on the tree the general path
//! builds, field for field: the same defaults, the last of duplicate keys,
//! the same items chosen.

use std::borrow::Cow;
use std::fmt;

use gamebridge_protocol::RawValue;
use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Value, json};

use super::tick::NO_AGENT_ID;
use crate::Decision;
use crate::rules::{self, Item, Picks};

/// One entry of a tick, as the rules read it.
#[derive(Debug)]
pub struct RulesEntry<'a> {
    /// The agent's id as sent (for the answer); `Null` when there is none.
    pub id: Value,
    /// Why the entry cannot be decided, when it cannot.
    pub invalid: Option<String>,
    /// The agent's `position` as sent; `None` when absent.
    position: Option<&'a RawValue>,
    /// A V1 perception (whose missing position is the origin).
    perception: bool,
    picks: Picks<'a>,
}

impl RulesEntry<'_> {
    pub fn decide(&self) -> Decision {
        if let Some(why) = &self.invalid {
            return Decision::idle(why.clone());
        }
        self.picks.decide(|| match self.position {
            // Text the body's parser accepted is JSON; `Null` is unreachable.
            Some(raw) => Cow::Owned(serde_json::from_str(raw.get()).unwrap_or(Value::Null)),
            // The original's default for a perception without one.
            None if self.perception => Cow::Owned(json!([0.0, 0.0, 0.0])),
            None => Cow::Owned(Value::Null),
        })
    }

    fn new(perception: bool) -> Self {
        Self { id: Value::Null, invalid: None, position: None, perception, picks: Picks::default() }
    }

    /// Checks the id once the entry is read: text or a number, as the
    /// original took either.
    fn identified(mut self, had_id: bool) -> Self {
        if !had_id || !matches!(self.id, Value::String(_) | Value::Number(_)) {
            self.invalid = Some(NO_AGENT_ID.to_owned());
        }
        self
    }

    fn not_an_object(perception: bool) -> Self {
        let what = if perception { "the perception" } else { "the agent" };
        Self { invalid: Some(format!("{what} is not an object")), ..Self::new(perception) }
    }
}

/// A V1 perception: `{agent_id, position, custom_data: {nearby_…}}`.
pub struct Perception<'a>(pub RulesEntry<'a>);

/// An SDK agent: `{agent_id, observations: {position, nearby_…}}`.
pub struct SdkAgent<'a>(pub RulesEntry<'a>);

impl<'de> Deserialize<'de> for Perception<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(EntryVisitor { perception: true }).map(Perception)
    }
}

impl<'de> Deserialize<'de> for SdkAgent<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(EntryVisitor { perception: false }).map(SdkAgent)
    }
}

/// The visitor methods for the JSON values a visitor does not read: each
/// is read past (an array or object entry by entry) and stands for
/// `$nothing`: the scalars always, and arrays (for a visitor of objects)
/// or objects (for a visitor of arrays).
macro_rules! otherwise {
    ($value:ty, $nothing:expr, arrays) => {
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<$value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok($nothing(self))
        }
        otherwise!($value, $nothing);
    };
    ($value:ty, $nothing:expr, objects) => {
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<$value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok($nothing(self))
        }
        otherwise!($value, $nothing);
    };
    ($value:ty, $nothing:expr) => {
        fn visit_bool<E>(self, _: bool) -> Result<$value, E> {
            Ok($nothing(self))
        }

        fn visit_i64<E>(self, _: i64) -> Result<$value, E> {
            Ok($nothing(self))
        }

        fn visit_u64<E>(self, _: u64) -> Result<$value, E> {
            Ok($nothing(self))
        }

        fn visit_f64<E>(self, _: f64) -> Result<$value, E> {
            Ok($nothing(self))
        }

        fn visit_str<E>(self, _: &str) -> Result<$value, E> {
            Ok($nothing(self))
        }

        fn visit_unit<E>(self) -> Result<$value, E> {
            Ok($nothing(self))
        }
    };
}

struct EntryVisitor {
    perception: bool,
}

impl<'de> Visitor<'de> for EntryVisitor {
    type Value = RulesEntry<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an agent")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RulesEntry<'de>, A::Error> {
        let mut entry = RulesEntry::new(self.perception);
        let mut had_id = false;
        while let Some(key) = map.next_key::<Key>()? {
            match (key, self.perception) {
                (Key::AgentId, _) => {
                    entry.id = map.next_value()?;
                    had_id = true;
                }
                (Key::Position, true) => entry.position = Some(map.next_value()?),
                (Key::CustomData, true) => {
                    map.next_value_seed(Lists { entry: &mut entry, observations: false })?
                }
                (Key::Observations, false) => {
                    map.next_value_seed(Lists { entry: &mut entry, observations: true })?
                }
                _ => drop(map.next_value::<IgnoredAny>()?),
            }
        }
        Ok(entry.identified(had_id))
    }

    otherwise!(RulesEntry<'de>, |visitor: Self| RulesEntry::not_an_object(visitor.perception), arrays);
}

/// The keys the rules read; every other key is skipped unread.
enum Key {
    AgentId,
    Position,
    CustomData,
    Observations,
    NearbyHazards,
    NearbyResources,
    Distance,
    Type,
    Name,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a key")
            }

            fn visit_str<E>(self, key: &str) -> Result<Key, E> {
                Ok(match key {
                    "agent_id" => Key::AgentId,
                    "position" => Key::Position,
                    "custom_data" => Key::CustomData,
                    "observations" => Key::Observations,
                    "nearby_hazards" => Key::NearbyHazards,
                    "nearby_resources" => Key::NearbyResources,
                    "distance" => Key::Distance,
                    "type" => Key::Type,
                    "name" => Key::Name,
                    _ => Key::Other,
                })
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// The object holding the nearby lists: a perception's `custom_data`, or
/// an SDK agent's `observations` (which also holds its position). Any
/// other value holds no lists.
struct Lists<'e, 'a> {
    entry: &'e mut RulesEntry<'a>,
    observations: bool,
}

impl<'de> DeserializeSeed<'de> for Lists<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        // A later `custom_data` (or `observations`, with its position)
        // replaces an earlier one, as a JSON object's last key wins.
        self.entry.picks = Picks::default();
        if self.observations {
            self.entry.position = None;
        }
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Lists<'_, 'de> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an object of nearby lists")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Position if self.observations => self.entry.position = Some(map.next_value()?),
                Key::NearbyHazards => {
                    self.entry.picks.restart_hazards();
                    map.next_value_seed(List { picks: &mut self.entry.picks, hazards: true })?;
                }
                Key::NearbyResources => {
                    self.entry.picks.restart_resources();
                    map.next_value_seed(List { picks: &mut self.entry.picks, hazards: false })?;
                }
                _ => drop(map.next_value::<IgnoredAny>()?),
            }
        }
        Ok(())
    }

    otherwise!((), |_| (), arrays);
}

/// A nearby list, each object in it offered to the picks; anything else
/// in it, or a list that is not one, is nothing nearby.
struct List<'p, 'a> {
    picks: &'p mut Picks<'a>,
    hazards: bool,
}

impl<'de> DeserializeSeed<'de> for List<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for List<'_, 'de> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a list of nearby items")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(item) = seq.next_element::<Nearby>()? {
            let Nearby::Object { item, distance } = item else { continue };
            if self.hazards {
                self.picks.hazard(item, distance);
            } else {
                self.picks.resource(item, distance);
            }
        }
        Ok(())
    }

    otherwise!((), |_| (), objects);
}

/// An item of a nearby list: an object's distance and its fields as text.
enum Nearby<'a> {
    Object { item: Item<'a>, distance: f64 },
    Other,
}

impl<'de> Deserialize<'de> for Nearby<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NearbyVisitor)
    }
}

struct NearbyVisitor;

impl<'de> Visitor<'de> for NearbyVisitor {
    type Value = Nearby<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a nearby item")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Nearby<'de>, A::Error> {
        let (mut position, mut kind, mut name, mut distance) = (None, None, None, f64::INFINITY);
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Distance => distance = rules::distance_of(&map.next_value::<Value>()?),
                Key::Position => position = Some(map.next_value()?),
                Key::Type => kind = Some(map.next_value()?),
                Key::Name => name = Some(map.next_value()?),
                _ => drop(map.next_value::<IgnoredAny>()?),
            }
        }
        Ok(Nearby::Object { item: Item::Raw { position, kind, name }, distance })
    }

    otherwise!(Nearby<'de>, |_| Nearby::Other, arrays);
}

#[cfg(test)]
mod tests;
