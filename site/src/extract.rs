//! Safe extraction of .tar.gz, .tar and .zip archives into a fresh directory: the format
//! is told by content, each entry is checked by [`crate::names`] and written by
//! [`crate::tree::Tree`].

use crate::error::ExtractError;
use crate::names::{display, entry_path};
use crate::tree::{FileSpec, Tree};
use std::fs::File;
use std::io::{self, BufReader, Read, Seek};
use std::path::Path;
use std::time::{Duration, SystemTime};

/// Archive formats `lcc fetch` understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A gzip-compressed tar archive.
    TarGz,
    /// A plain tar archive.
    Tar,
    /// A zip archive.
    Zip,
}

/// Tells the format from the first bytes of `file`; `name` (the URL or path) breaks the tie
/// only for old tar archives that carry no `ustar` magic.
pub fn detect(file: &mut File, name: &str) -> io::Result<Option<Format>> {
    let mut head = [0u8; 512];
    let mut len = 0;
    while len < head.len() {
        match file.read(&mut head[len..])? {
            0 => break,
            n => len += n,
        }
    }
    file.rewind()?;
    let head = &head[..len];
    let format = if head.starts_with(&[0x1f, 0x8b]) {
        Some(Format::TarGz)
    } else if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        Some(Format::Zip)
    } else if head.get(257..262) == Some(b"ustar") || (name.ends_with(".tar") && len == 512) {
        Some(Format::Tar)
    } else {
        None
    };
    Ok(format)
}

/// Extracts `file` in `format` into `dest` (an existing empty directory), writing at most
/// `limit` bytes of file content.
pub fn extract(file: File, format: Format, dest: &Path, limit: u64) -> Result<(), ExtractError> {
    let mut tree = Tree::new(dest, limit);
    match format {
        Format::TarGz => {
            let mut gz = flate2::read::GzDecoder::new(BufReader::new(file));
            extract_tar(&mut gz, &mut tree)?;
            // Reading to the end checks the gzip trailer: its CRC and length catch truncation.
            io::copy(&mut gz, &mut io::sink()).map_err(|e| read_error("", e))?;
        }
        Format::Tar => extract_tar(&mut BufReader::new(file), &mut tree)?,
        Format::Zip => extract_zip(BufReader::new(file), &mut tree)?,
    }
    tree.finish()
}

/// A reader that counts the bytes it hands out.
struct Counting<'a> {
    inner: &'a mut dyn Read,
    count: u64,
}

impl Read for Counting<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

/// Walks a tar stream. The tar crate treats a clean EOF as the end, so the end-of-archive
/// block is checked here: without it the archive was cut between two entries.
fn extract_tar(reader: &mut dyn Read, tree: &mut Tree) -> Result<(), ExtractError> {
    let mut counting = Counting {
        inner: reader,
        count: 0,
    };
    let mut last = String::new();
    let mut end_of_last = 0u64;
    {
        let mut archive = tar::Archive::new(&mut counting);
        let entries = archive.entries().map_err(|e| read_error("", e))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| read_error(&last, e))?;
            last = display(&entry.path_bytes());
            end_of_last = entry.raw_file_position() + entry.size().div_ceil(512) * 512;
            tar_entry(&mut entry, &last, tree)?;
        }
    }
    if counting.count < end_of_last + 512 {
        return Err(ExtractError::Truncated {
            entry: last,
            reason: "no end-of-archive block".to_owned(),
        });
    }
    Ok(())
}

/// Extracts one tar entry.
fn tar_entry<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    name: &str,
    tree: &mut Tree,
) -> Result<(), ExtractError> {
    use tar::EntryType as T;
    let kind = entry.header().entry_type();
    if kind == T::XGlobalHeader {
        return Ok(()); // metadata for the whole archive, nothing to write
    }
    let rel = entry_path(&entry.path_bytes())?;
    match kind {
        T::Regular | T::Continuous => {
            let spec = FileSpec {
                mode: entry.header().mode().unwrap_or(0o644),
                declared: Some(entry.size()),
                mtime: entry
                    .header()
                    .mtime()
                    .ok()
                    .map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs(s)),
            };
            tree.file(name, &rel, entry, spec)
        }
        T::Directory => tree.dir(name, &rel),
        T::Symlink => {
            let target = entry.link_name_bytes().unwrap_or_default().into_owned();
            tree.symlink(name, &rel, &target)
        }
        T::Link => {
            let target = entry.link_name_bytes().unwrap_or_default().into_owned();
            tree.hardlink(name, &rel, &target)
        }
        other => Err(ExtractError::SpecialFile {
            entry: name.to_owned(),
            kind: tar_kind(other),
        }),
    }
}

/// Words for a tar entry type that is refused.
fn tar_kind(kind: tar::EntryType) -> &'static str {
    match kind {
        tar::EntryType::Char => "character device",
        tar::EntryType::Block => "block device",
        tar::EntryType::Fifo => "FIFO",
        tar::EntryType::GNUSparse => "sparse file",
        _ => "unsupported entry type",
    }
}

/// File type bits of a unix mode, as zip stores them.
const S_IFMT: u32 = 0o170000;

/// Walks a zip archive through its central directory.
fn extract_zip<R: Read + Seek>(reader: R, tree: &mut Tree) -> Result<(), ExtractError> {
    let mut zip = zip::ZipArchive::new(reader).map_err(|e| zip_error("", e))?;
    for index in 0..zip.len() {
        let mut file = zip.by_index(index).map_err(|e| zip_error("", e))?;
        let name = display(file.name_raw());
        let rel = entry_path(file.name_raw())?;
        let mode = file.unix_mode().unwrap_or(0);
        match (mode & S_IFMT, file.is_dir()) {
            (0o040000, _) | (0 | 0o100000, true) => tree.dir(&name, &rel)?,
            (0o120000, _) => {
                let mut target = Vec::new();
                (&mut file)
                    .take(4096)
                    .read_to_end(&mut target)
                    .map_err(|e| read_error(&name, e))?;
                tree.symlink(&name, &rel, &target)?;
            }
            (0o100000, _) | (0, false) => {
                let spec = FileSpec {
                    mode,
                    declared: Some(file.size()),
                    mtime: None,
                };
                tree.file(&name, &rel, &mut file, spec)?;
            }
            (other, _) => {
                return Err(ExtractError::SpecialFile {
                    entry: name,
                    kind: mode_kind(other),
                })
            }
        }
    }
    Ok(())
}

/// Words for a unix file type that is refused.
fn mode_kind(kind: u32) -> &'static str {
    match kind {
        0o010000 => "FIFO",
        0o020000 => "character device",
        0o060000 => "block device",
        0o140000 => "socket",
        _ => "unsupported file type",
    }
}

/// A zip parser error at `entry`.
fn zip_error(entry: &str, e: zip::result::ZipError) -> ExtractError {
    read_error(entry, io::Error::other(e))
}

/// Classifies a read error: an early end is a truncated archive, the rest is corruption.
pub(crate) fn read_error(entry: &str, e: io::Error) -> ExtractError {
    let text = e.to_string();
    let early_end = e.kind() == io::ErrorKind::UnexpectedEof
        || text.contains("entire block")
        || text.contains("unexpected EOF")
        || text.contains("Could not find EOCD")
        || text.contains("end of central directory");
    if early_end {
        ExtractError::Truncated {
            entry: entry.to_owned(),
            reason: text,
        }
    } else {
        ExtractError::Corrupt {
            entry: entry.to_owned(),
            source: e,
        }
    }
}
