//! A pre-check of every page header of a Parquet file, before the decoder sees it.
//!
//! The parquet crate allocates a compressed page's declared uncompressed size before
//! decompressing it (`Vec::with_capacity`, then filled by the codec), trusting the header: a
//! hostile 1 KB file can declare a 2 GiB page. The headers are Thrift compact-protocol structs
//! that the crate does not expose, so this module walks each column chunk's pages itself,
//! reading only the size fields of each header, and rejects a declared size above the caller's
//! limit (and a dictionary count its page cannot hold). A header it cannot parse as canonical
//! Thrift — truncated, with missing or negative sizes, or with over-long varints that the decoder
//! might read differently — is refused too: fuzzing found hostile sizes hidden behind each.

use parquet::basic::Compression;
use parquet::file::metadata::ParquetMetaData;
use parquet::file::reader::ChunkReader;

/// Bytes read at first for one page header (most are a few dozen bytes; statistics can make
/// them longer, and the window grows up to [`MAX_HEADER`]).
const FIRST_WINDOW: u64 = 256;
/// Largest page header read (one with min/max statistics of long strings).
const MAX_HEADER: u64 = 16 << 20;
/// Deepest struct/list nesting accepted in a header (real headers nest two levels).
const MAX_DEPTH: u32 = 16;

/// Checks the declared uncompressed size of every page of every compressed column chunk
/// against `max_page_bytes`, and the value count of every dictionary page against its bytes. `Err` carries the message of an [`crate::Error::Parquet`].
pub(crate) fn check_page_sizes<R: ChunkReader>(
    input: &R,
    metadata: &ParquetMetaData,
    max_page_bytes: usize,
) -> Result<(), String> {
    let file_len = input.len();
    for (rg, row_group) in metadata.row_groups().iter().enumerate() {
        for column in row_group.columns() {
            // Uncompressed pages are used as they are (nothing is allocated from their declared
            // size), but their dictionary counts are trusted all the same.
            let compressed_chunk = column.compression() != Compression::UNCOMPRESSED;
            // The decoder reads pages from the chunk's start for as long as the file lasts,
            // whatever length the footer declares: walk the same bytes.
            let (start, len) = column.byte_range();
            let end = start.saturating_add(len).min(file_len);
            let mut pos = start;
            while pos < end {
                let header = read_header(input, pos, end).map_err(|why| {
                    format!(
                        "corrupt or hostile file: row group {rg}, column {:?}: the page header at \
                         byte {pos} is {why}",
                        column.column_path().string()
                    )
                })?;
                if compressed_chunk
                    && usize::try_from(header.uncompressed).map_or(true, |n| n > max_page_bytes)
                {
                    return Err(format!(
                        "corrupt or hostile file: row group {rg}, column {:?}: a page at byte \
                         {pos} declares {} uncompressed bytes, more than the limit of \
                         {max_page_bytes} (ParquetOptions::max_page_bytes)",
                        column.column_path().string(),
                        header.uncompressed
                    ));
                }
                if let Some(values) = header.dictionary_values {
                    let (bytes, per) =
                        min_value_size(column.column_type(), column.column_descr().type_length());
                    let needed = values.div_ceil(per).saturating_mul(bytes);
                    if needed > header.uncompressed {
                        return Err(format!(
                            "corrupt or hostile file: row group {rg}, column {:?}: the dictionary \
                             page at byte {pos} declares {values} values, more than its {} bytes \
                             can hold",
                            column.column_path().string(),
                            header.uncompressed
                        ));
                    }
                }
                match pos
                    .checked_add(header.len)
                    .and_then(|p| p.checked_add(header.compressed))
                {
                    Some(next) if next > pos => pos = next,
                    _ => break,
                }
            }
        }
    }
    Ok(())
}

/// Checks the footer's `FileMetaData` for counts that would size allocations beyond what its
/// bytes can hold (a schema element claiming more children than the schema has elements, a
/// list longer than its bytes). Footers it cannot locate (too short, no `PAR1`, encrypted) are
/// left to the decoder. `Err` carries the message of an [`crate::Error::Parquet`].
pub(crate) fn check_footer<R: ChunkReader>(input: &R) -> Result<(), String> {
    let len = input.len();
    if len < 12 {
        return Ok(());
    }
    let Ok(tail) = input.get_bytes(len - 8, 8) else {
        return Ok(());
    };
    let (Some(size), Some(magic)) = (tail.get(..4), tail.get(4..8)) else {
        return Ok(());
    };
    let mut word = [0u8; 4];
    word.copy_from_slice(size);
    let meta_len = u64::from(u32::from_le_bytes(word));
    if magic != b"PAR1" || meta_len + 8 > len {
        return Ok(());
    }
    let Ok(meta) = input.get_bytes(len - 8 - meta_len, meta_len as usize) else {
        return Ok(());
    };
    let mut cursor = Cursor { buf: &meta, pos: 0 };
    cursor.file_metadata().map_err(|_| {
        "corrupt or hostile file: the footer's metadata declares counts its bytes cannot hold \
         (or is not valid Thrift)"
            .to_string()
    })
}

/// The parts of a page header the check needs.
struct Header {
    /// Bytes of the header itself.
    len: u64,
    uncompressed: u64,
    compressed: u64,
    /// `dictionary_page_header.num_values` of a dictionary page.
    dictionary_values: Option<u64>,
}

/// Smallest encoded size of one value of `physical` in a (PLAIN-encoded) dictionary page, as a
/// fraction `(bytes, per values)`: the decoder sizes the dictionary from the declared count
/// before decoding it, so a count the page's bytes cannot hold is refused.
fn min_value_size(physical: parquet::basic::Type, type_length: i32) -> (u64, u64) {
    use parquet::basic::Type;
    match physical {
        Type::BOOLEAN => (1, 8),
        Type::INT32 | Type::FLOAT | Type::BYTE_ARRAY => (4, 1),
        Type::INT64 | Type::DOUBLE => (8, 1),
        Type::INT96 => (12, 1),
        Type::FIXED_LEN_BYTE_ARRAY => (u64::try_from(type_length).unwrap_or(1).max(1), 1),
    }
}

/// Parses the page header at `pos` (growing the read window as needed).
fn read_header<R: ChunkReader>(input: &R, pos: u64, end: u64) -> Result<Header, &'static str> {
    let mut window = FIRST_WINDOW;
    loop {
        let available = end - pos;
        let want = window.min(available);
        let bytes = input
            .get_bytes(pos, usize::try_from(want).map_err(|_| "unreadable")?)
            .map_err(|_| "unreadable")?;
        let mut cursor = Cursor {
            buf: &bytes,
            pos: 0,
        };
        match cursor.page_header() {
            Ok(Some((uncompressed, compressed, dictionary_values))) => {
                return Ok(Header {
                    len: cursor.pos as u64,
                    uncompressed,
                    compressed,
                    dictionary_values,
                });
            }
            Ok(None) => return Err("missing or negative page sizes"),
            Err(Parse::Invalid) => return Err("not a valid Thrift page header"),
            Err(Parse::Short) if want < available && window < MAX_HEADER => window *= 16,
            Err(Parse::Short) => return Err("truncated"),
        }
    }
}

/// Why a header did not parse.
#[derive(Debug, PartialEq)]
enum Parse {
    /// The bytes ended inside it: read more.
    Short,
    /// Not a Thrift compact struct.
    Invalid,
}

/// A Thrift compact-protocol reader over a byte window.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn byte(&mut self) -> Result<u8, Parse> {
        let b = *self.buf.get(self.pos).ok_or(Parse::Short)?;
        self.pos += 1;
        Ok(b)
    }

    /// A varint of at most ten bytes (a longer one is not canonical Thrift: the decoder may read
    /// it differently, so it is refused).
    fn varint(&mut self) -> Result<u64, Parse> {
        let mut value = 0u64;
        for i in 0..10u32 {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f).checked_shl(7 * i).unwrap_or(0);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(Parse::Invalid)
    }

    fn zigzag(&mut self) -> Result<i64, Parse> {
        let v = self.varint()?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }

    /// An i32 field (a varint that does not fit 32 bits is refused).
    fn zigzag32(&mut self) -> Result<i32, Parse> {
        let v = u32::try_from(self.varint()?).map_err(|_| Parse::Invalid)?;
        Ok(((v >> 1) as i32) ^ -((v & 1) as i32))
    }

    /// The next field header of a struct: `(field id, compact type)`, or `None` at its end.
    fn field(&mut self, last_id: &mut i64) -> Result<Option<(i64, u8)>, Parse> {
        let header = self.byte()?;
        let kind = header & 0x0f;
        if kind == 0 {
            return Ok(None);
        }
        let delta = header >> 4;
        *last_id = if delta == 0 {
            self.zigzag()?
        } else {
            *last_id + i64::from(delta)
        };
        Ok(Some((*last_id, kind)))
    }

    /// Bytes left in the window.
    fn remaining(&self) -> u64 {
        self.buf.len().saturating_sub(self.pos) as u64
    }

    /// The footer's `FileMetaData` struct, checked for hostile counts: list lengths (in
    /// [`Cursor::skip`]) and each schema element's `num_children` (field 5 of the elements of
    /// field 2), which the parquet crate allocates from before building the schema tree.
    fn file_metadata(&mut self) -> Result<(), Parse> {
        let mut last_id = 0i64;
        while let Some((id, kind)) = self.field(&mut last_id)? {
            if (id, kind) != (2, 9) {
                self.skip(kind, 0)?;
                continue;
            }
            let list = self.byte()?;
            let size = match list >> 4 {
                15 => self.varint()?,
                n => u64::from(n),
            };
            if size > self.remaining() || list & 0x0f != 12 {
                return Err(Parse::Invalid);
            }
            for _ in 0..size {
                let mut last = 0i64;
                while let Some((id, kind)) = self.field(&mut last)? {
                    if (id, kind) == (5, 5) {
                        let children = self.zigzag32()?;
                        if u64::try_from(children).map_or(true, |c| c > size) {
                            return Err(Parse::Invalid);
                        }
                    } else {
                        self.skip(kind, 1)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn skip_bytes(&mut self, n: u64) -> Result<(), Parse> {
        let n = usize::try_from(n).map_err(|_| Parse::Invalid)?;
        let to = self.pos.checked_add(n).ok_or(Parse::Invalid)?;
        if to > self.buf.len() {
            return Err(Parse::Short);
        }
        self.pos = to;
        Ok(())
    }

    /// The `PageHeader` struct: fields 2 (uncompressed_page_size) and 3
    /// (compressed_page_size), both required i32 (`Ok(None)` when either is missing or
    /// negative), and field 1 (num_values) of field 7 (dictionary_page_header).
    fn page_header(&mut self) -> Result<Option<(u64, u64, Option<u64>)>, Parse> {
        let (mut uncompressed, mut compressed, mut dictionary) = (None, None, None);
        let mut last_id = 0i64;
        while let Some((id, kind)) = self.field(&mut last_id)? {
            match (id, kind) {
                (2, 5) => uncompressed = u64::try_from(self.zigzag32()?).ok(),
                (3, 5) => compressed = u64::try_from(self.zigzag32()?).ok(),
                (7, 12) => dictionary = self.first_i32_field()?,
                _ => self.skip(kind, 0)?,
            }
        }
        Ok(uncompressed
            .zip(compressed)
            .map(|(u, c)| (u, c, dictionary)))
    }

    /// Reads a struct, returning its field 1 when it is an i32 (negative counts as `u64::MAX`:
    /// a count no page can hold).
    fn first_i32_field(&mut self) -> Result<Option<u64>, Parse> {
        let mut out = None;
        let mut last_id = 0i64;
        while let Some((id, kind)) = self.field(&mut last_id)? {
            if (id, kind) == (1, 5) {
                out = Some(u64::try_from(self.zigzag32()?).unwrap_or(u64::MAX));
            } else {
                self.skip(kind, 1)?;
            }
        }
        Ok(out)
    }

    /// Skips one value of compact type `kind`.
    fn skip(&mut self, kind: u8, depth: u32) -> Result<(), Parse> {
        if depth > MAX_DEPTH {
            return Err(Parse::Invalid);
        }
        match kind {
            // Booleans carry their value in the type nibble (as fields) or one byte (in lists).
            1 | 2 => Ok(()),
            3 => self.byte().map(drop),
            4..=6 => self.varint().map(drop),
            7 => self.skip_bytes(8),
            8 => {
                let n = self.varint()?;
                self.skip_bytes(n)
            }
            9 | 10 => {
                let header = self.byte()?;
                let element = header & 0x0f;
                let size = match header >> 4 {
                    15 => self.varint()?,
                    n => u64::from(n),
                };
                // Every element takes at least one byte: a longer list is a hostile length
                // (readers allocate from it).
                if size > self.remaining() {
                    return Err(Parse::Invalid);
                }
                for _ in 0..size {
                    if matches!(element, 1 | 2) {
                        self.byte()?;
                    } else {
                        self.skip(element, depth + 1)?;
                    }
                }
                Ok(())
            }
            11 => {
                let size = self.varint()?;
                if size == 0 {
                    return Ok(());
                }
                if size > self.remaining() {
                    return Err(Parse::Invalid);
                }
                let types = self.byte()?;
                for _ in 0..size {
                    for t in [types >> 4, types & 0x0f] {
                        if matches!(t, 1 | 2) {
                            self.byte()?;
                        } else {
                            self.skip(t, depth + 1)?;
                        }
                    }
                }
                Ok(())
            }
            12 => loop {
                let header = self.byte()?;
                let t = header & 0x0f;
                if t == 0 {
                    return Ok(());
                }
                if header >> 4 == 0 {
                    self.zigzag()?;
                }
                self.skip(t, depth + 1)?;
            },
            _ => Err(Parse::Invalid),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-encoded header: type 0 (DATA_PAGE), sizes, a nested data_page_header with a
    /// statistics struct holding a binary, then STOP.
    fn header(uncompressed: u8, compressed: u8) -> Vec<u8> {
        let zz = |v: u8| v << 1; // zigzag of a small non-negative value, one varint byte
        vec![
            0x15,
            0x00, // field 1, i32: 0
            0x15,
            zz(uncompressed), // field 2, i32
            0x15,
            zz(compressed), // field 3, i32
            0x2c,           // field 5 (delta 2), struct
            0x15,
            0x06, // num_values = 3
            0x15,
            0x00, // encoding
            0x15,
            0x00,
            0x15,
            0x00, // two more i32 fields
            0x1c, // field 5 (delta 1), struct: statistics
            0x18,
            0x02,
            b'a',
            b'b', // binary "ab"
            0x00, // end statistics
            0x00, // end data_page_header
            0x00, // end PageHeader
        ]
    }

    #[test]
    fn reads_the_sizes_and_the_length_of_a_header() {
        let bytes = header(40, 30);
        let mut cursor = Cursor {
            buf: &bytes,
            pos: 0,
        };
        assert_eq!(cursor.page_header(), Ok(Some((40, 30, None))));
        assert_eq!(cursor.pos, bytes.len());
    }

    #[test]
    fn truncated_headers_ask_for_more_and_junk_is_invalid() {
        let bytes = header(40, 30);
        for cut in 0..bytes.len() {
            let mut cursor = Cursor {
                buf: &bytes[..cut],
                pos: 0,
            };
            assert_eq!(cursor.page_header(), Err(Parse::Short), "cut at {cut}");
        }
        let mut cursor = Cursor {
            buf: &[0x1d, 0x00],
            pos: 0,
        };
        assert_eq!(cursor.page_header(), Err(Parse::Invalid));
        // Deep nesting is refused, not recursed into.
        let deep: Vec<u8> = std::iter::once(0x1c)
            .chain(std::iter::repeat_n(0x1c, 100))
            .collect();
        let mut cursor = Cursor { buf: &deep, pos: 0 };
        assert_eq!(cursor.page_header(), Err(Parse::Invalid));
    }
}
