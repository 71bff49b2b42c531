//! The text font for plots: DejaVu Sans, embedded from the `dejavu` crate (DejaVu fonts are
//! under the permissive Bitstream Vera / DejaVu licence) and rendered with `ab_glyph`, so
//! plots draw labels on a headless machine without fontconfig or system fonts.

use std::sync::OnceLock;

use plotters::style::{register_font, FontStyle};

use super::error::ReportError;

/// Registers DejaVu Sans as plotters' `sans-serif` family, once per process.
pub(crate) fn ensure_font() -> Result<(), ReportError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular()).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(ReportError::Font)
    }
}
