//! How the process gives memory back to the operating system.

/// Makes glibc serve every allocation of 4 MiB or more with its own
/// mapping, unmapped when freed. By default the threshold rises to the
/// size of the largest block freed so far, so after the first login each
/// 19 MiB Argon2 work area came from an arena that never shrank: the API
/// held ~490 MB after the benchmark's 51 logins (docs/benchmarks.md).
#[allow(unsafe_code)]
pub fn return_large_blocks_to_the_os() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters, under the
    // allocator's own lock; no memory is touched.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
    }
}
