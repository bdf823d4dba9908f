//! CSV/TSV: a quote-aware tokenizer (it must tell `""` from an empty field, which arrow-csv
//! cannot), whole-file type inference, a streaming reader and a streaming writer.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, FixedSizeBinaryBuilder,
    Float64Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, Float64Type, Int64Type, TimestampMicrosecondType,
};
use arrow_array::{Array, ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

use super::error::{at_line, at_line_col};
use super::normalize::canonical_schema;
use super::text::{
    format_date, format_decimal, format_float, format_timestamp, parse_date, parse_decimal,
    parse_float, parse_hex, parse_timestamp, push_hex,
};
use super::{BatchIter, Counting, CsvOptions, InterchangeError};

/// Size of the tokenizer's read buffer.
const READ_BUF: usize = 1 << 16;

/// One parsed CSV record: the unescaped bytes of every field, back to back.
#[derive(Debug, Default)]
pub(crate) struct Record {
    data: Vec<u8>,
    ends: Vec<usize>,
    quoted: Vec<bool>,
    /// 1-based physical line the record starts on.
    line: u64,
}

impl Record {
    /// Number of fields.
    fn len(&self) -> usize {
        self.ends.len()
    }

    /// The `i`-th field's bytes and whether it was quoted.
    fn field(&self, i: usize) -> (&[u8], bool) {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        (&self.data[start..self.ends[i]], self.quoted[i])
    }

    /// Whether this is a blank line (one empty, unquoted field).
    fn is_blank(&self) -> bool {
        self.len() == 1 && self.data.is_empty() && !self.quoted[0]
    }

    /// Closes the current field.
    fn end_field(&mut self, quoted: bool) {
        self.ends.push(self.data.len());
        self.quoted.push(quoted);
    }
}

/// A tokenizer failure.
enum TokError {
    Io(io::Error),
    Syntax(u64, &'static str),
}

/// Tokenizer state within a record.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a field.
    Start,
    /// Inside an unquoted field.
    Unquoted,
    /// Inside a quoted field.
    Quoted,
    /// Just after a quote inside a quoted field (end of field, or the first of `""`).
    QuoteInQuoted,
}

/// RFC 4180 tokenizer with `\n`, `\r\n` or `\r` line ends and a configurable delimiter.
pub(crate) struct Tokenizer<R> {
    reader: R,
    buf: Box<[u8]>,
    pos: usize,
    end: usize,
    /// 1-based number of the line the next byte is on.
    line: u64,
    delimiter: u8,
    /// The previous record ended with `\r`: a following `\n` belongs to it.
    skip_lf: bool,
    /// The last record returned was ended by the end of the input, not by a line end.
    ended_by_eof: bool,
}

impl<R: Read> Tokenizer<R> {
    fn new(reader: R, delimiter: u8) -> Self {
        Tokenizer {
            reader,
            buf: vec![0u8; READ_BUF].into_boxed_slice(),
            pos: 0,
            end: 0,
            line: 1,
            delimiter,
            skip_lf: false,
            ended_by_eof: false,
        }
    }

    /// Makes sure unread bytes are buffered; `false` at end of input.
    fn fill(&mut self) -> io::Result<bool> {
        if self.pos < self.end {
            return Ok(true);
        }
        loop {
            match self.reader.read(&mut self.buf) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.pos = 0;
                    self.end = n;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads the next record into `rec`; `false` at end of input.
    fn next_record(&mut self, rec: &mut Record) -> Result<bool, TokError> {
        rec.data.clear();
        rec.ends.clear();
        rec.quoted.clear();
        let mut state = State::Start;
        let mut quoted = false;
        let mut started = false;
        let delim = self.delimiter;
        loop {
            if !self.fill().map_err(TokError::Io)? {
                rec.line = if started { rec.line } else { self.line };
                return match state {
                    State::Start if !started => Ok(false),
                    State::Quoted => Err(TokError::Syntax(rec.line, "unterminated quoted field")),
                    _ => {
                        rec.end_field(quoted);
                        self.ended_by_eof = true;
                        Ok(true)
                    }
                };
            }
            if self.skip_lf {
                self.skip_lf = false;
                if self.buf[self.pos] == b'\n' {
                    self.pos += 1;
                    continue;
                }
            }
            if !started {
                started = true;
                rec.line = self.line;
            }
            let buf = &self.buf[self.pos..self.end];
            let mut i = 0;
            while i < buf.len() {
                match state {
                    State::Start => {
                        if buf[i] == b'"' {
                            quoted = true;
                            state = State::Quoted;
                            i += 1;
                        } else {
                            state = State::Unquoted;
                        }
                    }
                    State::Unquoted => {
                        let start = i;
                        i = find_field_end(&buf[i..], delim).map_or(buf.len(), |k| i + k);
                        rec.data.extend_from_slice(&buf[start..i]);
                        if i < buf.len() {
                            let c = buf[i];
                            i += 1;
                            rec.end_field(quoted);
                            quoted = false;
                            if c == delim {
                                state = State::Start;
                            } else {
                                self.line += 1;
                                self.skip_lf = c == b'\r';
                                self.pos += i;
                                return Ok(true);
                            }
                        }
                    }
                    State::Quoted => {
                        let start = i;
                        i = memchr::memchr(b'"', &buf[i..]).map_or(buf.len(), |k| i + k);
                        self.line += memchr::memchr_iter(b'\n', &buf[start..i]).count() as u64;
                        rec.data.extend_from_slice(&buf[start..i]);
                        if i < buf.len() {
                            i += 1;
                            state = State::QuoteInQuoted;
                        }
                    }
                    State::QuoteInQuoted => {
                        let c = buf[i];
                        if c == b'"' {
                            rec.data.push(b'"');
                            state = State::Quoted;
                            i += 1;
                        } else if c == delim || c == b'\n' || c == b'\r' {
                            // The unquoted scanner ends the field at this very byte.
                            state = State::Unquoted;
                        } else {
                            return Err(TokError::Syntax(
                                self.line,
                                "unexpected character after a closing quote",
                            ));
                        }
                    }
                }
            }
            self.pos += i;
        }
    }
}

/// The first delimiter, `\n` or `\r` in `buf`.
///
/// Most fields are short, so the first 16 bytes are checked 8 at a time in plain registers
/// (a vector search costs more to set up than these fields take); longer fields go to
/// `memchr3`.
pub(crate) fn find_field_end(buf: &[u8], delim: u8) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // A high bit for each zero byte of `x`; the lowest one set is exact (borrows only reach
    // bytes above a zero byte).
    let zeros = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let (d, n, r) = (
        ONES * u64::from(delim),
        ONES * u64::from(b'\n'),
        ONES * u64::from(b'\r'),
    );
    let mut at = 0;
    while at < 16 && at + 8 <= buf.len() {
        let mut word = [0u8; 8];
        word.copy_from_slice(&buf[at..at + 8]);
        let w = u64::from_le_bytes(word);
        let hits = zeros(w ^ d) | zeros(w ^ n) | zeros(w ^ r);
        if hits != 0 {
            return Some(at + (hits.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    memchr::memchr3(delim, b'\n', b'\r', &buf[at..]).map(|k| at + k)
}

/// The type of a CSV column, from a canonical Arrow type.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Bool,
    Int,
    Float,
    Decimal(u8, i8),
    Text,
    Binary,
    Fixed(i32),
    Date,
    Timestamp(Option<Arc<str>>),
}

impl Kind {
    /// The kind for a canonical Arrow type.
    fn of(dt: &DataType) -> Option<Kind> {
        Some(match dt {
            DataType::Boolean => Kind::Bool,
            DataType::Int64 => Kind::Int,
            DataType::Float64 => Kind::Float,
            // Only valid decimal types (the builder requires them).
            DataType::Decimal128(p, s)
                if (1..=38).contains(p) && i16::from(*s) <= i16::from(*p) =>
            {
                Kind::Decimal(*p, *s)
            }
            DataType::Utf8 => Kind::Text,
            DataType::Binary => Kind::Binary,
            DataType::FixedSizeBinary(n) => Kind::Fixed(*n),
            DataType::Date32 => Kind::Date,
            DataType::Timestamp(TimeUnit::Microsecond, tz) => Kind::Timestamp(tz.clone()),
            _ => return None,
        })
    }

    /// The Arrow type of this kind.
    fn data_type(&self) -> DataType {
        match self {
            Kind::Bool => DataType::Boolean,
            Kind::Int => DataType::Int64,
            Kind::Float => DataType::Float64,
            Kind::Decimal(p, s) => DataType::Decimal128(*p, *s),
            Kind::Text => DataType::Utf8,
            Kind::Binary => DataType::Binary,
            Kind::Fixed(n) => DataType::FixedSizeBinary(*n),
            Kind::Date => DataType::Date32,
            Kind::Timestamp(tz) => DataType::Timestamp(TimeUnit::Microsecond, tz.clone()),
        }
    }

    /// The name used in error messages.
    fn describe(&self) -> String {
        match self {
            Kind::Bool => "BOOL".into(),
            Kind::Int => "INT".into(),
            Kind::Float => "FLOAT".into(),
            Kind::Decimal(p, s) => format!("DECIMAL({p},{s})"),
            Kind::Text => "TEXT".into(),
            Kind::Binary => "BYTES (hex)".into(),
            Kind::Fixed(n) => format!("{n}-byte binary (hex)"),
            Kind::Date => "DATE (YYYY-MM-DD)".into(),
            Kind::Timestamp(_) => "TIMESTAMP".into(),
        }
    }
}

/// Per-column type inference state: which types every non-null value so far fits.
#[derive(Debug, Clone)]
struct Guess {
    seen: bool,
    int: bool,
    float: bool,
    boolean: bool,
    date: bool,
    timestamp: bool,
    zoned: bool,
    naive: bool,
}

/// Integers up to this magnitude are exact in an f64.
const F64_EXACT_INT: u64 = 1 << 53;

impl Guess {
    fn new() -> Self {
        Guess {
            seen: false,
            int: true,
            float: true,
            boolean: true,
            date: true,
            timestamp: true,
            zoned: false,
            naive: false,
        }
    }

    /// Narrows the candidates by one non-null value.
    fn observe(&mut self, s: &str) {
        self.seen = true;
        if !(self.int || self.float || self.boolean || self.date || self.timestamp) {
            return;
        }
        let as_int = s.parse::<i64>().ok();
        if self.int && as_int.is_none() {
            self.int = false;
        }
        if self.float {
            let integer_text = {
                let b = s.strip_prefix(['+', '-']).unwrap_or(s);
                !b.is_empty() && b.bytes().all(|c| c.is_ascii_digit())
            };
            // An integer that an f64 cannot hold exactly keeps the column out of FLOAT.
            self.float = if integer_text {
                as_int.is_some_and(|v| v.unsigned_abs() <= F64_EXACT_INT)
            } else {
                parse_float(s).is_some()
            };
        }
        if as_int.is_some() || (self.float && !self.int) {
            // A number is never a boolean, date or timestamp.
            self.boolean = false;
            self.date = false;
            self.timestamp = false;
            return;
        }
        if self.boolean && !(s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false")) {
            self.boolean = false;
        }
        if self.date && parse_date(s).is_none() {
            self.date = false;
        }
        if self.timestamp {
            match parse_timestamp(s) {
                Some((_, true)) => self.zoned = true,
                Some((_, false)) => self.naive = true,
                None => self.timestamp = false,
            }
        }
    }

    /// Combines the guesses of two parts of a column (either order): the result equals the
    /// guess after observing both parts' values in sequence.
    ///
    /// Every flag but `zoned`/`naive` says "all values so far fit"; a value's effect on it
    /// does not depend on the values before it (the early exits skip only flags already
    /// false, and a number — the one state-dependent case — never parses as a boolean, date
    /// or timestamp either way). `zoned`/`naive` say "some value had (no) zone" and matter
    /// only while `timestamp` holds, when both parts' values were all timestamps.
    fn merge(&mut self, other: &Guess) {
        self.seen |= other.seen;
        self.int &= other.int;
        self.float &= other.float;
        self.boolean &= other.boolean;
        self.date &= other.date;
        self.timestamp &= other.timestamp;
        self.zoned |= other.zoned;
        self.naive |= other.naive;
    }

    /// The inferred kind.
    fn kind(&self) -> Kind {
        if !self.seen {
            Kind::Text
        } else if self.int {
            Kind::Int
        } else if self.float {
            Kind::Float
        } else if self.boolean {
            Kind::Bool
        } else if self.date {
            Kind::Date
        } else if self.timestamp && !(self.zoned && self.naive) {
            Kind::Timestamp(self.zoned.then(|| Arc::from("UTC")))
        } else {
            Kind::Text
        }
    }
}

/// Shared reading context: file name, options and how NULL is spelled.
struct Ctx {
    file: String,
    null_token: Option<Vec<u8>>,
}

impl Ctx {
    /// Whether a field is NULL under the null rules.
    fn is_null(&self, bytes: &[u8], quoted: bool) -> bool {
        !quoted
            && match &self.null_token {
                None => bytes.is_empty(),
                Some(t) => bytes == t.as_slice(),
            }
    }

    /// Converts a tokenizer error.
    fn tok_error(&self, e: TokError) -> InterchangeError {
        match e {
            TokError::Io(e) => InterchangeError::Io {
                file: self.file.clone(),
                op: "cannot read",
                source: e,
            },
            TokError::Syntax(line, msg) => InterchangeError::data(&self.file, at_line(line), msg),
        }
    }

    /// Checks the field count of a record.
    fn check_width(&self, rec: &Record, expected: usize) -> Result<(), InterchangeError> {
        if rec.len() != expected {
            return Err(InterchangeError::data(
                &self.file,
                at_line(rec.line),
                format!("expected {expected} fields, found {}", rec.len()),
            ));
        }
        Ok(())
    }

    /// The text of field `i`, or an error naming the line and column if it is not UTF-8.
    fn text<'r>(
        &self,
        rec: &'r Record,
        i: usize,
        column: &str,
    ) -> Result<&'r str, InterchangeError> {
        std::str::from_utf8(rec.field(i).0).map_err(|_| {
            InterchangeError::data(&self.file, at_line_col(rec.line, column), "invalid UTF-8")
        })
    }
}

/// An opened CSV file: tokenizer, column names, and a first record already consumed.
type Opened = (Tokenizer<Counting<File>>, Vec<String>, Option<Record>);

/// Opens the file and reads the header (if any); returns the tokenizer, the column names
/// (from the header, or `c1…` for the width of the first record) and whether a first record
/// was consumed as the header.
fn open_tokenizer(
    path: &Path,
    ctx: &Ctx,
    options: &CsvOptions,
    bytes_read: Option<Arc<AtomicU64>>,
) -> Result<Opened, InterchangeError> {
    let file = File::open(path).map_err(|e| InterchangeError::io(path, "cannot open", e))?;
    let mut tok = Tokenizer::new(Counting::new(file, bytes_read), options.delimiter);
    let mut first = Record::default();
    if !tok.next_record(&mut first).map_err(|e| ctx.tok_error(e))? {
        if options.header {
            return Err(InterchangeError::data(
                &ctx.file,
                Default::default(),
                "the file is empty: no header line",
            ));
        }
        return Ok((tok, Vec::new(), None));
    }
    let width = first.len();
    if !options.header {
        let names = (1..=width).map(|i| format!("c{i}")).collect();
        return Ok((tok, names, Some(first)));
    }
    let mut names: Vec<String> = Vec::with_capacity(width);
    for i in 0..width {
        let name = std::str::from_utf8(first.field(i).0).map_err(|_| {
            InterchangeError::data(
                &ctx.file,
                at_line(first.line),
                format!("header field {} is not valid UTF-8", i + 1),
            )
        })?;
        let name = if name.is_empty() {
            format!("c{}", i + 1)
        } else {
            name.to_string()
        };
        if names.contains(&name) {
            return Err(InterchangeError::data(
                &ctx.file,
                at_line(first.line),
                format!("duplicate column name '{name}'"),
            ));
        }
        names.push(name);
    }
    Ok((tok, names, None))
}

/// Reads a CSV/TSV file: infers the schema (unless `declared`), then streams batches.
pub(crate) fn read_csv(
    path: &Path,
    options: &CsvOptions,
    declared: Option<SchemaRef>,
    batch_size: usize,
    bytes_read: Option<Arc<AtomicU64>>,
) -> Result<(SchemaRef, BatchIter), InterchangeError> {
    let ctx = Ctx {
        file: path.display().to_string(),
        null_token: options.null_token.as_ref().map(|t| t.as_bytes().to_vec()),
    };
    // Only the pass producing batches counts bytes, not the inference pass.
    let first_counter = if declared.is_some() {
        bytes_read.clone()
    } else {
        None
    };
    let (mut tok, names, pending) = open_tokenizer(path, &ctx, options, first_counter)?;
    let schema = match declared {
        Some(s) => {
            let s = canonical_schema(&s)
                .map_err(|m| InterchangeError::data(&ctx.file, Default::default(), m))?;
            if !names.is_empty() && s.fields().len() != names.len() {
                return Err(InterchangeError::data(
                    &ctx.file,
                    at_line(1),
                    format!(
                        "the declared schema has {} columns but the file has {}",
                        s.fields().len(),
                        names.len()
                    ),
                ));
            }
            Arc::new(s)
        }
        None => {
            let kinds = match infer_halves(path, &ctx, options, &names)? {
                Some(kinds) => kinds,
                None => infer(&mut tok, &ctx, &names, pending)?,
            };
            let fields: Vec<Field> = names
                .iter()
                .zip(&kinds)
                .map(|(n, k)| Field::new(n, k.data_type(), true))
                .collect();
            // Second pass: start over.
            let (t, _, p) = open_tokenizer(path, &ctx, options, bytes_read)?;
            tok = t;
            return finish(tok, ctx, Arc::new(Schema::new(fields)), p, batch_size);
        }
    };
    finish(tok, ctx, schema, pending, batch_size)
}

/// The 1-based physical line (header counted) each 0-based data row in `rows` starts on, in
/// the order asked; `None` for a row past the end. Rescans the file: for error messages.
pub(crate) fn row_lines(
    path: &Path,
    options: &CsvOptions,
    rows: &[u64],
) -> Result<Vec<Option<u64>>, InterchangeError> {
    let ctx = Ctx {
        file: path.display().to_string(),
        null_token: None,
    };
    let (mut tok, names, pending) = open_tokenizer(path, &ctx, options, None)?;
    let mut found = vec![None; rows.len()];
    let Some(last) = rows.iter().copied().max() else {
        return Ok(found);
    };
    let mut rec = pending.unwrap_or_default();
    let mut have = !rec.ends.is_empty();
    let mut row = 0u64;
    while row <= last {
        if !have && !tok.next_record(&mut rec).map_err(|e| ctx.tok_error(e))? {
            break;
        }
        have = false;
        // Blank lines are skipped exactly as the reading pass skips them.
        if rec.is_blank() && names.len() > 1 {
            continue;
        }
        for (f, &r) in found.iter_mut().zip(rows) {
            if r == row {
                *f = Some(rec.line);
            }
        }
        row += 1;
    }
    Ok(found)
}

/// Builds the batch iterator for a known schema.
fn finish(
    tok: Tokenizer<Counting<File>>,
    ctx: Ctx,
    schema: SchemaRef,
    pending: Option<Record>,
    batch_size: usize,
) -> Result<(SchemaRef, BatchIter), InterchangeError> {
    let mut kinds = Vec::with_capacity(schema.fields().len());
    for f in schema.fields() {
        let kind = Kind::of(f.data_type()).ok_or_else(|| {
            InterchangeError::data(
                &ctx.file,
                Default::default(),
                format!("column {}: CSV cannot hold {}", f.name(), f.data_type()),
            )
        })?;
        kinds.push(kind);
    }
    let iter = CsvBatches {
        tok,
        ctx,
        schema: schema.clone(),
        kinds,
        pending,
        batch_size,
        rec: Record::default(),
        done: false,
    };
    Ok((schema, Box::new(iter)))
}

/// The inference pass over the whole file.
fn infer<R: Read>(
    tok: &mut Tokenizer<R>,
    ctx: &Ctx,
    names: &[String],
    pending: Option<Record>,
) -> Result<Vec<Kind>, InterchangeError> {
    Ok(observe_all(tok, ctx, names, pending)?
        .iter()
        .map(Guess::kind)
        .collect())
}

/// The guesses after every record `tok` reads (after `pending`, if given).
fn observe_all<R: Read>(
    tok: &mut Tokenizer<R>,
    ctx: &Ctx,
    names: &[String],
    pending: Option<Record>,
) -> Result<Vec<Guess>, InterchangeError> {
    let mut guesses = vec![Guess::new(); names.len()];
    let mut rec = pending.unwrap_or_default();
    let mut have = !rec.ends.is_empty();
    loop {
        if !have && !tok.next_record(&mut rec).map_err(|e| ctx.tok_error(e))? {
            break;
        }
        have = false;
        if rec.is_blank() && names.len() > 1 {
            continue;
        }
        ctx.check_width(&rec, names.len())?;
        let whole = std::str::from_utf8(&rec.data).ok();
        let mut start = 0;
        for (i, g) in guesses.iter_mut().enumerate() {
            let end = rec.ends[i];
            let (bytes, quoted) = (&rec.data[start..end], rec.quoted[i]);
            let field_start = start;
            start = end;
            if ctx.is_null(bytes, quoted) {
                continue;
            }
            let s = match whole.and_then(|w| w.get(field_start..end)) {
                Some(s) => s,
                None => ctx.text(&rec, i, &names[i])?,
            };
            g.observe(s);
        }
    }
    Ok(guesses)
}

/// Files from this size on are inferred in two halves on two threads (tests: nearly all, so
/// every CSV test also runs the split inference and its fallback).
const HALVES_MIN_BYTES: u64 = if cfg!(test) { 64 } else { 4 << 20 };

/// How far past the middle of the file [`infer_halves`] looks for a line end.
const HALVES_SEARCH_BYTES: u64 = 1 << 20;

/// Infers the column types of a large file in two halves at once, split after a line end
/// near the middle; `None` when the file is small, no line end is near the middle, or
/// either half fails.
///
/// The second half is tokenized as if a record started at the split. That holds exactly
/// when the first half, read up to the split, ends at a record boundary: its last record
/// ended with a line end (not inside quotes, and not cut off by the split). Then both halves
/// see the records a single pass sees, and their guesses combine ([`Guess::merge`]). Any
/// failure — a bad file, or a split inside a quoted field — returns `None`, so the caller's
/// single pass reports the file's first error with its true line number.
fn infer_halves(
    path: &Path,
    ctx: &Ctx,
    options: &CsvOptions,
    names: &[String],
) -> Result<Option<Vec<Kind>>, InterchangeError> {
    let open = || File::open(path).map_err(|e| InterchangeError::io(path, "cannot open", e));
    let size = open()?
        .metadata()
        .map_err(|e| InterchangeError::io(path, "cannot read", e))?
        .len();
    let two_cores = std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2);
    if size < HALVES_MIN_BYTES || names.is_empty() || !two_cores {
        return Ok(None);
    }
    let Some(split) = line_end_after(path, &mut open()?, size / 2)? else {
        return Ok(None);
    };
    let second = |mut file: File| -> Option<Vec<Guess>> {
        file.seek(SeekFrom::Start(split)).ok()?;
        let mut tok = Tokenizer::new(file, options.delimiter);
        observe_all(&mut tok, ctx, names, None).ok()
    };
    let first = |file: File| -> Option<Vec<Guess>> {
        let mut tok = Tokenizer::new(file.take(split), options.delimiter);
        if options.header {
            // The header, already checked by the caller.
            tok.next_record(&mut Record::default()).ok()?;
        }
        let guesses = observe_all(&mut tok, ctx, names, None).ok()?;
        (!tok.ended_by_eof).then_some(guesses)
    };
    let (a, b) = (open()?, open()?);
    let (first, second) = std::thread::scope(|scope| {
        let other = std::thread::Builder::new()
            .name("kodiak-csv-infer".into())
            .spawn_scoped(scope, || second(b));
        let first = first(a);
        let second = match other {
            Ok(h) => h.join().ok().flatten(),
            Err(_) => None,
        };
        (first, second)
    });
    let (Some(mut guesses), Some(rest)) = (first, second) else {
        return Ok(None);
    };
    for (g, r) in guesses.iter_mut().zip(&rest) {
        g.merge(r);
    }
    Ok(Some(guesses.iter().map(Guess::kind).collect()))
}

/// Tests: the types [`infer_halves`] infers for `path` (`None`: it declined) and those of a
/// single pass.
#[cfg(test)]
pub(crate) fn infer_split_and_single(
    path: &Path,
    options: &CsvOptions,
) -> (
    Option<Vec<DataType>>,
    Result<Vec<DataType>, InterchangeError>,
) {
    let ctx = Ctx {
        file: path.display().to_string(),
        null_token: options.null_token.as_ref().map(|t| t.as_bytes().to_vec()),
    };
    let single = open_tokenizer(path, &ctx, options, None).and_then(|(mut tok, names, p)| {
        let split = infer_halves(path, &ctx, options, &names)
            .ok()
            .flatten()
            .map(|k| k.iter().map(Kind::data_type).collect());
        infer(&mut tok, &ctx, &names, p).map(|k| (split, k.iter().map(Kind::data_type).collect()))
    });
    match single {
        Ok((split, single)) => (split, Ok(single)),
        Err(e) => (None, Err(e)),
    }
}

/// The offset just past the first `\n` at or after `from` (within
/// [`HALVES_SEARCH_BYTES`]), if any.
fn line_end_after(
    path: &Path,
    file: &mut File,
    from: u64,
) -> Result<Option<u64>, InterchangeError> {
    let io = |e| InterchangeError::io(path, "cannot read", e);
    file.seek(SeekFrom::Start(from)).map_err(io)?;
    let mut buf = vec![0u8; READ_BUF];
    let mut at = from;
    while at - from < HALVES_SEARCH_BYTES {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            return Ok(None);
        }
        if let Some(i) = memchr::memchr(b'\n', &buf[..n]) {
            return Ok(Some(at + i as u64 + 1));
        }
        at += n as u64;
    }
    Ok(None)
}

/// A column builder for one [`Kind`].
enum Builder {
    Bool(BooleanBuilder),
    Int(Int64Builder),
    Float(Float64Builder),
    Decimal(Decimal128Builder, u8, i8),
    Text(StringBuilder),
    Binary(BinaryBuilder),
    Fixed(FixedSizeBinaryBuilder, i32),
    Date(Date32Builder),
    Timestamp(TimestampMicrosecondBuilder, Option<Arc<str>>),
}

impl Builder {
    fn new(kind: &Kind, capacity: usize) -> Self {
        match kind {
            Kind::Bool => Builder::Bool(BooleanBuilder::with_capacity(capacity)),
            Kind::Int => Builder::Int(Int64Builder::with_capacity(capacity)),
            Kind::Float => Builder::Float(Float64Builder::with_capacity(capacity)),
            Kind::Decimal(p, s) => Builder::Decimal(
                Decimal128Builder::with_capacity(capacity)
                    .with_data_type(DataType::Decimal128(*p, *s)),
                *p,
                *s,
            ),
            Kind::Text => Builder::Text(StringBuilder::with_capacity(capacity, capacity * 8)),
            Kind::Binary => Builder::Binary(BinaryBuilder::with_capacity(capacity, capacity * 8)),
            Kind::Fixed(n) => {
                Builder::Fixed(FixedSizeBinaryBuilder::with_capacity(capacity, *n), *n)
            }
            Kind::Date => Builder::Date(Date32Builder::with_capacity(capacity)),
            Kind::Timestamp(tz) => Builder::Timestamp(
                TimestampMicrosecondBuilder::with_capacity(capacity),
                tz.clone(),
            ),
        }
    }

    fn append_null(&mut self) {
        match self {
            Builder::Bool(b) => b.append_null(),
            Builder::Int(b) => b.append_null(),
            Builder::Float(b) => b.append_null(),
            Builder::Decimal(b, ..) => b.append_null(),
            Builder::Text(b) => b.append_null(),
            Builder::Binary(b) => b.append_null(),
            Builder::Fixed(b, _) => b.append_null(),
            Builder::Date(b) => b.append_null(),
            Builder::Timestamp(b, _) => b.append_null(),
        }
    }

    /// Parses and appends one value; `Err` carries the reason.
    fn append(&mut self, s: &str, kind: &Kind) -> Result<(), String> {
        let bad = || format!("'{}' is not a valid {}", clip(s), kind.describe());
        match self {
            Builder::Bool(b) => {
                if s.eq_ignore_ascii_case("true") {
                    b.append_value(true);
                } else if s.eq_ignore_ascii_case("false") {
                    b.append_value(false);
                } else {
                    return Err(bad());
                }
            }
            Builder::Int(b) => b.append_value(s.parse::<i64>().map_err(|_| bad())?),
            Builder::Float(b) => b.append_value(parse_float(s).ok_or_else(bad)?),
            Builder::Decimal(b, p, sc) => b.append_value(parse_decimal(s, *p, *sc)?),
            Builder::Text(b) => b.append_value(s),
            Builder::Binary(b) => b.append_value(parse_hex(s).ok_or_else(bad)?),
            Builder::Fixed(b, n) => {
                let bytes = parse_hex(s).ok_or_else(bad)?;
                if bytes.len() != *n as usize {
                    return Err(format!("'{}' is not {n} bytes of hex", clip(s)));
                }
                b.append_value(bytes).map_err(|e| e.to_string())?;
            }
            Builder::Date(b) => b.append_value(parse_date(s).ok_or_else(bad)?),
            Builder::Timestamp(b, tz) => {
                let (v, zoned) = parse_timestamp(s).ok_or_else(bad)?;
                if zoned && tz.is_none() {
                    return Err(format!(
                        "'{}' has a time zone but the column is TIMESTAMP without zone",
                        clip(s)
                    ));
                }
                if !zoned && tz.is_some() {
                    return Err(format!(
                        "'{}' has no time zone but the column is TIMESTAMP with zone",
                        clip(s)
                    ));
                }
                b.append_value(v);
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Bool(b) => Arc::new(b.finish()),
            Builder::Int(b) => Arc::new(b.finish()),
            Builder::Float(b) => Arc::new(b.finish()),
            Builder::Decimal(b, ..) => Arc::new(b.finish()),
            Builder::Text(b) => Arc::new(b.finish()),
            Builder::Binary(b) => Arc::new(b.finish()),
            Builder::Fixed(b, _) => Arc::new(b.finish()),
            Builder::Date(b) => Arc::new(b.finish()),
            Builder::Timestamp(b, tz) => Arc::new(b.finish().with_timezone_opt(tz.clone())),
        }
    }
}

/// At most 40 characters of a value, for error messages.
fn clip(s: &str) -> String {
    if s.chars().count() <= 40 {
        s.to_string()
    } else {
        let head: String = s.chars().take(40).collect();
        format!("{head}…")
    }
}

/// The streaming CSV batch iterator.
struct CsvBatches {
    tok: Tokenizer<Counting<File>>,
    ctx: Ctx,
    schema: SchemaRef,
    kinds: Vec<Kind>,
    /// A record already read (the first one, when there is no header).
    pending: Option<Record>,
    batch_size: usize,
    rec: Record,
    done: bool,
}

impl CsvBatches {
    /// Reads up to `batch_size` rows; `None` at the end.
    fn next_batch(&mut self) -> Result<Option<RecordBatch>, InterchangeError> {
        let width = self.kinds.len();
        let mut builders: Vec<Builder> = self
            .kinds
            .iter()
            .map(|k| Builder::new(k, self.batch_size))
            .collect();
        let mut rows = 0usize;
        while rows < self.batch_size {
            if let Some(p) = self.pending.take() {
                self.rec = p;
            } else if !self
                .tok
                .next_record(&mut self.rec)
                .map_err(|e| self.ctx.tok_error(e))?
            {
                self.done = true;
                break;
            }
            if self.rec.is_blank() && width != 1 {
                continue;
            }
            self.ctx.check_width(&self.rec, width)?;
            // One UTF-8 check per record; fields are then sliced out (a field boundary inside
            // a character falls back to the per-field check, which names the column).
            let whole = std::str::from_utf8(&self.rec.data).ok();
            let mut start = 0;
            for (i, b) in builders.iter_mut().enumerate() {
                let end = self.rec.ends[i];
                let (bytes, quoted) = (&self.rec.data[start..end], self.rec.quoted[i]);
                let field_start = start;
                start = end;
                if self.ctx.is_null(bytes, quoted) {
                    b.append_null();
                    continue;
                }
                let name = self.schema.field(i).name();
                let s = match whole.and_then(|w| w.get(field_start..end)) {
                    Some(s) => s,
                    None => self.ctx.text(&self.rec, i, name)?,
                };
                b.append(s, &self.kinds[i]).map_err(|m| {
                    InterchangeError::data(&self.ctx.file, at_line_col(self.rec.line, name), m)
                })?;
            }
            rows += 1;
        }
        if rows == 0 {
            return Ok(None);
        }
        let columns: Vec<ArrayRef> = builders.iter_mut().map(Builder::finish).collect();
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        RecordBatch::try_new_with_options(self.schema.clone(), columns, &options)
            .map(Some)
            .map_err(|e| InterchangeError::data(&self.ctx.file, Default::default(), e.to_string()))
    }
}

impl Iterator for CsvBatches {
    type Item = Result<RecordBatch, InterchangeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done && self.pending.is_none() {
            return None;
        }
        match self.next_batch() {
            Ok(Some(b)) => Some(Ok(b)),
            Ok(None) => None,
            Err(e) => {
                self.done = true;
                self.pending = None;
                Some(Err(e))
            }
        }
    }
}

/// A typed view of one canonical column, for formatting.
pub(crate) enum View<'a> {
    Bool(&'a arrow_array::BooleanArray),
    Int(&'a arrow_array::Int64Array),
    Float(&'a arrow_array::Float64Array),
    Decimal(&'a arrow_array::Decimal128Array, i8),
    Text(&'a arrow_array::StringArray),
    Binary(&'a arrow_array::BinaryArray),
    Fixed(&'a arrow_array::FixedSizeBinaryArray),
    Date(&'a arrow_array::Date32Array),
    Timestamp(&'a arrow_array::TimestampMicrosecondArray, bool),
}

impl<'a> View<'a> {
    /// Views of every column of `batch`; `format` names the target in the error for a column
    /// type it cannot hold.
    pub(crate) fn columns(batch: &'a RecordBatch, format: &str) -> Result<Vec<View<'a>>, String> {
        batch
            .columns()
            .iter()
            .zip(batch.schema().fields())
            .map(|(a, f)| {
                View::of(a.as_ref()).ok_or_else(|| {
                    format!(
                        "column {}: {format} cannot hold {}",
                        f.name(),
                        f.data_type()
                    )
                })
            })
            .collect()
    }

    /// Views a canonical array; `None` for other types.
    pub(crate) fn of(a: &'a dyn Array) -> Option<View<'a>> {
        Some(match a.data_type() {
            DataType::Boolean => View::Bool(a.as_boolean()),
            DataType::Int64 => View::Int(a.as_primitive::<Int64Type>()),
            DataType::Float64 => View::Float(a.as_primitive::<Float64Type>()),
            DataType::Decimal128(_, s) => View::Decimal(a.as_primitive::<Decimal128Type>(), *s),
            DataType::Utf8 => View::Text(a.as_string::<i32>()),
            DataType::Binary => View::Binary(a.as_binary::<i32>()),
            DataType::FixedSizeBinary(_) => View::Fixed(a.as_fixed_size_binary()),
            DataType::Date32 => View::Date(a.as_primitive::<Date32Type>()),
            DataType::Timestamp(TimeUnit::Microsecond, tz) => {
                View::Timestamp(a.as_primitive::<TimestampMicrosecondType>(), tz.is_some())
            }
            _ => return None,
        })
    }

    /// Whether row `i` is NULL.
    pub(crate) fn is_null(&self, i: usize) -> bool {
        match self {
            View::Bool(a) => a.is_null(i),
            View::Int(a) => a.is_null(i),
            View::Float(a) => a.is_null(i),
            View::Decimal(a, _) => a.is_null(i),
            View::Text(a) => a.is_null(i),
            View::Binary(a) => a.is_null(i),
            View::Fixed(a) => a.is_null(i),
            View::Date(a) => a.is_null(i),
            View::Timestamp(a, _) => a.is_null(i),
        }
    }

    /// Whether the values are bytes (hex), whose empty value must be quoted like text.
    pub(crate) fn is_bytes(&self) -> bool {
        matches!(self, View::Binary(_) | View::Fixed(_))
    }

    /// Whether row `i`'s text form is a JSON literal (number or boolean) rather than a string.
    pub(crate) fn is_json_native(&self, i: usize) -> bool {
        match self {
            View::Bool(_) | View::Int(_) => true,
            View::Float(a) => a.value(i).is_finite(),
            _ => false,
        }
    }

    /// Appends the text form of non-null row `i`; returns `Some` for TEXT values, which the
    /// caller uses directly instead.
    pub(crate) fn format(&self, i: usize, out: &mut String) -> Option<&'a str> {
        match self {
            View::Bool(a) => out.push_str(if a.value(i) { "true" } else { "false" }),
            View::Int(a) => out.push_str(itoa::Buffer::new().format(a.value(i))),
            View::Float(a) => format_float(a.value(i), out),
            View::Decimal(a, s) => format_decimal(a.value(i), *s, out),
            View::Text(a) => return Some(a.value(i)),
            View::Binary(a) => push_hex(a.value(i), out),
            View::Fixed(a) => push_hex(a.value(i), out),
            View::Date(a) => format_date(a.value(i), out),
            View::Timestamp(a, zoned) => format_timestamp(a.value(i), *zoned, out),
        }
        None
    }
}

/// Streaming CSV/TSV writer over canonical batches.
pub(crate) struct CsvWriter<W: Write> {
    out: W,
    delimiter: u8,
    null_token: Option<String>,
    line: Vec<u8>,
    scratch: String,
    /// The delimiter cannot occur in the text of a non-text value (numbers, dates, hex), so
    /// those need no quoting scan.
    plain_safe: bool,
}

impl<W: Write> CsvWriter<W> {
    /// Starts a file, writing the header line if `options.header`.
    pub(crate) fn new(out: W, schema: &Schema, options: &CsvOptions) -> io::Result<Self> {
        let mut w = CsvWriter {
            out,
            delimiter: options.delimiter,
            null_token: options.null_token.clone(),
            line: Vec::with_capacity(1 << 12),
            scratch: String::new(),
            plain_safe: !(options.delimiter.is_ascii_alphanumeric()
                || b"-+.: \"\r\n".contains(&options.delimiter)),
        };
        if options.header {
            for (i, f) in schema.fields().iter().enumerate() {
                if i > 0 {
                    w.line.push(w.delimiter);
                }
                let name = f.name().clone();
                w.push_field(&name, true);
            }
            w.line.push(b'\n');
            w.out.write_all(&w.line)?;
            w.line.clear();
        }
        Ok(w)
    }

    /// Appends one field to the line buffer, quoting it if it would otherwise read back
    /// differently (`text`: an empty value is a value, not NULL).
    fn push_field(&mut self, s: &str, text: bool) {
        let d = self.delimiter;
        let needs = (text || !self.plain_safe)
            && (memchr::memchr3(d, b'"', b'\n', s.as_bytes()).is_some()
                || memchr::memchr(b'\r', s.as_bytes()).is_some())
            || (text && s.is_empty())
            || self.null_token.as_deref() == Some(s)
            || (s.is_empty() && self.null_token.is_some());
        if !needs {
            self.line.extend_from_slice(s.as_bytes());
            return;
        }
        self.line.push(b'"');
        for c in s.bytes() {
            if c == b'"' {
                self.line.push(b'"');
            }
            self.line.push(c);
        }
        self.line.push(b'"');
    }

    /// Writes every row of a canonical batch.
    pub(crate) fn write(&mut self, batch: &RecordBatch) -> Result<(), String> {
        let views = View::columns(batch, "CSV")?;
        let null = self.null_token.clone().unwrap_or_default();
        for row in 0..batch.num_rows() {
            for (c, v) in views.iter().enumerate() {
                if c > 0 {
                    self.line.push(self.delimiter);
                }
                if v.is_null(row) {
                    self.line.extend_from_slice(null.as_bytes());
                    continue;
                }
                let mut scratch = std::mem::take(&mut self.scratch);
                scratch.clear();
                match v.format(row, &mut scratch) {
                    Some(text) => self.push_field(text, true),
                    None => self.push_field(&scratch, v.is_bytes()),
                }
                self.scratch = scratch;
            }
            self.line.push(b'\n');
            if self.line.len() >= 1 << 16 {
                self.out.write_all(&self.line).map_err(|e| e.to_string())?;
                self.line.clear();
            }
        }
        Ok(())
    }

    /// Flushes buffered lines.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        self.out.write_all(&self.line)?;
        self.out.flush()?;
        Ok(self.out)
    }
}
