//! Which actor a child runs, checked before anything in it is called.
//!
//! Nothing is registered: the host names the actor type by where its [`EntryRecord`] lies in
//! the executable, as an offset from [`init`], which is the same in every process of one
//! executable image whatever the address-space layout (this is how `procspawn` names its
//! functions). An offset is only as good as the image it was taken in, and the device and
//! inode the child compares with the host's do not see a binary rewritten in place, nor an
//! actor type whose code lies in a shared library (loaded at another offset in each process).
//! So the child does not call through the offset: it looks there for a record, and uses it only
//! if the address lies in memory mapped from its own executable file, the record's first word
//! is [`MAGIC`], and the record names the actor type the host named. Anything else fails the
//! start with [`EntryError`], which says which check failed, before any of the actor's code
//! runs.

use super::{ChildIo, init};
use crate::os::wire::{Entry, Payload};

/// The signature of `run_actor::<A>` (`runner.rs`), for every `A`.
pub(crate) type Run = fn(ChildIo, Payload) -> Result<(), String>;

/// The first word of every [`EntryRecord`]: 64 bits that random data matches once in 2^64.
pub(crate) const MAGIC: u64 = 0x6163_746f_7273_e4c1;

/// What the child needs to run one actor type, a constant in the executable (one per type: see
/// `runner::entry_of`).
#[repr(C)]
pub(crate) struct EntryRecord {
    /// [`MAGIC`], read before anything else in the record.
    pub magic: u64,
    /// `std::any::type_name` of the actor type.
    pub actor_type: fn() -> &'static str,
    pub run: Run,
}

impl Entry {
    /// The entry of a record of this executable.
    pub fn of(record: &'static EntryRecord) -> Self {
        let address = std::ptr::from_ref(record) as usize;
        Self {
            offset: address.wrapping_sub(init as fn() as usize) as u64,
            actor_type: (record.actor_type)().to_string(),
        }
    }
}

/// Why a child refused the entry the host sent: the host's executable and this one differ.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum EntryError {
    #[error(
        "the actor entry {offset:#x} lies outside this executable's mapped image (was the \
         executable replaced since the host started, or is the actor type in a shared library?)"
    )]
    OutsideImage { offset: u64 },
    #[error(
        "no actor entry at offset {offset:#x} of this executable (was the executable replaced \
         since the host started?)"
    )]
    NoRecord { offset: u64 },
    #[error("the actor entry names {found}, the host asked for {asked}")]
    OtherType { asked: String, found: String },
}

/// The address ranges this process has mapped readable from its own executable file, read from
/// `/proc/self/maps` once, before the child waits for its boot (off the spawn's path).
#[derive(Debug, Default)]
pub(crate) struct Image {
    ranges: Vec<(usize, usize)>,
}

impl Image {
    /// This process's image; empty (so that every entry is refused) if the maps cannot be read.
    pub fn of_this_process() -> Self {
        let Ok(exe) = std::fs::read_link("/proc/self/exe") else {
            return Self::default();
        };
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
        Self::parse(&maps, &exe.to_string_lossy())
    }

    /// The readable ranges of `maps` (the format of `/proc/<pid>/maps`) mapped from `path`.
    pub fn parse(maps: &str, path: &str) -> Self {
        let ranges = maps
            .lines()
            .filter_map(|line| {
                // Five fields (range, permissions, offset, device, inode), then the path, which
                // may hold spaces.
                let mut rest = line;
                let mut fields = [""; 5];
                for field in &mut fields {
                    rest = rest.trim_start();
                    let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
                    (*field, rest) = rest.split_at(end);
                }
                let [range, perms, ..] = fields;
                if !perms.starts_with('r') || rest.trim() != path {
                    return None;
                }
                let (start, end) = range.split_once('-')?;
                Some((
                    usize::from_str_radix(start, 16).ok()?,
                    usize::from_str_radix(end, 16).ok()?,
                ))
            })
            .collect();
        Self { ranges }
    }

    /// Whether `len` bytes from `address` are all in one readable range of the image.
    fn holds(&self, address: usize, len: usize) -> bool {
        self.ranges.iter().any(|&(start, end)| {
            address >= start && address.checked_add(len).is_some_and(|last| last <= end)
        })
    }
}

/// The record `entry` names, if every check holds.
#[allow(unsafe_code)] // two reads of the record, each after the checks its SAFETY comment names
pub(crate) fn resolve(entry: &Entry, image: &Image) -> Result<&'static EntryRecord, EntryError> {
    let offset = entry.offset;
    let address = (init as fn() as usize).wrapping_add(offset as usize);
    if address % align_of::<EntryRecord>() != 0 || !image.holds(address, size_of::<EntryRecord>()) {
        return Err(EntryError::OutsideImage { offset });
    }
    // SAFETY: the eight bytes at `address` are aligned and lie in memory mapped readable from
    // this executable for the life of the process (checked just above), and every bit pattern
    // is a valid `u64`.
    let magic = unsafe { std::ptr::read(address as *const u64) };
    if magic != MAGIC {
        return Err(EntryError::NoRecord { offset });
    }
    // SAFETY: the record's memory is aligned, readable and lives as long as the process
    // (checked above), and only an `EntryRecord` begins with `MAGIC` (a 64-bit value no other
    // data of this executable holds by chance), so its function pointers are valid ones.
    let record = unsafe { &*(address as *const EntryRecord) };
    let found = (record.actor_type)();
    if found != entry.actor_type {
        return Err(EntryError::OtherType {
            asked: entry.actor_type.clone(),
            found: found.to_string(),
        });
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_nothing(_: ChildIo, _: Payload) -> Result<(), String> {
        Ok(())
    }

    fn a_type() -> &'static str {
        "A"
    }

    static RECORD: EntryRecord = EntryRecord {
        magic: MAGIC,
        actor_type: a_type,
        run: run_nothing,
    };

    #[test]
    fn a_record_of_this_executable_resolves_to_itself() {
        let image = Image::of_this_process();
        let entry = Entry::of(&RECORD);
        let record = resolve(&entry, &image).expect("the record");
        assert!(std::ptr::eq(record, &RECORD));
    }

    #[test]
    fn a_record_for_another_type_is_refused() {
        let image = Image::of_this_process();
        let entry = Entry {
            actor_type: "B".into(),
            ..Entry::of(&RECORD)
        };
        assert_eq!(
            resolve(&entry, &image).err(),
            Some(EntryError::OtherType {
                asked: "B".into(),
                found: "A".into()
            })
        );
    }

    #[test]
    fn an_offset_with_no_record_there_is_refused() {
        let image = Image::of_this_process();
        let mut entry = Entry::of(&RECORD);
        entry.offset = entry
            .offset
            .wrapping_add(size_of::<EntryRecord>() as u64 * 4);
        assert!(
            matches!(
                resolve(&entry, &image),
                Err(EntryError::NoRecord { .. } | EntryError::OutsideImage { .. })
            ),
            "{:?}",
            resolve(&entry, &image).err()
        );
        // Far outside anything mapped: refused without reading it.
        entry.offset = 1 << 62;
        assert_eq!(
            resolve(&entry, &image).err(),
            Some(EntryError::OutsideImage { offset: 1 << 62 })
        );
    }

    #[test]
    fn the_maps_are_read_for_the_executable_only_and_readable_only() {
        let maps = "\
5600-5700 r--p 00000000 08:01 42 /usr/bin/app
5700-5800 r-xp 00001000 08:01 42 /usr/bin/app
5800-5900 ---p 00002000 08:01 42 /usr/bin/app
7f00-7f10 r--p 00000000 08:01 43 /usr/lib/libc.so.6
7f20-7f30 rw-p 00000000 00:00 0 
7f40-7f50 r--p 00000000 08:01 44 /usr/bin/app with spaces
";
        let image = Image::parse(maps, "/usr/bin/app");
        assert_eq!(image.ranges, vec![(0x5600, 0x5700), (0x5700, 0x5800)]);
        assert!(image.holds(0x56f0, 0x10));
        assert!(!image.holds(0x56f8, 0x10), "across two ranges");
        assert!(!image.holds(0x5800, 1), "not readable");
        assert!(!image.holds(0x7f00, 1), "another file");
        let spaced = Image::parse(maps, "/usr/bin/app with spaces");
        assert_eq!(spaced.ranges, vec![(0x7f40, 0x7f50)]);
    }
}
