//! kubectl's table layout: aligned columns with upper-case headers, as its tabwriter prints
//! them. Depends on nothing else of the crate.

use std::io::{self, Write};

/// kubectl's tabwriter settings: minimum cell width 6, padding 3.
const MIN_WIDTH: usize = 6;
const PADDING: usize = 3;
/// What kubectl prints for a missing value.
pub const NONE: &str = "<none>";

/// Writes rows as kubectl's tabwriter does: each column as wide as its widest cell plus 3
/// spaces (at least 6), the last column unpadded.
pub fn write_table<W: Write>(
    out: &mut W,
    headers: &[&str],
    rows: &[Vec<String>],
    no_headers: bool,
) -> io::Result<()> {
    let columns = headers.len();
    let mut widths: Vec<usize> = headers
        .iter()
        .map(|h| if no_headers { 0 } else { h.chars().count() })
        .collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(columns) {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let header_row: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    let all = (!no_headers)
        .then_some(&header_row)
        .into_iter()
        .chain(rows.iter());
    for row in all {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate().take(columns) {
            line.push_str(cell);
            if i + 1 < columns {
                let width = (widths[i] + PADDING).max(MIN_WIDTH);
                line.extend(std::iter::repeat_n(' ', width - cell.chars().count()));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}
