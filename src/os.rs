//! Process-wide settings made once at start: a private file-creation mask and the
//! open-file limit. Both are safe calls (`rustix`); on non-Unix targets they do nothing.
//!
//! The umask is process-wide, so library code never relies on it alone: files that hold
//! content or keys are also created or `chmod`ed with an explicit mode (see
//! [`crate::signing`] and the SQLite store).

/// The umask set at start: files and directories are created for their owner only.
pub const PRIVATE_UMASK: u32 = 0o077;

/// The open-file limit of the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFileLimit {
    /// The soft limit before [`raise_open_file_limit`] (`None`: unlimited or unknown).
    pub previous_soft: Option<u64>,
    /// The soft limit now in force (`None`: unlimited or unknown).
    pub soft: Option<u64>,
    /// The hard limit (`None`: unlimited or unknown).
    pub hard: Option<u64>,
}

/// Sets the process umask to [`PRIVATE_UMASK`]; returns the previous mask.
#[cfg(unix)]
pub fn restrict_umask() -> u32 {
    let previous = rustix::process::umask(rustix::fs::Mode::from_raw_mode(PRIVATE_UMASK as _));
    previous.as_raw_mode() as u32
}

/// Sets the process umask (no-op on this platform).
#[cfg(not(unix))]
pub fn restrict_umask() -> u32 {
    0
}

/// The soft open-file limit in force (`None`: unlimited or unknown).
#[cfg(unix)]
pub fn open_file_soft_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current
}

/// The soft open-file limit (unknown on this platform).
#[cfg(not(unix))]
pub fn open_file_soft_limit() -> Option<u64> {
    None
}

/// Raises the soft open-file limit (`RLIMIT_NOFILE`) to the hard limit, so that the
/// connection caps, not the default soft limit (often 1024), bound the sockets served.
/// On failure the limit is left as it was and the error returned.
#[cfg(unix)]
pub fn raise_open_file_limit() -> std::io::Result<OpenFileLimit> {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let before = getrlimit(Resource::Nofile);
    let unchanged = OpenFileLimit {
        previous_soft: before.current,
        soft: before.current,
        hard: before.maximum,
    };
    if before.current == before.maximum {
        return Ok(unchanged);
    }
    let wanted = Rlimit {
        current: before.maximum,
        maximum: before.maximum,
    };
    if let Err(error) = setrlimit(Resource::Nofile, wanted) {
        // macOS refuses an unlimited soft limit; its kernel cap is OPEN_MAX (10240).
        let capped = Rlimit {
            current: Some(before.maximum.unwrap_or(10_240).min(10_240)),
            maximum: before.maximum,
        };
        if capped.current <= before.current || setrlimit(Resource::Nofile, capped).is_err() {
            return Err(error.into());
        }
    }
    let after = getrlimit(Resource::Nofile);
    Ok(OpenFileLimit {
        previous_soft: before.current,
        soft: after.current,
        hard: after.maximum,
    })
}

/// Raises the open-file limit (no-op on this platform).
#[cfg(not(unix))]
pub fn raise_open_file_limit() -> std::io::Result<OpenFileLimit> {
    Ok(OpenFileLimit {
        previous_soft: None,
        soft: None,
        hard: None,
    })
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn raising_reaches_the_hard_limit() {
        let limit = raise_open_file_limit().expect("raise");
        assert_eq!(limit.soft, limit.hard);
        assert_eq!(open_file_soft_limit(), limit.soft);
    }
}
