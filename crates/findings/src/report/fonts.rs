//! Fonts cut down to the characters a report uses. genpdf embeds whatever font file it
//! is given, whole: four faces of a Korean font would make every PDF about 20 MB. The
//! subset keeps only the glyphs needed, renumbered, and a new `cmap` for exactly the
//! characters used, because genpdf (through printpdf and rusttype) finds glyphs by
//! character in the font itself, and `subsetter` drops the `cmap` table.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use subsetter::GlyphRemapper;

#[derive(Debug, thiserror::Error)]
pub enum FontError {
    #[error("cannot read the font {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} is not a font this report can use")]
    Unusable(PathBuf),
    #[error("cannot subset the font {0}")]
    Subset(PathBuf),
}

/// The regular and bold faces a report is set in.
#[derive(Debug, Clone)]
pub struct FontFiles {
    pub regular: PathBuf,
    pub bold: PathBuf,
    /// Embed only the glyphs used (always, but for the benchmark's whole-font baseline).
    pub subset: bool,
}

impl FontFiles {
    /// Nanum Gothic from Debian's fonts-nanum: Hangul and Latin in one face.
    pub fn nanum(dir: &Path) -> Self {
        Self {
            regular: dir.join("NanumGothic.ttf"),
            bold: dir.join("NanumGothicBold.ttf"),
            subset: true,
        }
    }

    /// The bytes to embed for `path`: a subset for `chars`, or the whole file.
    pub(crate) fn face(&self, path: &Path, chars: &BTreeSet<char>) -> Result<Vec<u8>, FontError> {
        if self.subset {
            subset(path, chars)
        } else {
            std::fs::read(path).map_err(|source| FontError::Read {
                path: path.to_owned(),
                source,
            })
        }
    }
}

pub const NANUM_DIR: &str = "/usr/share/fonts/truetype/nanum";

/// A font file holding only the glyphs of `chars` (and `.notdef`).
pub fn subset(path: &Path, chars: &BTreeSet<char>) -> Result<Vec<u8>, FontError> {
    let data = std::fs::read(path).map_err(|source| FontError::Read {
        path: path.to_owned(),
        source,
    })?;
    let face =
        ttf_parser::Face::parse(&data, 0).map_err(|_| FontError::Unusable(path.to_owned()))?;
    let mut remapper = GlyphRemapper::default();
    let mapping: Vec<(u32, u16)> = chars
        .iter()
        .filter_map(|&c| {
            face.glyph_index(c)
                .map(|g| (u32::from(c), remapper.remap(g.0)))
        })
        .collect();
    let subset =
        subsetter::subset(&data, 0, &remapper).map_err(|_| FontError::Subset(path.to_owned()))?;
    with_table(&subset, *b"cmap", &cmap(&mapping)).ok_or_else(|| FontError::Subset(path.to_owned()))
}

/// A format 12 `cmap` (Windows, full Unicode) over `(char, glyph)` pairs sorted by char.
fn cmap(mapping: &[(u32, u16)]) -> Vec<u8> {
    // Runs of consecutive characters on consecutive glyphs share one group.
    let mut groups: Vec<(u32, u32, u32)> = Vec::new();
    for &(c, glyph) in mapping {
        let glyph = u32::from(glyph);
        match groups.last_mut() {
            Some((start, end, first)) if c == *end + 1 && glyph == *first + (c - *start) => {
                *end = c;
            }
            _ => groups.push((c, c, glyph)),
        }
    }
    let count = u32::try_from(groups.len()).unwrap_or(u32::MAX);
    let mut table = Vec::with_capacity(28 + 12 * groups.len());
    for half in [0u16, 1, 3, 10] {
        // version, one encoding record: Windows, full Unicode …
        table.extend(half.to_be_bytes());
    }
    table.extend(12u32.to_be_bytes()); // … whose subtable follows at offset 12
    table.extend(12u16.to_be_bytes()); // format
    table.extend(0u16.to_be_bytes());
    table.extend((16 + 12 * count).to_be_bytes()); // subtable length
    table.extend(0u32.to_be_bytes()); // language
    table.extend(count.to_be_bytes());
    for (start, end, glyph) in groups {
        for word in [start, end, glyph] {
            table.extend(word.to_be_bytes());
        }
    }
    table
}

/// The font with `table` added under `tag` (or replacing it): a new table directory,
/// tables 4-byte aligned, checksums and `head.checkSumAdjustment` recomputed.
fn with_table(font: &[u8], tag: [u8; 4], table: &[u8]) -> Option<Vec<u8>> {
    let read_u16 = |at: usize| Some(u16::from_be_bytes(font.get(at..at + 2)?.try_into().ok()?));
    let read_u32 = |at: usize| Some(u32::from_be_bytes(font.get(at..at + 4)?.try_into().ok()?));
    let count = usize::from(read_u16(4)?);
    let mut tables: Vec<([u8; 4], &[u8])> = Vec::with_capacity(count + 1);
    for i in 0..count {
        let record = 12 + 16 * i;
        let name: [u8; 4] = font.get(record..record + 4)?.try_into().ok()?;
        let offset = read_u32(record + 8)? as usize;
        let length = read_u32(record + 12)? as usize;
        if name != tag {
            tables.push((name, font.get(offset..offset + length)?));
        }
    }
    tables.push((tag, table));
    tables.sort_by_key(|(name, _)| *name);

    let count = u16::try_from(tables.len()).ok()?;
    let power = 1u16 << (15 - count.leading_zeros().min(15));
    let mut out = Vec::new();
    out.extend(read_u32(0)?.to_be_bytes()); // sfnt version, as it was
    for half in [
        count,
        power * 16,
        power.trailing_zeros() as u16,
        count * 16 - power * 16,
    ] {
        out.extend(half.to_be_bytes());
    }
    let mut offset = 12 + 16 * tables.len();
    let mut head_at = None;
    for (name, data) in &tables {
        out.extend(name);
        out.extend(checksum(data).to_be_bytes());
        out.extend(u32::try_from(offset).ok()?.to_be_bytes());
        out.extend(u32::try_from(data.len()).ok()?.to_be_bytes());
        if name == b"head" {
            head_at = Some(offset);
        }
        offset += data.len().next_multiple_of(4);
    }
    for (_, data) in &tables {
        out.extend(*data);
        out.resize(out.len().next_multiple_of(4), 0);
    }
    if let Some(head) = head_at {
        // The whole-font checksum is taken with the adjustment zeroed.
        out.get_mut(head + 8..head + 12)?.fill(0);
        let adjustment = 0xB1B0_AFBAu32.wrapping_sub(checksum(&out));
        out.get_mut(head + 8..head + 12)?
            .copy_from_slice(&adjustment.to_be_bytes());
    }
    Some(out)
}

fn checksum(data: &[u8]) -> u32 {
    data.chunks(4).fold(0u32, |sum, chunk| {
        let mut word = [0u8; 4];
        word[..chunk.len()].copy_from_slice(chunk);
        sum.wrapping_add(u32::from_be_bytes(word))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subset_maps_exactly_the_characters_used() {
        let regular = FontFiles::nanum(Path::new(NANUM_DIR)).regular;
        let chars: BTreeSet<char> = "Evidence 증적 보고서 0123".chars().collect();
        let font = subset(&regular, &chars).unwrap();
        let whole = std::fs::metadata(&regular).unwrap().len();
        assert!(
            (font.len() as u64) < whole / 50,
            "{} of {whole} bytes",
            font.len()
        );
        let face = ttf_parser::Face::parse(&font, 0).unwrap();
        for c in chars {
            let glyph = face.glyph_index(c);
            assert!(glyph.is_some() || c == ' ', "{c:?} lost");
            if c != ' ' {
                assert!(
                    face.glyph_bounding_box(glyph.unwrap()).is_some(),
                    "{c:?} has no outline"
                );
            }
        }
        assert_eq!(face.glyph_index('X'), None, "unused characters are gone");
        // What genpdf itself parses the font with.
        assert!(rusttype_accepts(&font));
    }

    fn rusttype_accepts(font: &[u8]) -> bool {
        genpdf::fonts::FontData::new(font.to_vec(), None).is_ok()
    }

    #[test]
    fn consecutive_characters_on_consecutive_glyphs_share_a_group() {
        let table = cmap(&[(65, 1), (66, 2), (67, 3), (70, 4), (71, 9)]);
        let groups = u32::from_be_bytes(table[24..28].try_into().unwrap());
        assert_eq!(groups, 3);
    }
}
