//! Following an append-only file line by line (a mod's log, the modern
//! mailbox's outbox), as `tail -F` does.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

pub struct LineTail {
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
    /// The file's first line, once read from the start: a file rewritten
    /// with a different first line is read again from its start, even when
    /// it is already as long as the part read before.
    head: Option<Vec<u8>>,
}

/// Longest first line kept to recognise a rewritten file.
const HEAD_LIMIT: usize = 512;

impl LineTail {
    /// Follows `path` from its current end: what is already there is skipped.
    pub fn at_end(path: &Path) -> Self {
        let offset = std::fs::metadata(path).map_or(0, |metadata| metadata.len());
        Self { path: path.to_owned(), offset, partial: Vec::new(), head: None }
    }

    /// Follows `path` from its beginning.
    pub fn at_start(path: &Path) -> Self {
        Self { path: path.to_owned(), offset: 0, partial: Vec::new(), head: None }
    }

    /// Bytes of whole lines handed out so far from the current file.
    pub fn consumed(&self) -> u64 {
        self.offset - self.partial.len() as u64
    }

    /// The whole lines added since the last call. A file that got shorter
    /// was truncated or replaced: it is read again from its start.
    pub fn read_lines(&mut self) -> io::Result<Vec<String>> {
        let mut file = match File::open(&self.path) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(error),
        };
        let length = file.metadata()?.len();
        if length < self.offset || !self.same_head(&mut file)? {
            self.offset = 0;
            self.partial.clear();
            self.head = None;
        }
        if length == self.offset {
            return Ok(Vec::new());
        }
        file.seek(SeekFrom::Start(self.offset))?;
        let mut added = Vec::with_capacity((length - self.offset) as usize);
        (&mut file).take(length - self.offset).read_to_end(&mut added)?;
        self.offset += added.len() as u64;
        self.partial.extend_from_slice(&added);
        // Until a first whole line was handed out, it starts `partial`.
        if self.head.is_none() && self.consumed() == 0 {
            let first_line = self.partial.iter().take(HEAD_LIMIT).position(|&byte| byte == b'\n');
            self.head = first_line.map(|end| self.partial[..=end].to_vec());
        }
        let Some(last_newline) = self.partial.iter().rposition(|&byte| byte == b'\n') else {
            return Ok(Vec::new());
        };
        let complete: Vec<u8> = self.partial.drain(..=last_newline).collect();
        Ok(complete
            .split(|&byte| byte == b'\n')
            .map(|line| String::from_utf8_lossy(line).trim_end_matches('\r').to_owned())
            .filter(|line| !line.is_empty())
            .collect())
    }

    /// Whether the file still starts with the first line read before (true
    /// when none was kept).
    fn same_head(&self, file: &mut File) -> io::Result<bool> {
        let Some(head) = &self.head else { return Ok(true) };
        let mut start = Vec::with_capacity(head.len());
        file.seek(SeekFrom::Start(0))?;
        file.take(head.len() as u64).read_to_end(&mut start)?;
        Ok(&start == head)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn whole_lines_only_and_truncation_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.txt");
        std::fs::write(&path, "old line\n").unwrap();
        let mut tail = LineTail::at_end(&path);
        assert!(tail.read_lines().unwrap().is_empty(), "existing content is skipped");
        let mut file = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"first\r\nsecond\nthi").unwrap();
        assert_eq!(tail.read_lines().unwrap(), ["first", "second"]);
        file.write_all(b"rd\n").unwrap();
        assert_eq!(tail.read_lines().unwrap(), ["third"]);
        std::fs::write(&path, "fresh\n").unwrap();
        assert_eq!(tail.read_lines().unwrap(), ["fresh"], "a truncated file is read from its start");
        let mut missing = LineTail::at_start(&dir.path().join("nope"));
        assert!(missing.read_lines().unwrap().is_empty());
    }

    #[test]
    fn a_file_rewritten_with_another_first_line_is_read_again_whatever_its_length() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.jsonl");
        std::fs::write(&path, "sta").unwrap();
        let mut tail = LineTail::at_start(&path);
        assert!(tail.read_lines().unwrap().is_empty(), "no whole line yet");
        std::fs::write(&path, "start 1\nevent a\nev").unwrap();
        assert_eq!(tail.read_lines().unwrap(), ["start 1", "event a"]);
        assert_eq!(tail.consumed(), 16, "whole lines only");
        // Rewritten, as long as before and then longer: the new first line gives it away.
        std::fs::write(&path, "start 2\nevent b\nevent c\n").unwrap();
        assert_eq!(tail.read_lines().unwrap(), ["start 2", "event b", "event c"]);
        std::fs::write(&path, "start 3\nevent d\nevent e\n").unwrap();
        assert_eq!(tail.read_lines().unwrap(), ["start 3", "event d", "event e"], "same length, new head");
        let mut appended = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        appended.write_all(b"event f\n").unwrap();
        assert_eq!(tail.read_lines().unwrap(), ["event f"], "growth alone is read on");
    }
}
