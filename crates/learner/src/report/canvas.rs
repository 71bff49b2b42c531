//! Rendering a plot into memory, encoding it as PNG and writing it atomically.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::{BitMapBackend, DrawingArea, IntoDrawingArea, WHITE};

use super::error::ReportError;
use super::font::ensure_font;

/// The drawing area handed to plot bodies.
pub(crate) type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// Renders `body` on a white `width x height` RGB canvas and writes it to `path` as PNG
/// (atomically, with the `atomic-file` crate: temp file in the same directory, then rename).
pub(crate) fn render_png(
    path: &Path,
    (width, height): (u32, u32),
    body: impl FnOnce(&Area<'_>) -> Result<(), ReportError>,
) -> Result<(), ReportError> {
    ensure_font()?;
    let mut rgb = vec![0u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        root.fill(&WHITE)?;
        body(&root)?;
        root.present()?;
    }
    let png = encode_png(&rgb, width, height)?;
    atomic_file::write_atomic(path, &png).map_err(|e| ReportError::io(path, e))
}

/// Encodes 8-bit RGB pixels (row-major, 3 bytes each) as a PNG file in memory.
fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, ReportError> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, width, height);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header()?;
        writer.write_image_data(rgb)?;
        writer.finish()?;
    }
    Ok(out)
}
