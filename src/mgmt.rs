//! CLFS management (`ClfsMgmt*`): policies, managed clients and log-full handling
//! (reference §1.9, §2.11).
//!
//! A log that nobody manages fills up, and then every append fails with `STATUS_LOG_FULL`.
//! Management hands that problem to CLFS:
//!
//! - [`Policy`] values installed on the log ([`LogFile::install_policy`]) let CLFS grow and
//!   shrink it: maximum and minimum size, growth rate, auto-grow, auto-shrink, and how new
//!   containers are named. **Policies are volatile**: they are lost when the last handle of the
//!   log closes, so install them again whenever you open the log (typically right before you
//!   register the first client).
//! - A [`ManagedClient`] registers [`ManagementCallbacks`] with CLFS. CLFS asks it to move its
//!   tail (AdvanceTail), tells it when a pending log-full request completed
//!   (LogGrowthComplete), and when a pinned log is unpinned (LogUnpinned). Dropping the client
//!   deregisters it; no callback runs after that.
//! - When an append fails with `STATUS_LOG_FULL`, call [`ManagedClient::handle_log_full`]:
//!   CLFS first grows the log within the policies, and otherwise asks the clients to advance
//!   their tails.
//!
//! ```
//! # let _sandbox = clfs_emu::Sandbox::new();
//! use clfs::mgmt::{Growth, InstallMode, Policy, PolicyBuf, PolicyKind};
//! use clfs::{wide, LogFile, LogOptions};
//!
//! let log = LogFile::create(wide!("log:C:\\logs\\mgmt-doc"), LogOptions::new().create_if_missing())?;
//! log.add_containers(&[wide!("%BLF%\\c0"), wide!("%BLF%\\c1")], 512 * 1024)?;
//! log.install_policy(&Policy::MaximumSize { containers: 8 }, InstallMode::KeepExisting)?;
//! log.install_policy(&Policy::GrowthRate(Growth::Containers(2)), InstallMode::KeepExisting)?;
//! log.install_policy(&Policy::NewContainerPrefix(wide!("%BLF%\\grown")), InstallMode::KeepExisting)?;
//!
//! let mut buf = PolicyBuf::new();
//! assert_eq!(
//!     log.query_policy(PolicyKind::MaximumSize, &mut buf)?,
//!     Some(Policy::MaximumSize { containers: 8 })
//! );
//! // Installing again without OVERWRITE is refused, as documented:
//! let err = log.install_policy(&Policy::MaximumSize { containers: 9 }, InstallMode::KeepExisting);
//! assert_eq!(err.unwrap_err().status(), Some(clfs::NtStatus::LOG_POLICY_ALREADY_INSTALLED));
//! log.install_policy(&Policy::MaximumSize { containers: 9 }, InstallMode::Overwrite)?;
//! log.remove_policy(PolicyKind::MaximumSize)?;
//! assert_eq!(log.query_policy(PolicyKind::MaximumSize, &mut buf)?, None);
//! # Ok::<(), clfs::Error>(())
//! ```
//!
//! IRQL: every routine here must be called at IRQL <= APC_LEVEL (the library checks); the
//! callbacks run at IRQL <= APC_LEVEL.

use core::ffi::c_void;
use core::marker::PhantomData;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use crate::error::{check, Error, Inconsistency, Result};
use crate::irql::require_passive_or_apc;
use crate::{sys, LogFile, Lsn, NtStatus};

/// Longest container-name prefix or extension, in UTF-16 units, that [`PolicyBuf`] holds
/// (`MAX_PATH`).
///
/// IRQL: any (plain data).
pub const MAX_POLICY_STRING: usize = 260;
/// Most containers a log can have ("at most 1,024", reference §1.9).
///
/// IRQL: any (plain data).
pub const MAX_CONTAINERS: u32 = 1024;

/// Which policy (`CLFS_MGMT_POLICY_TYPE`).
///
/// IRQL: any (plain data).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PolicyKind {
    /// `ClfsMgmtPolicyMaximumSize`.
    MaximumSize,
    /// `ClfsMgmtPolicyMinimumSize`.
    MinimumSize,
    /// `ClfsMgmtPolicyNewContainerSize`.
    NewContainerSize,
    /// `ClfsMgmtPolicyGrowthRate`.
    GrowthRate,
    /// `ClfsMgmtPolicyLogTail`.
    LogTail,
    /// `ClfsMgmtPolicyAutoShrink`.
    AutoShrink,
    /// `ClfsMgmtPolicyAutoGrow`.
    AutoGrow,
    /// `ClfsMgmtPolicyNewContainerPrefix`.
    NewContainerPrefix,
    /// `ClfsMgmtPolicyNewContainerSuffix`.
    NewContainerSuffix,
    /// `ClfsMgmtPolicyNewContainerExtension`.
    NewContainerExtension,
}

impl PolicyKind {
    /// Every policy type, in `CLFS_MGMT_POLICY_TYPE` order.
    pub const ALL: [PolicyKind; 10] = [
        PolicyKind::MaximumSize,
        PolicyKind::MinimumSize,
        PolicyKind::NewContainerSize,
        PolicyKind::GrowthRate,
        PolicyKind::LogTail,
        PolicyKind::AutoShrink,
        PolicyKind::AutoGrow,
        PolicyKind::NewContainerPrefix,
        PolicyKind::NewContainerSuffix,
        PolicyKind::NewContainerExtension,
    ];

    /// The raw `CLFS_MGMT_POLICY_TYPE`. IRQL: any.
    pub const fn raw(self) -> sys::CLFS_MGMT_POLICY_TYPE {
        match self {
            PolicyKind::MaximumSize => sys::ClfsMgmtPolicyMaximumSize,
            PolicyKind::MinimumSize => sys::ClfsMgmtPolicyMinimumSize,
            PolicyKind::NewContainerSize => sys::ClfsMgmtPolicyNewContainerSize,
            PolicyKind::GrowthRate => sys::ClfsMgmtPolicyGrowthRate,
            PolicyKind::LogTail => sys::ClfsMgmtPolicyLogTail,
            PolicyKind::AutoShrink => sys::ClfsMgmtPolicyAutoShrink,
            PolicyKind::AutoGrow => sys::ClfsMgmtPolicyAutoGrow,
            PolicyKind::NewContainerPrefix => sys::ClfsMgmtPolicyNewContainerPrefix,
            PolicyKind::NewContainerSuffix => sys::ClfsMgmtPolicyNewContainerSuffix,
            PolicyKind::NewContainerExtension => sys::ClfsMgmtPolicyNewContainerExtension,
        }
    }

    /// The name used in error messages, e.g. `"MaximumSize"`. IRQL: any.
    pub const fn name(self) -> &'static str {
        match self {
            PolicyKind::MaximumSize => "MaximumSize",
            PolicyKind::MinimumSize => "MinimumSize",
            PolicyKind::NewContainerSize => "NewContainerSize",
            PolicyKind::GrowthRate => "GrowthRate",
            PolicyKind::LogTail => "LogTail",
            PolicyKind::AutoShrink => "AutoShrink",
            PolicyKind::AutoGrow => "AutoGrow",
            PolicyKind::NewContainerPrefix => "NewContainerPrefix",
            PolicyKind::NewContainerSuffix => "NewContainerSuffix",
            PolicyKind::NewContainerExtension => "NewContainerExtension",
        }
    }
}

/// How a growth step is sized (`GrowthRate`: exactly one of the two C fields is non-zero).
///
/// IRQL: any (plain data).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Growth {
    /// Add this many containers per step (`AbsoluteGrowthInContainers`, at least 1).
    Containers(u32),
    /// Add this percentage of the current container count per step, rounded down
    /// (`RelativeGrowthPercentage`, at least 1; 32 containers at 10% grow by 3).
    Percent(u32),
}

/// How much of the log must stay available before CLFS asks clients to advance their tails
/// (`LogTail`: the two C fields are mutually exclusive).
///
/// IRQL: any (plain data).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TailTarget {
    /// `MinimumAvailablePercentage` (0..=100).
    Percent(u32),
    /// `MinimumAvailableContainers`.
    Containers(u32),
}

/// One management policy, typed (a `CLFS_MGMT_POLICY` without the raw union).
///
/// Container names are built as `[prefix][suffix][.extension]`: the prefix includes the
/// directory (e.g. `%BLF%\\grown` or a full path), the suffix is a decimal counter, the
/// extension defaults to none.
///
/// IRQL: any (plain data).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Policy<'a> {
    /// The log never grows beyond this many containers (2..=1024).
    MaximumSize {
        /// Containers.
        containers: u32,
    },
    /// The log never shrinks below this many containers (2..=1024).
    MinimumSize {
        /// Containers.
        containers: u32,
    },
    /// Size of containers CLFS creates. Only counts when installed before the log's first
    /// container exists; later it is accepted and ignored (reference §1.9).
    NewContainerSize {
        /// Bytes (rounded up to 512 KiB by CLFS; not zero).
        bytes: u32,
    },
    /// How much one growth step adds.
    GrowthRate(Growth),
    /// When to ask clients to advance their tails.
    LogTail(TailTarget),
    /// Shrink when this percentage of the log is free (0..=100; 0 disables).
    AutoShrink {
        /// Percent free.
        percent: u32,
    },
    /// Grow automatically when fewer than two containers are free.
    AutoGrow {
        /// On or off.
        enabled: bool,
    },
    /// Prefix of new container names (at most [`MAX_POLICY_STRING`] units, not empty).
    NewContainerPrefix(&'a [u16]),
    /// The next decimal suffix of new container names.
    NewContainerSuffix {
        /// The next value.
        next: u64,
    },
    /// Extension of new container names (at most [`MAX_POLICY_STRING`] units).
    NewContainerExtension(&'a [u16]),
}

/// Bytes of a `CLFS_MGMT_POLICY` header: where the `PolicyParameters` union starts (16).
const HEADER: usize = core::mem::offset_of!(sys::CLFS_MGMT_POLICY, PolicyParameters);
/// The union's second `ULONG` (`RelativeGrowthPercentage`, `MinimumAvailableContainers`: 20).
const SECOND: usize = core::mem::offset_of!(
    sys::CLFS_MGMT_POLICY,
    PolicyParameters.GrowthRate.RelativeGrowthPercentage
);
/// The prefix and extension strings, after their `USHORT` byte length (18).
const STRING: usize = core::mem::offset_of!(
    sys::CLFS_MGMT_POLICY,
    PolicyParameters.NewContainerPrefix.PrefixString
);
const _: () = {
    // The two members each constant stands for share its offset (tests/abi.rs checks all
    // of them against wdm.h).
    assert!(
        SECOND
            == core::mem::offset_of!(
                sys::CLFS_MGMT_POLICY,
                PolicyParameters.LogTail.MinimumAvailableContainers
            )
    );
    assert!(
        STRING
            == core::mem::offset_of!(
                sys::CLFS_MGMT_POLICY,
                PolicyParameters.NewContainerExtension.ExtensionString
            )
    );
};
/// `sizeof(CLFS_MGMT_POLICY)`.
const MIN_POLICY: usize = core::mem::size_of::<sys::CLFS_MGMT_POLICY>();

/// The rules a successful `ClfsMgmtQueryPolicy` into `buf` keeps: the length it reports
/// (`*PolicyLength`) lies inside `buf` and covers a `CLFS_MGMT_POLICY`, the policy is of the
/// type asked for, and a prefix or extension string is an even number of bytes inside that
/// length. Checked before anything is decoded.
fn check_policy_output(
    status: NtStatus,
    kind: PolicyKind,
    buf: &PolicyBuf,
    len: u32,
) -> Result<()> {
    const ROUTINE: &str = "ClfsMgmtQueryPolicy";
    const WHAT: &str = "CLFS_MGMT_POLICY";
    let inconsistent = |detail| Error::InconsistentOutput {
        routine: ROUTINE,
        status,
        detail,
    };
    let n = len as usize;
    if n > BUF_BYTES {
        return Err(Error::LengthOutOfRange {
            routine: ROUTINE,
            what: WHAT,
            len: u64::from(len),
            limit: BUF_BYTES as u64,
        });
    }
    if n < MIN_POLICY {
        return Err(inconsistent(Inconsistency::ShortLength {
            what: WHAT,
            len: u64::from(len),
            min: MIN_POLICY as u64,
        }));
    }
    let found = buf.u32_at(12);
    if found != kind.raw() as u32 {
        return Err(inconsistent(Inconsistency::Mismatch {
            what: "a policy whose PolicyType is not the type asked for",
            found: u64::from(found),
            expected: kind.raw() as u64,
        }));
    }
    if matches!(
        kind,
        PolicyKind::NewContainerPrefix | PolicyKind::NewContainerExtension
    ) {
        const STR: &str = "the policy's string";
        let bytes = u16::from_le_bytes([buf.bytes[HEADER], buf.bytes[HEADER + 1]]);
        if bytes % 2 != 0 {
            return Err(inconsistent(Inconsistency::OddLength {
                what: STR,
                len: u64::from(bytes),
            }));
        }
        // n >= MIN_POLICY > STRING (asserted below).
        if STRING + usize::from(bytes) > n {
            return Err(Error::LengthOutOfRange {
                routine: ROUTINE,
                what: STR,
                len: u64::from(bytes),
                limit: (n - STRING) as u64,
            });
        }
    }
    Ok(())
}

const _: () = assert!(MIN_POLICY > STRING);
/// Bytes [`PolicyBuf`] holds: header, length, the longest string, rounded to 8.
const BUF_BYTES: usize = (STRING + 2 * MAX_POLICY_STRING).div_ceil(8) * 8;

/// Storage for one encoded `CLFS_MGMT_POLICY`, including the variable-length prefix and
/// extension policies (544 bytes, 8-aligned: fits on a kernel stack).
///
/// IRQL: any (plain data).
#[repr(C, align(8))]
#[derive(Clone)]
pub struct PolicyBuf {
    bytes: [u8; BUF_BYTES],
}

impl Default for PolicyBuf {
    fn default() -> Self {
        Self::new()
    }
}

impl core::fmt::Debug for PolicyBuf {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PolicyBuf").finish_non_exhaustive()
    }
}

impl PolicyBuf {
    /// An empty buffer. IRQL: any.
    pub const fn new() -> PolicyBuf {
        PolicyBuf {
            bytes: [0; BUF_BYTES],
        }
    }

    fn u32_at(&self, off: usize) -> u32 {
        let mut w = [0u8; 4];
        w.copy_from_slice(&self.bytes[off..off + 4]);
        u32::from_le_bytes(w)
    }

    fn put_u32(&mut self, off: usize, v: u32) {
        self.bytes[off..off + 4].copy_from_slice(&v.to_le_bytes());
    }

    fn wide(&self) -> Option<&[u16]> {
        let n = usize::from(u16::from_le_bytes([
            self.bytes[HEADER],
            self.bytes[HEADER + 1],
        ]));
        if n % 2 != 0 || STRING + n > BUF_BYTES {
            return None;
        }
        let start = STRING;
        // The string starts 2 bytes past an 8-aligned offset of an 8-aligned buffer.
        let bytes = &self.bytes[start..start + n];
        // SAFETY: `bytes` is in bounds, 2-aligned (the buffer is 8-aligned and `start` even),
        // and any bit pattern is a valid `u16`; `n / 2` units cover exactly `n` bytes.
        Some(unsafe { core::slice::from_raw_parts(bytes.as_ptr().cast::<u16>(), n / 2) })
    }

    /// Encodes `p`; returns the `LengthInBytes`.
    fn encode(&mut self, p: &Policy<'_>, flags: u32) -> Result<u32> {
        self.bytes = [0; BUF_BYTES];
        let mut len = MIN_POLICY;
        let bad = |rule: &'static str, value: u64| Error::InvalidPolicy {
            policy: p.kind().name(),
            rule,
            value,
        };
        let containers = |n: u32| {
            if (2..=MAX_CONTAINERS).contains(&n) {
                Ok(n)
            } else {
                Err(bad("must be between 2 and 1024 containers", u64::from(n)))
            }
        };
        match *p {
            Policy::MaximumSize { containers: n } | Policy::MinimumSize { containers: n } => {
                let n = containers(n)?;
                self.put_u32(HEADER, n);
            }
            Policy::NewContainerSize { bytes } => {
                if bytes == 0 {
                    return Err(bad("must be at least 1 byte", 0));
                }
                self.put_u32(HEADER, bytes);
            }
            Policy::GrowthRate(g) => match g {
                Growth::Containers(0) => return Err(bad("must add at least 1 container", 0)),
                Growth::Percent(0) => return Err(bad("must grow by at least 1 percent", 0)),
                Growth::Containers(n) => self.put_u32(HEADER, n),
                Growth::Percent(n) => self.put_u32(SECOND, n),
            },
            Policy::LogTail(t) => match t {
                TailTarget::Percent(n) if n > 100 => {
                    return Err(bad("percentage must be at most 100", u64::from(n)))
                }
                TailTarget::Containers(n) if n > MAX_CONTAINERS => {
                    return Err(bad("must be at most 1024 containers", u64::from(n)))
                }
                TailTarget::Percent(n) => self.put_u32(HEADER, n),
                TailTarget::Containers(n) => self.put_u32(SECOND, n),
            },
            Policy::AutoShrink { percent } => {
                if percent > 100 {
                    return Err(bad("percentage must be at most 100", u64::from(percent)));
                }
                self.put_u32(HEADER, percent);
            }
            Policy::AutoGrow { enabled } => self.put_u32(HEADER, u32::from(enabled)),
            Policy::NewContainerSuffix { next } => {
                self.bytes[HEADER..HEADER + 8].copy_from_slice(&next.to_le_bytes());
            }
            Policy::NewContainerPrefix(s) | Policy::NewContainerExtension(s) => {
                if s.len() > MAX_POLICY_STRING {
                    return Err(bad(
                        "string must be at most 260 UTF-16 units long",
                        s.len() as u64,
                    ));
                }
                if s.contains(&0) {
                    return Err(bad("string must not contain NUL", s.len() as u64));
                }
                if s.is_empty() && matches!(p, Policy::NewContainerPrefix(_)) {
                    return Err(bad("string must not be empty", 0));
                }
                let n = 2 * s.len();
                self.bytes[HEADER..HEADER + 2].copy_from_slice(&(n as u16).to_le_bytes());
                for (i, w) in s.iter().enumerate() {
                    let o = STRING + 2 * i;
                    self.bytes[o..o + 2].copy_from_slice(&w.to_le_bytes());
                }
                len = (STRING + n).max(MIN_POLICY).div_ceil(8) * 8;
            }
        }
        let len = len as u32;
        self.put_u32(0, sys::CLFS_MGMT_POLICY_VERSION);
        self.put_u32(4, len);
        self.put_u32(8, flags);
        self.put_u32(12, p.kind().raw() as u32);
        Ok(len)
    }

    /// Decodes the policy of type `kind` (bounds-checked: the bytes came from Clfs.sys).
    fn decode(&self, kind: PolicyKind) -> Option<Policy<'_>> {
        let a = self.u32_at(HEADER);
        let b = self.u32_at(SECOND);
        Some(match kind {
            PolicyKind::MaximumSize => Policy::MaximumSize { containers: a },
            PolicyKind::MinimumSize => Policy::MinimumSize { containers: a },
            PolicyKind::NewContainerSize => Policy::NewContainerSize { bytes: a },
            PolicyKind::GrowthRate if a != 0 => Policy::GrowthRate(Growth::Containers(a)),
            PolicyKind::GrowthRate => Policy::GrowthRate(Growth::Percent(b)),
            PolicyKind::LogTail if b != 0 => Policy::LogTail(TailTarget::Containers(b)),
            PolicyKind::LogTail => Policy::LogTail(TailTarget::Percent(a)),
            PolicyKind::AutoShrink => Policy::AutoShrink { percent: a },
            PolicyKind::AutoGrow => Policy::AutoGrow { enabled: a != 0 },
            PolicyKind::NewContainerSuffix => {
                let mut w = [0u8; 8];
                w.copy_from_slice(&self.bytes[HEADER..HEADER + 8]);
                Policy::NewContainerSuffix {
                    next: u64::from_le_bytes(w),
                }
            }
            PolicyKind::NewContainerPrefix => Policy::NewContainerPrefix(self.wide()?),
            PolicyKind::NewContainerExtension => Policy::NewContainerExtension(self.wide()?),
        })
    }
}

impl Policy<'_> {
    /// Its type. IRQL: any.
    pub const fn kind(&self) -> PolicyKind {
        match self {
            Policy::MaximumSize { .. } => PolicyKind::MaximumSize,
            Policy::MinimumSize { .. } => PolicyKind::MinimumSize,
            Policy::NewContainerSize { .. } => PolicyKind::NewContainerSize,
            Policy::GrowthRate(_) => PolicyKind::GrowthRate,
            Policy::LogTail(_) => PolicyKind::LogTail,
            Policy::AutoShrink { .. } => PolicyKind::AutoShrink,
            Policy::AutoGrow { .. } => PolicyKind::AutoGrow,
            Policy::NewContainerPrefix(_) => PolicyKind::NewContainerPrefix,
            Policy::NewContainerSuffix { .. } => PolicyKind::NewContainerSuffix,
            Policy::NewContainerExtension(_) => PolicyKind::NewContainerExtension,
        }
    }
}

/// What to do when a policy of the same type is installed already.
///
/// IRQL: any (plain data).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InstallMode {
    /// Fail with `STATUS_LOG_POLICY_ALREADY_INSTALLED`.
    KeepExisting,
    /// Replace it (`LOG_POLICY_OVERWRITE`).
    Overwrite,
}

/// The target of [`LogFile::set_log_file_size`] (the documented `NewSizeInContainers`
/// table, reference §1.9). The invalid value 1 cannot be expressed except through
/// [`LogSize::Containers`], which refuses it before the call.
///
/// IRQL: any (plain data).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogSize {
    /// 0: grow to the minimum-size policy (or to 2 containers without one); never shrinks.
    EnforceMinimum,
    /// 2..=1023 containers. Below the minimum policy it fails with
    /// `STATUS_COULD_NOT_RESIZE_LOG`; above the maximum policy it stops at the maximum.
    Containers(u32),
    /// 1024 or more: grow to the maximum-size policy (fails with
    /// `STATUS_LOG_POLICY_CONFLICT` without one).
    Maximum,
}

impl LogSize {
    fn raw(self) -> Result<u64> {
        match self {
            LogSize::EnforceMinimum => Ok(sys::CLFS_LOG_SIZE_MINIMUM),
            LogSize::Maximum => Ok(sys::CLFS_LOG_SIZE_MAXIMUM),
            LogSize::Containers(n @ 2..=1023) => Ok(u64::from(n)),
            LogSize::Containers(n) => Err(Error::InvalidLogSize {
                containers: u64::from(n),
            }),
        }
    }
}

/// What a resize did.
///
/// IRQL: any (plain data).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Resize {
    /// Containers the log has now (`ResultingSizeInContainers`).
    pub containers: u64,
    /// False when CLFS answered the warning `STATUS_COULD_NOT_RESIZE_LOG`: it could not
    /// remove enough containers (they hold active records), or the target was below the
    /// minimum-size policy.
    pub complete: bool,
}

fn set_size(
    routine: &'static str,
    log: &LogFile,
    client: Option<&sys::CLFS_MGMT_CLIENT>,
    size: LogSize,
) -> Result<Resize> {
    require_passive_or_apc(routine)?;
    let want = size.raw()?;
    let mut now: u64 = 0;
    let status = match client {
        // SAFETY: `want` and `now` are valid for the call; no completion routine.
        None => unsafe {
            sys::ClfsMgmtSetLogFileSize(log.as_raw(), &want, &mut now, None, core::ptr::null())
        },
        // SAFETY: as above; `c` points to the registered cookie (the header's ABI takes a
        // pointer to it).
        Some(c) => unsafe {
            sys::ClfsMgmtSetLogFileSizeAsClient(
                log.as_raw(),
                (c as *const sys::CLFS_MGMT_CLIENT).cast(),
                &want,
                &mut now,
                None,
                core::ptr::null(),
            )
        },
    };
    if NtStatus(status) == NtStatus::COULD_NOT_RESIZE_LOG {
        return Ok(Resize {
            containers: now,
            complete: false,
        });
    }
    check(routine, status)?;
    Ok(Resize {
        containers: now,
        complete: true,
    })
}

impl LogFile {
    /// `ClfsMgmtInstallPolicy`: installs `policy` on the physical log.
    ///
    /// Policies are **volatile**: they are lost when the last handle of the log closes.
    /// With [`InstallMode::KeepExisting`] an installed policy of the same type makes this
    /// fail with `STATUS_LOG_POLICY_ALREADY_INSTALLED`.
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL.
    pub fn install_policy(&self, policy: &Policy<'_>, mode: InstallMode) -> Result<()> {
        const ROUTINE: &str = "ClfsMgmtInstallPolicy";
        require_passive_or_apc(ROUTINE)?;
        let flags = match mode {
            InstallMode::KeepExisting => 0,
            InstallMode::Overwrite => sys::LOG_POLICY_OVERWRITE,
        };
        let mut buf = PolicyBuf::new();
        let len = buf.encode(policy, flags)?;
        // SAFETY: `buf` holds an encoded policy of `len <= BUF_BYTES` bytes, 8-aligned like
        // CLFS_MGMT_POLICY.
        let status = unsafe {
            sys::ClfsMgmtInstallPolicy(
                self.as_raw(),
                buf.bytes.as_ptr().cast::<sys::CLFS_MGMT_POLICY>(),
                len,
            )
        };
        check(ROUTINE, status).map(drop)
    }

    /// `ClfsMgmtQueryPolicy`: the installed policy of type `kind`, decoded into `buf`;
    /// `None` if none is installed (`STATUS_LOG_POLICY_NOT_INSTALLED`).
    ///
    /// What Clfs.sys returns is checked before it is decoded: a length past `buf`, or a
    /// string past the length, is [`Error::LengthOutOfRange`]; a length short of
    /// `CLFS_MGMT_POLICY`, a policy of another type, or a string of an odd byte length is
    /// [`Error::InconsistentOutput`].
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL.
    pub fn query_policy<'b>(
        &self,
        kind: PolicyKind,
        buf: &'b mut PolicyBuf,
    ) -> Result<Option<Policy<'b>>> {
        const ROUTINE: &str = "ClfsMgmtQueryPolicy";
        require_passive_or_apc(ROUTINE)?;
        buf.bytes = [0; BUF_BYTES];
        let mut len = BUF_BYTES as u32;
        // SAFETY: `buf` is writable for `len` bytes and 8-aligned; `len` is a valid in/out.
        let status = unsafe {
            sys::ClfsMgmtQueryPolicy(
                self.as_raw(),
                kind.raw(),
                buf.bytes.as_mut_ptr().cast::<sys::CLFS_MGMT_POLICY>(),
                &mut len,
            )
        };
        if NtStatus(status) == NtStatus::LOG_POLICY_NOT_INSTALLED {
            return Ok(None);
        }
        let status = check(ROUTINE, status)?;
        check_policy_output(status, kind, buf, len)?;
        Ok(buf.decode(kind))
    }

    /// `ClfsMgmtRemovePolicy`: the policy type goes back to its default. Removing one that is
    /// not installed fails with `STATUS_LOG_POLICY_NOT_INSTALLED`.
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL.
    pub fn remove_policy(&self, kind: PolicyKind) -> Result<()> {
        const ROUTINE: &str = "ClfsMgmtRemovePolicy";
        require_passive_or_apc(ROUTINE)?;
        // SAFETY: the log object is open (borrowed); the type is a valid enum value.
        let status = unsafe { sys::ClfsMgmtRemovePolicy(self.as_raw(), kind.raw()) };
        check(ROUTINE, status).map(drop)
    }

    /// `ClfsMgmtSetLogFileSize`: adds or removes containers to reach `size` (see
    /// [`LogSize`]). Do not call it from inside an AdvanceTail callback.
    ///
    /// ```
    /// # let _sandbox = clfs_emu::Sandbox::new();
    /// use clfs::mgmt::LogSize;
    /// # use clfs::{wide, LogFile, LogOptions};
    /// let log = LogFile::create(wide!("log:C:\\logs\\size-doc"), LogOptions::new().create_if_missing())?;
    /// assert_eq!(log.set_log_file_size(LogSize::EnforceMinimum)?.containers, 2);
    /// let err = log.set_log_file_size(LogSize::Containers(1)).unwrap_err();
    /// assert!(err.refused_before_call());
    /// # Ok::<(), clfs::Error>(())
    /// ```
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL.
    pub fn set_log_file_size(&self, size: LogSize) -> Result<Resize> {
        set_size("ClfsMgmtSetLogFileSize", self, None, size)
    }
}

/// A non-success NTSTATUS, for [`TailAdvance::Failed`] and
/// [`ManagedClient::tail_advance_failure`]: it can never be STATUS_SUCCESS or PENDING.
///
/// IRQL: any (plain data).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ErrorStatus(NtStatus);

impl ErrorStatus {
    /// `STATUS_UNSUCCESSFUL`.
    pub const UNSUCCESSFUL: ErrorStatus = ErrorStatus(NtStatus::UNSUCCESSFUL);

    /// `status` if it is an error (severity 3). IRQL: any.
    pub const fn new(status: NtStatus) -> Option<ErrorStatus> {
        if status.is_error() {
            Some(ErrorStatus(status))
        } else {
            None
        }
    }

    /// The status. IRQL: any.
    pub const fn status(self) -> NtStatus {
        self.0
    }
}

/// The answer of [`ManagementCallbacks::advance_tail`]: by construction never
/// STATUS_SUCCESS, which the callback contract forbids even for a synchronous advance.
///
/// IRQL: any (plain data).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TailAdvance {
    /// The advance is queued (`STATUS_PENDING`): the client will move its base (with
    /// [`MarshallingArea::advance_base`](crate::MarshallingArea) or a restart area) to or past
    /// the target, or report [`ManagedClient::tail_advance_failure`].
    Pending,
    /// The client cannot move its tail; CLFS stops asking it until the tail moves.
    Failed(ErrorStatus),
}

/// The three management callbacks of a [`ManagedClient`] (the way
/// [`BlockAllocator`](crate::BlockAllocator) models the pool callbacks).
///
/// # Where and when they run
/// - At IRQL <= APC_LEVEL, on a CLFS thread (possibly not the registering one), possibly
///   concurrently with your other code, and possibly **as soon as** registration is made,
///   before [`ManagedClient::register`] returns.
/// - Keep them short. Do not block, do not wait for other CLFS work, and do not call
///   `ClfsMgmtSetLogFileSize` from `advance_tail`: **queue a work item** (or signal a worker
///   thread) that advances the base, and return [`TailAdvance::Pending`].
/// - After the [`ManagedClient`] is dropped (deregistered), none of them runs again: the
///   registration borrows the implementer for its whole life, and deregistration waits for
///   callbacks already running. This holds even if Clfs.sys refuses the deregistration: the
///   drop then cuts the callbacks off (see [`ManagedClient`]), so do not drop or deregister
///   the client from inside one of its own callbacks (it would wait for itself).
/// - Panicking in a callback is a bugcheck in the kernel: don't.
///
/// The implementer is shared across threads, so it is `Sync`; use atomics or locks inside.
///
/// ```
/// # let _sandbox = clfs_emu::Sandbox::new();
/// use core::sync::atomic::{AtomicU64, Ordering};
/// use clfs::mgmt::{LogFullOutcome, ManagedClient, ManagementCallbacks, TailAdvance};
/// use clfs::{wide, LogFile, LogOptions, Lsn};
///
/// /// Remembers the requested target; a work item (not shown) moves the base there.
/// #[derive(Default)]
/// struct Tail {
///     wanted: AtomicU64,
/// }
///
/// impl ManagementCallbacks for Tail {
///     fn advance_tail(&self, target: Lsn) -> TailAdvance {
///         self.wanted.fetch_max(target.raw(), Ordering::Relaxed);
///         // In a driver: IoQueueWorkItem(...) here.
///         TailAdvance::Pending
///     }
/// }
///
/// let log = LogFile::create(wide!("log:C:\\logs\\cb-doc"), LogOptions::new().create_if_missing())?;
/// log.add_containers(&[wide!("%BLF%\\c0"), wide!("%BLF%\\c1")], 512 * 1024)?;
/// let tail = Tail::default();
/// let client = ManagedClient::register(&log, &tail)?;
/// // The log has free space: available now, no callback follows.
/// assert_eq!(client.handle_log_full()?, LogFullOutcome::Available);
/// drop(client); // deregisters: `tail` is no longer called and may go
/// # Ok::<(), clfs::Error>(())
/// ```
pub trait ManagementCallbacks: Sync {
    /// AdvanceTail: CLFS asks the client to move its tail (its base LSN) to or beyond
    /// `target`, an LSN of the stream the client registered on
    /// ([`Lsn`](crate::Lsn#lsns-of-different-streams)). Queue the work and return [`TailAdvance::Pending`], or
    /// [`TailAdvance::Failed`] when it cannot be done.
    ///
    /// IRQL: CLFS calls it at PASSIVE_LEVEL or APC_LEVEL (reference §1.0).
    fn advance_tail(&self, target: Lsn) -> TailAdvance;

    /// LogGrowthComplete: a [`ManagedClient::handle_log_full`] that returned
    /// [`LogFullOutcome::GrowthPending`] completed with `status` (`Ok` = space is available;
    /// retry the append). `pinned` is true when the log is pinned: space cannot be reclaimed
    /// until [`log_unpinned`](Self::log_unpinned) is called.
    ///
    /// IRQL: CLFS calls it at PASSIVE_LEVEL or APC_LEVEL (reference §1.0).
    fn log_growth_complete(&self, status: Result<(), NtStatus>, pinned: bool) {
        let _ = (status, pinned);
    }

    /// LogUnpinned: a log reported pinned is unpinned (always after the
    /// `log_growth_complete` that reported it pinned).
    ///
    /// IRQL: CLFS calls it at PASSIVE_LEVEL or APC_LEVEL (reference §1.0).
    fn log_unpinned(&self) {}
}

/// The pool tag of a [`ManagedClient`]'s registration cell (`"ClMc"`, as poolmon shows it):
/// 16 bytes of non-paged pool per client, allocated by [`ManagedClient::register`] and freed
/// when the client is deregistered; leaked on purpose only when Clfs.sys refuses the
/// deregistration (see [`ManagedClient`]).
///
/// IRQL: any (plain data).
pub const CLIENT_CELL_TAG: u32 = crate::pool::pool_tag(*b"ClMc");

/// What Clfs.sys gets as the context of all three callbacks: a pool cell owned by the
/// [`ManagedClient`], not the callbacks themselves, so that the client can cut Clfs.sys off
/// from the callbacks even when Clfs.sys refuses to deregister it.
///
/// # Invariants
/// While `alive` is true, `callbacks` points to the `C` the client borrows. A trampoline
/// touches `*callbacks` only between incrementing `in_flight` and decrementing it, and only
/// if it read `alive == true` after the increment. `alive` only ever goes from true to
/// false ([`revoke`]).
struct ClientCell<C> {
    callbacks: *const C,
    alive: AtomicBool,
    in_flight: AtomicU32,
}

/// Allocates and initialises the cell of a client of `callbacks` (alive, nothing in flight).
///
/// IRQL: <= DISPATCH_LEVEL (non-paged pool); the callers run at <= APC_LEVEL.
fn new_cell<C>(callbacks: &C) -> Result<NonNull<ClientCell<C>>> {
    let bytes = core::mem::size_of::<ClientCell<C>>();
    // SAFETY: one pool type flag, a non-zero tag and a non-zero size (a pointer and two
    // atomics); non-paged pool may be allocated at the caller's IRQL (<= APC_LEVEL).
    let raw = unsafe { sys::ExAllocatePool2(sys::POOL_FLAG_NON_PAGED, bytes, CLIENT_CELL_TAG) };
    let cell = NonNull::new(raw.cast::<ClientCell<C>>()).ok_or(Error::PoolExhausted {
        what: "the managed client's registration cell",
        bytes,
    })?;
    // SAFETY: `cell` is a fresh, exclusively owned allocation of `bytes` bytes, 16-byte
    // aligned (ExAllocatePool2 on x64), enough for `ClientCell<C>` (8-byte alignment).
    unsafe {
        cell.as_ptr().write(ClientCell {
            callbacks,
            alive: AtomicBool::new(true),
            in_flight: AtomicU32::new(0),
        })
    };
    Ok(cell)
}

/// Frees a cell that Clfs.sys no longer knows about.
///
/// # Safety
/// `cell` came from [`new_cell`], is freed only here, once, and no registration refers to
/// it any more (never registered, or deregistered with success: no callback runs or will
/// run). IRQL <= DISPATCH_LEVEL.
unsafe fn free_cell<C>(cell: NonNull<ClientCell<C>>) {
    // SAFETY: by the contract, an ExAllocatePool2 block with this tag that nobody uses any
    // more; `ClientCell` has no drop glue, so nothing needs dropping first.
    unsafe { sys::ExFreePoolWithTag(cell.as_ptr().cast(), CLIENT_CELL_TAG) }
}

/// Cuts the callbacks off a cell that Clfs.sys may still call through: clears `alive`, then
/// waits until no trampoline is inside the callbacks any more. Afterwards no trampoline
/// touches the callbacks again (it reads `alive == false` after its increment), so their
/// borrow may end; the cell itself must never be freed (leak it).
///
/// The wait is a spin (`spin_loop` hints, no sleeping): it only happens when Clfs.sys
/// refused to deregister the client, and only lasts as long as callbacks already running,
/// which the callback contract keeps short ([`ManagementCallbacks`]). Calling it from inside
/// one of the client's own callbacks would never return (as deregistering from a callback
/// would not).
///
/// IRQL: PASSIVE_LEVEL or APC_LEVEL, where drop runs (the spin neither blocks nor needs
/// a particular IRQL; above APC_LEVEL it could starve a callback running on the same
/// processor, which is why the client must be dropped at <= APC_LEVEL).
fn revoke<C>(cell: &ClientCell<C>) {
    // SeqCst on both sides (here and in `enter`): either the trampoline's load sees `false`,
    // or this loop sees its increment and waits for its decrement.
    cell.alive.store(false, Ordering::SeqCst);
    while cell.in_flight.load(Ordering::SeqCst) != 0 {
        core::hint::spin_loop();
    }
}

/// Runs `f` on the callbacks of the cell `data` if the client is still alive; otherwise
/// (revoked) returns `gone` without touching them.
///
/// # Safety
/// `data` is NULL or a cell registered with Clfs.sys by [`ManagedClient::register`]: the
/// cell is freed only after a successful deregistration (after which no callback runs) and
/// is leaked otherwise, so it is valid for the whole call.
unsafe fn enter<C, R>(data: *const c_void, gone: R, f: impl FnOnce(&C) -> R) -> R {
    if data.is_null() {
        return gone;
    }
    // SAFETY: by the contract `data` is a live, initialised `ClientCell<C>`; only shared
    // references to it exist (its fields are atomics or written once before registration).
    let cell = unsafe { &*data.cast::<ClientCell<C>>() };
    cell.in_flight.fetch_add(1, Ordering::SeqCst);
    let r = if cell.alive.load(Ordering::SeqCst) {
        // SAFETY: `alive` read true after the increment: by the cell's invariant `callbacks`
        // points to the borrowed `C`, and `revoke` (the only way its borrow can end while
        // registered) waits for the decrement below before returning.
        f(unsafe { &*cell.callbacks })
    } else {
        gone
    };
    cell.in_flight.fetch_sub(1, Ordering::SeqCst);
    r
}

/// What a revoked client's AdvanceTail returns: `STATUS_UNSUCCESSFUL` (an error, which
/// Clfs.sys takes as "this client cannot move its tail"; never STATUS_SUCCESS).
const GONE_ADVANCE: sys::NTSTATUS = NtStatus::UNSUCCESSFUL.0;

/// `PCLFS_CLIENT_ADVANCE_TAIL_CALLBACK` trampoline for `C`.
///
/// # Safety
/// `data` is as in [`enter`]; `target` is NULL or a valid LSN.
unsafe extern "system" fn advance_tail_tramp<C: ManagementCallbacks>(
    _log: *const sys::FILE_OBJECT,
    target: *const sys::CLFS_LSN,
    data: *const c_void,
) -> sys::NTSTATUS {
    if target.is_null() || data.is_null() {
        return NtStatus::INVALID_PARAMETER.0;
    }
    // SAFETY: `target` is non-null and points to the LSN CLFS passes for the call.
    let target = Lsn::from_raw(unsafe { target.read_unaligned() }.Internal);
    // SAFETY: `data` is a registered cell (this function's contract).
    unsafe {
        enter::<C, _>(data, GONE_ADVANCE, |c| match c.advance_tail(target) {
            TailAdvance::Pending => NtStatus::PENDING.0,
            TailAdvance::Failed(e) => e.status().0,
        })
    }
}

/// `PCLFS_CLIENT_LFF_HANDLER_COMPLETE_CALLBACK` trampoline for `C` (a revoked client does
/// nothing).
///
/// # Safety
/// As [`advance_tail_tramp`].
unsafe extern "system" fn growth_complete_tramp<C: ManagementCallbacks>(
    _log: *const sys::FILE_OBJECT,
    status: sys::NTSTATUS,
    pinned: u8,
    data: *const c_void,
) {
    let st = NtStatus(status);
    // SAFETY: `data` is NULL or a registered cell (this function's contract).
    unsafe {
        enter::<C, _>(data, (), |c| {
            c.log_growth_complete(if st.is_success() { Ok(()) } else { Err(st) }, pinned != 0)
        })
    }
}

/// `PCLFS_CLIENT_LOG_UNPINNED_CALLBACK` trampoline for `C` (a revoked client does nothing).
///
/// # Safety
/// As [`advance_tail_tramp`].
unsafe extern "system" fn unpinned_tramp<C: ManagementCallbacks>(
    _log: *const sys::FILE_OBJECT,
    data: *const c_void,
) {
    // SAFETY: `data` is NULL or a registered cell (this function's contract).
    unsafe { enter::<C, _>(data, (), |c| c.log_unpinned()) }
}

/// What [`ManagedClient::handle_log_full`] achieved (each maps from its documented status).
///
/// IRQL: any (plain data).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogFullOutcome {
    /// `STATUS_SUCCESS`: space is available now; retry the append. No callback follows.
    Available,
    /// `STATUS_PENDING`: CLFS is growing the log or asking clients to advance their tails;
    /// [`ManagementCallbacks::log_growth_complete`] runs when it is done (possibly already
    /// before this returned).
    GrowthPending,
    /// `STATUS_LOG_FULL_HANDLER_IN_PROGRESS`: an earlier request of this client is still
    /// pending; its completion callback will run, once.
    AlreadyInProgress,
}

/// A managed client registration (`ClfsMgmtRegisterManagedClient`): deregisters on drop.
///
/// # Deregistration and its failure
/// [`deregister`](Self::deregister) ends the registration and reports Clfs.sys's status. If
/// Clfs.sys refuses, the client is still registered and comes back inside the
/// [`DeregisterError`], so the callbacks it borrows stay alive: try again, or drop it.
///
/// Dropping the client calls `ClfsMgmtDeregisterManagedClient` and, if that fails, once more
/// (a refusal such as `STATUS_UNSUCCESSFUL` or `STATUS_INSUFFICIENT_RESOURCES` may be
/// transient). Drop never panics. If the second call fails too, the status is lost and
/// Clfs.sys keeps the registration, but it can no longer reach the callbacks: what Clfs.sys
/// holds as the callbacks' context is a small non-paged pool cell owned by the client (tag
/// [`CLIENT_CELL_TAG`]), and the drop *revokes* it: it marks the cell dead, waits for
/// callbacks already running to return, and leaks the cell (16 bytes), which Clfs.sys may
/// still call through. A callback delivered after that does nothing and does not touch the
/// callbacks: AdvanceTail returns `STATUS_UNSUCCESSFUL` (Clfs.sys takes it as "cannot move
/// the tail"), LogGrowthComplete and LogUnpinned return at once. So the borrow of the
/// callbacks may end with the drop whatever Clfs.sys answered. A driver that wants the status
/// (or the registration really gone) calls [`deregister`](Self::deregister).
///
/// IRQL: create, use and drop it at IRQL <= APC_LEVEL. Unlike the other handle types, a
/// drop above APC_LEVEL still calls `ClfsMgmtDeregisterManagedClient` (which the kernel may
/// answer with a bugcheck) rather than leak the registration. [`ManagedClient::deregister`]
/// does the same.
///
/// # Invariants
/// `cookie` is a registered client of `log`, whose callbacks' contexts are `cell`, an alive
/// cell from `new_cell` owned by this value and pointing to the borrowed callbacks.
pub struct ManagedClient<'a, C: ManagementCallbacks> {
    cookie: NonNull<c_void>,
    cell: NonNull<ClientCell<C>>,
    log: &'a LogFile,
    _callbacks: PhantomData<&'a C>,
}

// SAFETY: the cookie may be used from any thread at IRQL <= APC_LEVEL; `C: Sync`; the cell
// is only read through shared references (atomics and a pointer written before registration).
unsafe impl<C: ManagementCallbacks> Send for ManagedClient<'_, C> {}
// SAFETY: as above; every ClfsMgmt routine taking the cookie may run concurrently.
unsafe impl<C: ManagementCallbacks> Sync for ManagedClient<'_, C> {}

impl<C: ManagementCallbacks> core::fmt::Debug for ManagedClient<'_, C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ManagedClient")
            .field("cookie", &self.cookie)
            .finish_non_exhaustive()
    }
}

impl<'a, C: ManagementCallbacks> ManagedClient<'a, C> {
    /// `ClfsMgmtRegisterManagedClient`: registers `callbacks` as a managed client of `log`.
    /// They may run before this returns. Several clients may register with one log. A success
    /// that returns a NULL client cookie is [`Error::InconsistentOutput`] (the callbacks are
    /// then cut off as after a refused deregistration, see [`ManagedClient`]).
    ///
    /// Allocates the client's 16-byte registration cell (non-paged pool, tag
    /// [`CLIENT_CELL_TAG`]) first: if that fails, [`Error::PoolExhausted`], and Clfs.sys is
    /// not called.
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL.
    pub fn register(log: &'a LogFile, callbacks: &'a C) -> Result<Self> {
        const ROUTINE: &str = "ClfsMgmtRegisterManagedClient";
        require_passive_or_apc(ROUTINE)?;
        let cell = new_cell(callbacks)?;
        let ctx = cell.as_ptr().cast::<c_void>();
        let reg = sys::CLFS_MGMT_CLIENT_REGISTRATION {
            Version: sys::CLFS_MGMT_CLIENT_REGISTRATION_VERSION,
            AdvanceTailCallback: Some(advance_tail_tramp::<C>),
            AdvanceTailCallbackData: ctx,
            LogGrowthCompleteCallback: Some(growth_complete_tramp::<C>),
            LogGrowthCompleteCallbackData: ctx,
            LogUnpinnedCallback: Some(unpinned_tramp::<C>),
            LogUnpinnedCallbackData: ctx,
        };
        let mut cookie: sys::CLFS_MGMT_CLIENT = core::ptr::null_mut();
        // SAFETY: `reg` is valid for the call; its contexts are `cell`, which points to
        // `callbacks` and is freed only once Clfs.sys no longer knows it (or leaked after
        // being revoked, before the borrow of `callbacks` ends); `cookie` is a valid out
        // pointer.
        let status = unsafe { sys::ClfsMgmtRegisterManagedClient(log.as_raw(), &reg, &mut cookie) };
        let status = match check(ROUTINE, status) {
            Ok(status) => status,
            Err(e) => {
                // SAFETY: the registration failed, so Clfs.sys keeps no reference to the cell.
                unsafe { free_cell(cell) };
                return Err(e);
            }
        };
        let Some(cookie) = NonNull::new(cookie) else {
            // Registered or not, there is no cookie to deregister with: cut the callbacks
            // off and leak the cell, which Clfs.sys may hold.
            // SAFETY: `cell` is the live cell allocated above, never freed.
            revoke(unsafe { cell.as_ref() });
            return Err(Error::InconsistentOutput {
                routine: ROUTINE,
                status,
                detail: crate::Inconsistency::Null {
                    what: "client cookie",
                },
            });
        };
        // INVARIANT: registration succeeded with this cell, which points to `callbacks`.
        Ok(ManagedClient {
            cookie,
            cell,
            log,
            _callbacks: PhantomData,
        })
    }

    /// The raw `CLFS_MGMT_CLIENT` cookie. IRQL: any.
    pub fn as_raw(&self) -> sys::CLFS_MGMT_CLIENT {
        self.cookie.as_ptr()
    }

    /// The log this client manages. IRQL: any.
    pub fn log(&self) -> &'a LogFile {
        self.log
    }

    /// `ClfsMgmtDeregisterManagedClient`: ends the registration and reports the status. When
    /// it succeeds, no callback runs any more (callbacks running on other threads have
    /// finished).
    ///
    /// When Clfs.sys refuses, the client is still registered and its callbacks may still run,
    /// so the client comes back in the error ([`DeregisterError::into_client`]), still
    /// borrowing the callbacks: try again, or drop it (drop tries twice more at most, then cuts
    /// the callbacks off, see [`ManagedClient`]). `?` converts the error into an [`Error`], dropping the client.
    ///
    /// ```
    /// # let _sandbox = clfs_emu::Sandbox::new();
    /// use clfs::mgmt::{ManagedClient, ManagementCallbacks, TailAdvance};
    /// use clfs::{wide, LogFile, LogOptions, Lsn, NtStatus};
    ///
    /// struct Tail;
    /// impl ManagementCallbacks for Tail {
    ///     fn advance_tail(&self, _target: Lsn) -> TailAdvance {
    ///         TailAdvance::Pending // a work item moves the base
    ///     }
    /// }
    ///
    /// let log = LogFile::create(wide!("log:C:\\logs\\dereg-doc"), LogOptions::new().create_if_missing())?;
    /// let tail = Tail;
    /// let client = ManagedClient::register(&log, &tail)?;
    /// // The emulator refuses the next deregistration, to show the failure.
    /// clfs_emu::faults::fail_call("ClfsMgmtDeregisterManagedClient", 1, NtStatus::UNSUCCESSFUL.0);
    /// let refused = client.deregister().unwrap_err();
    /// assert_eq!(refused.status(), Some(NtStatus::UNSUCCESSFUL));
    /// // Still registered, still borrowing `tail`: try again.
    /// refused.into_client().deregister()?;
    /// # Ok::<(), clfs::Error>(())
    /// ```
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL. Not checked: see the IRQL note on [`ManagedClient`].
    pub fn deregister(self) -> core::result::Result<(), DeregisterError<'a, C>> {
        match self.deregister_raw() {
            Ok(()) => {
                // SAFETY: the registration ended with success: no callback runs or will run,
                // so nothing refers to the cell any more; `forget` below keeps drop from
                // freeing it again.
                unsafe { free_cell(self.cell) };
                // The registration ended and the cell is freed: drop must do neither again
                // (the client owns nothing else).
                core::mem::forget(self);
                Ok(())
            }
            // INVARIANT: still registered (Clfs.sys refused), so the client stays whole.
            Err(error) => Err(DeregisterError {
                error,
                client: self,
            }),
        }
    }

    fn deregister_raw(&self) -> Result<()> {
        const ROUTINE: &str = "ClfsMgmtDeregisterManagedClient";
        // SAFETY: the cookie is registered (invariant): a success is followed by no further
        // call (`deregister` forgets the client), and a refusal leaves the client registered,
        // so the retries of `Drop` and of a client handed back by `DeregisterError` pass a
        // registered cookie too.
        let status = unsafe { sys::ClfsMgmtDeregisterManagedClient(self.cookie.as_ptr()) };
        check(ROUTINE, status).map(drop)
    }

    /// `ClfsMgmtHandleLogFileFull`: call it when an append failed with `STATUS_LOG_FULL`.
    /// CLFS first grows the log within the policies; if it cannot, it asks the clients to
    /// advance their tails. Do not call it again while a request is pending.
    ///
    /// When the log is pinned, [`ManagementCallbacks::log_growth_complete`] runs with
    /// `pinned = true` before this returns [`LogFullOutcome::GrowthPending`].
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL.
    pub fn handle_log_full(&self) -> Result<LogFullOutcome> {
        const ROUTINE: &str = "ClfsMgmtHandleLogFileFull";
        require_passive_or_apc(ROUTINE)?;
        // SAFETY: the cookie is registered (invariant).
        let status = NtStatus(unsafe { sys::ClfsMgmtHandleLogFileFull(self.cookie.as_ptr()) });
        match status {
            NtStatus::SUCCESS => Ok(LogFullOutcome::Available),
            NtStatus::PENDING => Ok(LogFullOutcome::GrowthPending),
            NtStatus::LOG_FULL_HANDLER_IN_PROGRESS => Ok(LogFullOutcome::AlreadyInProgress),
            status => Err(Error::Status {
                routine: ROUTINE,
                status,
            }),
        }
    }

    /// `ClfsMgmtTailAdvanceFailure`: this client cannot move its tail. CLFS stops asking it
    /// until the tail moves; `reason` becomes the status of a pending request's
    /// LogGrowthComplete.
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL.
    pub fn tail_advance_failure(&self, reason: ErrorStatus) -> Result<()> {
        const ROUTINE: &str = "ClfsMgmtTailAdvanceFailure";
        require_passive_or_apc(ROUTINE)?;
        // SAFETY: the cookie is registered (invariant).
        let status =
            unsafe { sys::ClfsMgmtTailAdvanceFailure(self.cookie.as_ptr(), reason.status().0) };
        check(ROUTINE, status).map(drop)
    }

    /// `ClfsMgmtSetLogFileSizeAsClient`: [`LogFile::set_log_file_size`] on behalf of this
    /// client. Do not call it from inside an AdvanceTail callback.
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL.
    pub fn set_log_file_size(&self, size: LogSize) -> Result<Resize> {
        let cookie = self.as_raw();
        set_size(
            "ClfsMgmtSetLogFileSizeAsClient",
            self.log,
            Some(&cookie),
            size,
        )
    }
}

/// Deregisters and frees the registration cell; if Clfs.sys refuses, tries once more, and if
/// that is refused too, revokes the cell (waits for running callbacks, then leaks it) without
/// panicking; the status is lost: see "Deregistration and its failure" on [`ManagedClient`].
///
/// IRQL: PASSIVE_LEVEL or APC_LEVEL (the revocation spins until callbacks already running
/// return, which needs them to be able to run). Unlike the other handles' drops, this one does
/// not leak above APC_LEVEL: `ClfsMgmtDeregisterManagedClient` is called whatever the IRQL.
impl<C: ManagementCallbacks> Drop for ManagedClient<'_, C> {
    fn drop(&mut self) {
        // A refusal may be transient (resources): one more attempt before giving up.
        let ended = self.deregister_raw().is_ok() || self.deregister_raw().is_ok();
        if ended {
            // SAFETY: deregistration succeeded: no callback runs or will run, so nothing
            // refers to the cell; the client is being dropped, so it is freed once.
            unsafe { free_cell(self.cell) };
        } else {
            // Clfs.sys still holds the cell: cut the callbacks off before their borrow ends,
            // and never free the cell.
            // SAFETY: the cell is live (invariant) and, from here on, never freed.
            revoke(unsafe { self.cell.as_ref() });
        }
    }
}

/// The error of [`ManagedClient::deregister`]: Clfs.sys refused to deregister the client.
/// The client is still registered, and its callbacks may still run, so it comes back with
/// the error and keeps borrowing them.
///
/// Dropping the error drops the client, which tries to deregister again (see
/// [`ManagedClient`]). `?` turns it into its [`Error`], dropping the client the same way.
///
/// IRQL: any (plain data); dropping it deregisters the client as [`ManagedClient`]'s drop does.
pub struct DeregisterError<'a, C: ManagementCallbacks> {
    error: Error,
    client: ManagedClient<'a, C>,
}

impl<'a, C: ManagementCallbacks> DeregisterError<'a, C> {
    /// What Clfs.sys answered: [`Error::Status`] naming `ClfsMgmtDeregisterManagedClient`.
    ///
    /// IRQL: any.
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// The status Clfs.sys returned. IRQL: any.
    pub fn status(&self) -> Option<NtStatus> {
        self.error.status()
    }

    /// The client, still registered: call [`ManagedClient::deregister`] again, or drop it.
    ///
    /// IRQL: any.
    pub fn into_client(self) -> ManagedClient<'a, C> {
        self.client
    }

    /// The error and the client. IRQL: any.
    pub fn into_parts(self) -> (Error, ManagedClient<'a, C>) {
        (self.error, self.client)
    }
}

impl<C: ManagementCallbacks> core::fmt::Debug for DeregisterError<'_, C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DeregisterError")
            .field("error", &self.error)
            .field("client", &self.client)
            .finish()
    }
}

impl<C: ManagementCallbacks> core::fmt::Display for DeregisterError<'_, C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}; the managed client is still registered", self.error)
    }
}

impl<C: ManagementCallbacks> core::error::Error for DeregisterError<'_, C> {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl<C: ManagementCallbacks> From<DeregisterError<'_, C>> for Error {
    /// The error; the client is dropped, which tries to deregister it again.
    fn from(e: DeregisterError<'_, C>) -> Error {
        e.error
    }
}
