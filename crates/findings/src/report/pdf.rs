//! Setting the blocks with genpdf: A4 landscape, the title and page number on every
//! page, fonts subset to the characters used.

use genpdf::elements::{Break, FrameCellDecorator, PageBreak, Paragraph, TableLayout};
use genpdf::fonts::{FontData, FontFamily};
use genpdf::style::{Color, Style};
use genpdf::{Document, Element, SimplePageDecorator, Size};

use super::fonts::{FontError, FontFiles};
use super::{BAR_MARK, Bar, Block, characters};

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error(transparent)]
    Font(#[from] FontError),
    #[error("cannot lay out the report: {0}")]
    Layout(String),
}

const BODY_SIZE: u8 = 8;

/// The PDF of `blocks`; `running_title` heads every page.
pub fn render(
    blocks: &[Block],
    running_title: &str,
    page_word: &str,
    files: &FontFiles,
) -> Result<Vec<u8>, PdfError> {
    let chars = characters(
        blocks,
        &format!("{}0123456789…", page_header(running_title, page_word, 0)),
    );
    let regular = files.face(&files.regular, &chars)?;
    let bold = files.face(&files.bold, &chars)?;
    let face =
        |data: Vec<u8>| FontData::new(data, None).map_err(|e| PdfError::Layout(e.to_string()));
    let family = FontFamily {
        regular: face(regular.clone())?,
        italic: face(regular)?,
        bold: face(bold.clone())?,
        bold_italic: face(bold)?,
    };

    let mut document = Document::new(family);
    document.set_title(running_title);
    // The default PDF/X-3 conformance embeds a 650 KB colour profile in every file.
    document.set_minimal_conformance();
    document.set_paper_size(Size::new(297, 210));
    document.set_font_size(BODY_SIZE);
    document.set_line_spacing(1.15);
    let mut decorator = SimplePageDecorator::new();
    decorator.set_margins(12);
    let running = running_title.to_owned();
    let page_word = page_word.to_owned();
    decorator.set_header(move |page| {
        Paragraph::new(page_header(&running, &page_word, page))
            .styled(Style::new().with_font_size(7))
            .padded(genpdf::Margins::trbl(0, 0, 3, 0))
    });
    document.set_page_decorator(decorator);

    for block in blocks {
        match block {
            Block::Title(text) => {
                document.push(Break::new(6));
                document.push(
                    Paragraph::new(text.as_str()).styled(Style::new().bold().with_font_size(20)),
                );
                document.push(Break::new(2));
            }
            Block::Heading(text) => {
                document.push(Break::new(1.5));
                document.push(
                    Paragraph::new(text.as_str()).styled(Style::new().bold().with_font_size(12)),
                );
                document.push(Break::new(0.5));
            }
            Block::Text(text) => {
                document.push(Paragraph::new(text.as_str()).styled(Style::new().with_font_size(10)))
            }
            Block::PageBreak => document.push(PageBreak::new()),
            Block::Table {
                widths,
                header,
                rows,
            } => document.push(table(widths, header, rows)?),
            Block::Bars(bars) => document.push(bar_chart(bars)?),
        }
    }
    let mut pdf = Vec::new();
    document
        .render(&mut pdf)
        .map_err(|e| PdfError::Layout(e.to_string()))?;
    compressed(&pdf)
}

/// The PDF with every stream deflated: printpdf writes page contents and fonts
/// uncompressed, which makes a table page about 35 KB instead of a few.
fn compressed(pdf: &[u8]) -> Result<Vec<u8>, PdfError> {
    let mut document =
        lopdf::Document::load_mem(pdf).map_err(|e| PdfError::Layout(e.to_string()))?;
    document.compress();
    let mut out = Vec::with_capacity(pdf.len() / 4);
    document
        .save_to(&mut out)
        .map_err(|e| PdfError::Layout(e.to_string()))?;
    Ok(out)
}

/// The line atop every page.
fn page_header(title: &str, page_word: &str, page: usize) -> String {
    format!("{title} — {page_word} {page}")
}

/// The widest bar, in marks.
const BAR_MARKS: u64 = 60;

fn bar_chart(bars: &[Bar]) -> Result<TableLayout, PdfError> {
    let mut table = TableLayout::new(vec![3, 12, 2]);
    let largest = bars.iter().map(|b| b.value).max().unwrap_or(0).max(1);
    for bar in bars {
        let marks = (bar.value * BAR_MARKS).div_ceil(largest);
        let (r, g, b) = bar.colour;
        let mut row = table.row();
        row.push_element(Paragraph::new(bar.label.as_str()).padded(0.5));
        row.push_element(
            Paragraph::new(
                BAR_MARK
                    .to_string()
                    .repeat(usize::try_from(marks).unwrap_or(0)),
            )
            .styled(
                Style::new()
                    .with_color(Color::Rgb(r, g, b))
                    .with_font_size(8),
            )
            .padded(0.5),
        );
        row.push_element(Paragraph::new(bar.value.to_string()).padded(0.5));
        row.push().map_err(|e| PdfError::Layout(e.to_string()))?;
    }
    Ok(table)
}

fn table(
    widths: &[usize],
    header: &[String],
    rows: &[Vec<String>],
) -> Result<TableLayout, PdfError> {
    let mut table = TableLayout::new(widths.to_vec());
    table.set_cell_decorator(FrameCellDecorator::new(true, true, true));
    let cell = |text: &str, style: Style| Paragraph::new(text).styled(style).padded(1);
    let mut row = table.row();
    for name in header {
        row.push_element(cell(name, Style::new().bold()));
    }
    row.push().map_err(|e| PdfError::Layout(e.to_string()))?;
    for values in rows {
        let mut row = table.row();
        for value in values {
            row.push_element(cell(value, Style::new()));
        }
        row.push().map_err(|e| PdfError::Layout(e.to_string()))?;
    }
    Ok(table)
}
