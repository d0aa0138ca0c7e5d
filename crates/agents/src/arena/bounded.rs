//! A JSON array read with a bound on its length, enforced while it is
//! parsed: the item past the bound is an error before it is built, so a
//! body of 300,000 tiny agents costs the bridge 4,096 of them at most, not
//! 300,000 that a check afterwards would refuse.

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, Error, SeqAccess, Visitor};

/// Reads a `Vec<T>` of at most `max` items; past that, sets `exceeded` and
/// fails (the flag tells the caller the error is the bound, not bad JSON).
pub(super) struct BoundedVec<'a, T> {
    pub max: usize,
    pub exceeded: &'a Cell<bool>,
    pub item: PhantomData<T>,
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for BoundedVec<'_, T> {
    type Value = Vec<T>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Vec<T>, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for BoundedVec<'_, T> {
    type Value = Vec<T>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "an array of at most {} items", self.max)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        // The size hint comes from the input: never trust it beyond the bound.
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(self.max).min(1024));
        while let Some(item) = seq.next_element()? {
            if items.len() == self.max {
                self.exceeded.set(true);
                return Err(A::Error::custom(format_args!("more than {} items", self.max)));
            }
            items.push(item);
        }
        Ok(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(json: &str, max: usize) -> (Result<Vec<u32>, serde_json::Error>, bool) {
        let exceeded = Cell::new(false);
        let seed = BoundedVec { max, exceeded: &exceeded, item: PhantomData };
        let read = seed.deserialize(&mut serde_json::Deserializer::from_str(json));
        (read, exceeded.get())
    }

    #[test]
    fn up_to_the_bound_is_read_and_one_more_is_refused() {
        assert_eq!(read("[1, 2, 3]", 3).0.unwrap(), [1, 2, 3]);
        let (refused, exceeded) = read("[1, 2, 3, 4]", 3);
        assert!(refused.unwrap_err().to_string().contains("more than 3 items"));
        assert!(exceeded);
        let (invalid, exceeded) = read(r#"[1, "two"]"#, 3);
        assert!(invalid.is_err() && !exceeded, "other errors are not the bound");
    }
}
