//! For parsers' tests: how far into its input a parser reads before it hands on its
//! first record, which tells a stream from a parser that reads the file whole.

use std::cell::Cell;
use std::io::{BufReader, Read};
use std::rc::Rc;

use super::{Emit, FileOutcome, Record};
use crate::error::ParseError;

pub struct Counting<'t> {
    text: &'t [u8],
    read: Rc<Cell<usize>>,
}

impl Read for Counting<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.text.read(buf)?;
        self.read.set(self.read.get() + n);
        Ok(n)
    }
}

/// The bytes of `text` read when the first record came, and the records in all.
pub fn read_at_first_record(
    text: &[u8],
    parse: impl FnOnce(BufReader<Counting>, Emit) -> Result<FileOutcome, ParseError>,
) -> (usize, u64) {
    let read = Rc::new(Cell::new(0));
    let reader = BufReader::with_capacity(
        1024,
        Counting {
            text,
            read: Rc::clone(&read),
        },
    );
    let mut first = None;
    let outcome = parse(reader, &mut |_: Record| {
        first.get_or_insert(read.get());
    })
    .expect("the input parses");
    (first.expect("a record came"), outcome.findings)
}
