//! Process-wide allocator tuning for training loops.
//!
//! A training step allocates and frees the same few large buffers (activations, codes and
//! gradients of 1 to 16 MiB) every time. glibc's malloc serves blocks that large with
//! `mmap` and gives them back with `munmap` on free, so every step faults in, zeroes and
//! unmaps megabytes of fresh pages (with a TLB shoot-down across cores for each unmap):
//! measured on the adversarial network's training step (2 threads, AMD EPYC Zen 5), about a
//! third of the step's time. Keeping freed memory in the heap makes the next step reuse it.

/// Tells glibc's malloc to serve blocks up to 32 MiB (its maximum) from the heap instead of
/// `mmap`, and to keep up to 1 GiB of freed memory instead of returning it to the system.
/// Returns whether the setting took effect (`false` on other C libraries, where it does
/// nothing). Call it once at the start of a program, before other threads start; it changes
/// no result, only where memory comes from.
pub fn keep_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const MMAP_THRESHOLD: libc::c_int = 32 << 20;
        const TRIM_THRESHOLD: libc::c_int = 1 << 30;
        #[allow(unsafe_code)]
        // SAFETY: `mallopt` only changes two of malloc's tuning parameters; it takes plain
        // integers and touches no memory of ours.
        let ok = unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
        };
        tracing::debug!(ok, "malloc: mmap threshold 32 MiB, trim threshold 1 GiB");
        ok
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}
