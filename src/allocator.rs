//! The memory allocator of the processes built from this package (the `switchyard` binary and
//! the examples, among them the bench server), chosen by a cargo feature of this package:
//! `jemalloc` (the default), `mimalloc`, or neither (the system's, glibc's malloc). It owns the
//! `#[global_allocator]` and what a process may ask of whichever allocator it runs on: its name,
//! the heap in use, and giving free memory back to the system. The library crates under
//! `crates/` never choose an allocator: an application embedding them keeps its own.
//!
//! Why jemalloc: a burst (100 polling clients each posting 4,000 messages, or thousands of
//! clients coming and going) left glibc's malloc holding up to 130 MiB of freed memory for good
//! (its arenas shrink only from the top, or on `malloc_trim`; tuning them did not help); jemalloc,
//! with its background thread purging pages unused for a second, gives it back within seconds, at
//! the same CPU cost per message as far as this project's benchmark can tell. mimalloc, with its
//! defaults, kept several times what jemalloc kept. `BENCHMARKS.md` has the measurements
//! (`bench/memory.sh`, `bench/soak.sh`, `bench/run.sh`).

#[cfg(all(feature = "jemalloc", feature = "mimalloc"))]
compile_error!(
    "features `jemalloc` and `mimalloc` both choose the allocator: keep one \
     (`--no-default-features --features mimalloc` for mimalloc)"
);

/// The allocator this process runs on: `"jemalloc"`, `"mimalloc"` or `"system"`.
pub const NAME: &str = imp::NAME;

/// The allocator's account of the heap, in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeapStats {
    /// Bytes the program holds (allocated and not yet freed).
    pub in_use_kib: u64,
    /// Bytes the allocator keeps mapped beyond those: freed memory not yet returned (and, for
    /// jemalloc, its metadata).
    pub free_kib: u64,
}

/// The heap in use and kept, when the allocator reports them (`None` for mimalloc, and for the
/// system allocator other than glibc's).
///
/// ```
/// if let Some(heap) = switchyard::allocator::heap_stats() {
///     assert!(heap.in_use_kib > 0);
/// }
/// ```
pub fn heap_stats() -> Option<HeapStats> {
    imp::heap_stats()
}

/// Asks the allocator to return its free memory to the system now (glibc: `malloc_trim(0)`;
/// jemalloc: purge every arena; mimalloc: `mi_collect(true)`), which the allocator otherwise does
/// on its own schedule, or (glibc) only from the top of each arena. `false` when the allocator
/// offers no such call. For measuring what a process holds, as against what its allocator keeps.
pub fn release_free_memory() -> bool {
    imp::release_free_memory()
}

#[cfg(feature = "jemalloc")]
mod imp {
    use super::HeapStats;
    use tikv_jemalloc_ctl::{epoch, stats};

    pub const NAME: &str = "jemalloc";

    #[global_allocator]
    static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

    /// jemalloc's options, read when it starts (its `malloc_conf`, under the prefix
    /// tikv-jemalloc-sys gives jemalloc's symbols). A background thread purges freed pages once
    /// they have been unused for `dirty_decay_ms` (1 s; jemalloc's default is 10 s): without that
    /// thread, purging happens only on threads that allocate, so what a burst freed stays
    /// resident while the server is idle (`BENCHMARKS.md`: +172 MiB after a burst, against
    /// +10 MiB with it). `muzzy_decay_ms:0`: purged pages are returned at once, with no second,
    /// lazily-freed stage. The environment variable `_RJEM_MALLOC_CONF` overrides these.
    #[used]
    #[unsafe(export_name = "_rjem_malloc_conf")]
    static MALLOC_CONF: &[u8; 60] =
        b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0\0";

    pub fn heap_stats() -> Option<HeapStats> {
        // The statistics are a snapshot taken when the epoch advances.
        epoch::advance().ok()?;
        let allocated = stats::allocated::read().ok()? as u64;
        let mapped = stats::resident::read().ok()? as u64;
        Some(HeapStats {
            in_use_kib: allocated / 1024,
            free_kib: mapped.saturating_sub(allocated) / 1024,
        })
    }

    pub fn release_free_memory() -> bool {
        // MALLCTL_ARENAS_ALL (4096): every arena.
        const PURGE_ALL: &[u8] = b"arena.4096.purge\0";
        // SAFETY: a NUL-terminated name of a void mallctl, with no old or new value.
        let rc = unsafe {
            tikv_jemalloc_sys::mallctl(
                PURGE_ALL.as_ptr().cast(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                0,
            )
        };
        rc == 0
    }
}

#[cfg(all(feature = "mimalloc", not(feature = "jemalloc")))]
mod imp {
    use super::HeapStats;

    pub const NAME: &str = "mimalloc";

    #[global_allocator]
    static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

    pub fn heap_stats() -> Option<HeapStats> {
        None
    }

    pub fn release_free_memory() -> bool {
        // SAFETY: mi_collect has no preconditions; `true` also frees what other threads freed.
        unsafe { libmimalloc_sys::mi_collect(true) };
        true
    }
}

#[cfg(not(any(feature = "jemalloc", feature = "mimalloc")))]
mod imp {
    pub const NAME: &str = "system";
    pub use super::glibc::{heap_stats, release_free_memory};
}

/// glibc's malloc, when it is the system's: its statistics and `malloc_trim`.
#[cfg(not(any(feature = "jemalloc", feature = "mimalloc")))]
#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod glibc {
    use super::HeapStats;

    /// `struct mallinfo2` of <malloc.h> (glibc 2.33 and later).
    #[repr(C)]
    struct MallInfo2 {
        arena: usize,
        ordblks: usize,
        smblks: usize,
        hblks: usize,
        hblkhd: usize,
        usmblks: usize,
        fsmblks: usize,
        uordblks: usize,
        fordblks: usize,
        keepcost: usize,
    }

    unsafe extern "C" {
        fn mallinfo2() -> MallInfo2;
        fn malloc_trim(pad: usize) -> i32;
    }

    pub fn heap_stats() -> Option<HeapStats> {
        // SAFETY: mallinfo2 only reads the allocator's statistics.
        let m = unsafe { mallinfo2() };
        Some(HeapStats {
            in_use_kib: (m.uordblks + m.hblkhd) as u64 / 1024,
            free_kib: m.fordblks as u64 / 1024,
        })
    }

    pub fn release_free_memory() -> bool {
        // SAFETY: malloc_trim has no preconditions.
        unsafe { malloc_trim(0) };
        true
    }
}

#[cfg(not(any(feature = "jemalloc", feature = "mimalloc")))]
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod glibc {
    use super::HeapStats;

    pub fn heap_stats() -> Option<HeapStats> {
        None
    }

    pub fn release_free_memory() -> bool {
        false
    }
}
