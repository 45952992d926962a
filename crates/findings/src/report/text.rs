//! Reading a report's text back out of its PDF, so `verify` can check the figures an
//! auditor reads rather than only the bytes that carry them.
//!
//! The report's fonts are subset CID fonts: the page contents hold glyph ids, and each
//! font's `ToUnicode` map turns them back into characters. genpdf sets every line of a
//! paragraph (and so every table cell's line) in a text object of its own, so one text
//! object is one line here.

use std::collections::HashMap;

use lopdf::content::Content;
use lopdf::{Document, Object, ObjectId};

/// The text of every line of the PDF, page by page, in the order they were set.
pub fn pdf_lines(pdf: &[u8]) -> Result<Vec<String>, String> {
    let document = Document::load_mem(pdf).map_err(|e| format!("does not read as a PDF: {e}"))?;
    let mut lines = Vec::new();
    for page in document.get_pages().into_values() {
        page_lines(&document, page, &mut lines)?;
    }
    Ok(lines)
}

fn page_lines(document: &Document, page: ObjectId, lines: &mut Vec<String>) -> Result<(), String> {
    let mut maps: HashMap<Vec<u8>, HashMap<u16, String>> = HashMap::new();
    for (name, font) in page_fonts(document, page) {
        maps.entry(name)
            .or_insert_with(|| to_unicode(document, font));
    }
    let content = document
        .get_page_content(page)
        .and_then(|bytes| Content::decode(&bytes))
        .map_err(|e| format!("a page's content does not read: {e}"))?;
    let mut font: Option<&HashMap<u16, String>> = None;
    let mut line = String::new();
    for operation in &content.operations {
        match operation.operator.as_str() {
            "Tf" => {
                font = operation
                    .operands
                    .first()
                    .and_then(|name| name.as_name().ok())
                    .and_then(|name| maps.get(name));
            }
            "Tj" | "TJ" | "'" | "\"" => {
                for operand in &operation.operands {
                    shown(operand, font, &mut line);
                }
            }
            "ET" => {
                let text = line.trim();
                if !text.is_empty() {
                    lines.push(text.to_owned());
                }
                line.clear();
            }
            _ => {}
        }
    }
    Ok(())
}

/// The fonts a page's resources name, the page's own first and then its parents'.
/// (lopdf's own lookup misses a `/Font` given by reference, as printpdf writes it.)
fn page_fonts(document: &Document, page: ObjectId) -> Vec<(Vec<u8>, &lopdf::Dictionary)> {
    let dictionary = |object| resolved(document, object);
    let mut fonts = Vec::new();
    let mut node = document.get_dictionary(page).ok();
    while let Some(current) = node {
        let named = current
            .get(b"Resources")
            .ok()
            .and_then(dictionary)
            .and_then(|resources| resources.get(b"Font").ok())
            .and_then(dictionary);
        for (name, font) in named.into_iter().flat_map(lopdf::Dictionary::iter) {
            if let Some(font) = dictionary(font) {
                fonts.push((name.clone(), font));
            }
        }
        node = current.get(b"Parent").ok().and_then(dictionary);
    }
    fonts
}

fn resolved<'a>(document: &'a Document, object: &'a Object) -> Option<&'a lopdf::Dictionary> {
    document
        .dereference(object)
        .and_then(|(_, object)| object.as_dict())
        .ok()
}

/// Appends what a text-showing operand shows: a string of two-byte glyph ids, or an
/// array of them between spacing adjustments.
fn shown(operand: &Object, font: Option<&HashMap<u16, String>>, line: &mut String) {
    match operand {
        Object::String(bytes, _) => {
            for pair in bytes.chunks_exact(2) {
                let glyph = u16::from_be_bytes([pair[0], pair[1]]);
                if let Some(text) = font.and_then(|map| map.get(&glyph)) {
                    line.push_str(text);
                }
            }
        }
        Object::Array(items) => {
            for item in items {
                shown(item, font, line);
            }
        }
        _ => {}
    }
}

/// A font's glyph id → text map, from its `ToUnicode` CMap (`bfchar` and `bfrange`
/// entries); empty when it has none.
fn to_unicode(document: &Document, font: &lopdf::Dictionary) -> HashMap<u16, String> {
    let stream = font
        .get(b"ToUnicode")
        .and_then(Object::as_reference)
        .and_then(|id| document.get_object(id))
        .and_then(Object::as_stream);
    let Ok(stream) = stream else {
        return HashMap::new();
    };
    let bytes = stream
        .decompressed_content()
        .unwrap_or_else(|_| stream.content.clone());
    cmap(&String::from_utf8_lossy(&bytes))
}

fn cmap(text: &str) -> HashMap<u16, String> {
    let mut map = HashMap::new();
    for section in sections(text, "beginbfchar", "endbfchar") {
        let tokens = tokens(section);
        for pair in tokens.chunks_exact(2) {
            if let (Token::Hex(code), Token::Hex(target)) = (&pair[0], &pair[1]) {
                map.insert(code16(code), utf16(target));
            }
        }
    }
    for section in sections(text, "beginbfrange", "endbfrange") {
        let tokens = tokens(section);
        let mut at = 0;
        while at + 2 < tokens.len() {
            let (Token::Hex(low), Token::Hex(high)) = (&tokens[at], &tokens[at + 1]) else {
                break;
            };
            let (low, high) = (code16(low), code16(high));
            match &tokens[at + 2] {
                Token::Hex(first) => {
                    // Consecutive codes map to consecutive characters from `first`.
                    let mut target = first.clone();
                    for code in low..=high {
                        map.insert(code, utf16(&target));
                        increment(&mut target);
                    }
                    at += 3;
                }
                Token::Open => {
                    let mut code = low;
                    at += 3;
                    while let Some(Token::Hex(target)) = tokens.get(at) {
                        map.insert(code, utf16(target));
                        code = code.saturating_add(1);
                        at += 1;
                    }
                    at += 1; // the closing bracket
                }
                Token::Close => break,
            }
        }
    }
    map
}

fn sections<'a>(text: &'a str, begin: &str, end: &str) -> Vec<&'a str> {
    text.split(begin)
        .skip(1)
        .filter_map(|rest| rest.split(end).next())
        .collect()
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Hex(Vec<u8>),
    Open,
    Close,
}

fn tokens(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(['<', '[', ']']) {
        let (mark, after) = (&rest[at..=at], &rest[at + 1..]);
        match mark {
            "[" => tokens.push(Token::Open),
            "]" => tokens.push(Token::Close),
            _ => {
                let Some(end) = after.find('>') else { break };
                tokens.push(Token::Hex(hex(&after[..end])));
                rest = &after[end + 1..];
                continue;
            }
        }
        rest = after;
    }
    tokens
}

fn hex(digits: &str) -> Vec<u8> {
    let digits: Vec<u8> = digits
        .bytes()
        .filter_map(|b| (b as char).to_digit(16))
        .map(|d| d as u8)
        .collect();
    digits
        .chunks(2)
        .map(|pair| pair[0] << 4 | pair.get(1).copied().unwrap_or(0))
        .collect()
}

fn code16(bytes: &[u8]) -> u16 {
    bytes.iter().fold(0u16, |code, b| code << 8 | u16::from(*b))
}

fn utf16(bytes: &[u8]) -> String {
    let units: Vec<u16> = bytes
        .chunks(2)
        .map(|pair| u16::from_be_bytes([pair[0], pair.get(1).copied().unwrap_or(0)]))
        .collect();
    String::from_utf16_lossy(&units)
}

/// Adds one to a big-endian number in place.
fn increment(bytes: &mut [u8]) {
    for byte in bytes.iter_mut().rev() {
        let (next, carried) = byte.overflowing_add(1);
        *byte = next;
        if !carried {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cmap_reads_its_single_codes_and_both_kinds_of_range() {
        let map = cmap(
            "2 beginbfchar\n<0001> <0020>\n<0002> <D55C>\nendbfchar\n\
             2 beginbfrange\n<0010> <0012> <0041>\n<0020> <0021> [<0061> <0062>]\nendbfrange",
        );
        let text = |code| map.get(&code).cloned().unwrap_or_default();
        assert_eq!(text(1), " ");
        assert_eq!(text(2), "한");
        assert_eq!(
            (text(0x10), text(0x11), text(0x12)),
            ("A".into(), "B".into(), "C".into())
        );
        assert_eq!((text(0x20), text(0x21)), ("a".into(), "b".into()));
        assert!(!map.contains_key(&0x13));
    }
}
