//! Reading a top-level JSON array one element at a time, so a 500 MB scanner output
//! never sits in memory whole, and telling an interrupted array from a malformed one.

use std::fmt;
use std::io::Read;
use std::marker::PhantomData;

use serde::de::{DeserializeOwned, DeserializeSeed, Deserializer, SeqAccess, Visitor};

use crate::error::ParseError;

/// How a streamed array ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Complete,
    /// The file stopped inside the array (a scanner killed mid-write): the elements
    /// before the cut were read.
    Interrupted,
}

impl End {
    /// What a report says about a file whose array ended this way.
    pub fn note(self) -> Option<String> {
        (self == Self::Interrupted)
            .then(|| "the JSON array ends early (interrupted run)".to_owned())
    }
}

/// Calls `each(index, element)` for every element of the array in `reader`; returns
/// how many there were and how the array ended.
pub fn for_each_element<T, R, F>(reader: R, file: &str, each: F) -> Result<(u64, End), ParseError>
where
    T: DeserializeOwned,
    R: Read,
    F: FnMut(u64, T),
{
    let mut count = 0;
    let mut deserializer = serde_json::Deserializer::from_reader(reader);
    let seed = Elements {
        each,
        count: &mut count,
        element: PhantomData,
    };
    match seed.deserialize(&mut deserializer) {
        Ok(()) => match deserializer.end() {
            Ok(()) => Ok((count, End::Complete)),
            Err(error) => Err(ParseError::json(file, &error)),
        },
        Err(error) if error.is_eof() && count > 0 => Ok((count, End::Interrupted)),
        Err(error) => Err(ParseError::json(file, &error)),
    }
}

struct Elements<'c, T, F> {
    each: F,
    count: &'c mut u64,
    element: PhantomData<T>,
}

impl<'de, T: DeserializeOwned, F: FnMut(u64, T)> DeserializeSeed<'de> for Elements<'_, T, F> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, T: DeserializeOwned, F: FnMut(u64, T)> Visitor<'de> for Elements<'_, T, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON array of findings")
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        while let Some(element) = seq.next_element::<T>()? {
            (self.each)(*self.count, element);
            *self.count += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbers(text: &str) -> Result<(Vec<u32>, End), ParseError> {
        let mut seen = Vec::new();
        let (_, end) = for_each_element(text.as_bytes(), "f.json", |_, n: u32| seen.push(n))?;
        Ok((seen, end))
    }

    #[test]
    fn whole_arrays_and_cut_ones() {
        assert_eq!(
            numbers("[1, 2, 3]\n").unwrap(),
            (vec![1, 2, 3], End::Complete)
        );
        assert_eq!(
            numbers("[1, 2, 3").unwrap(),
            (vec![1, 2, 3], End::Interrupted)
        );
        assert_eq!(numbers("[1, 2, ").unwrap(), (vec![1, 2], End::Interrupted));
        assert_eq!(numbers("[]").unwrap(), (vec![], End::Complete));
    }

    #[test]
    fn malformed_input_names_file_and_position() {
        let error = numbers("[1,\n 2,\n x]").unwrap_err().to_string();
        assert!(error.starts_with("f.json:3:2: "), "{error}");
        let error = numbers("[1] trailing").unwrap_err().to_string();
        assert!(error.starts_with("f.json:1:5: "), "{error}");
        assert!(numbers("").is_err(), "an empty file is not an array");
    }
}
