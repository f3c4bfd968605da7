//! The I/O manager's part: a `DRIVER_OBJECT`, `DriverEntry`, the unload routine.

use windows_sys::Wdk::Foundation::{DRIVER_EXTENSION, DRIVER_OBJECT};
use windows_sys::Win32::Foundation::{NTSTATUS, UNICODE_STRING};

use crate::error::LoadError;
use crate::map::{load_image, MappedImage};

/// `DriverEntry`'s type as the image implements it (Windows x64 calling convention).
pub type DriverEntryFn =
    unsafe extern "win64" fn(*mut DRIVER_OBJECT, *const UNICODE_STRING) -> NTSTATUS;

/// The unload routine's type as the image implements it.
///
/// windows-sys types `DRIVER_OBJECT::DriverUnload` as `extern "system"`, which on Linux is
/// the SysV ABI; the driver stores a win64 function there, so the harness reads the field's
/// address and calls it through this type instead.
pub type DriverUnloadFn = unsafe extern "win64" fn(*mut DRIVER_OBJECT);

/// `IO_TYPE_DRIVER`.
const IO_TYPE_DRIVER: i16 = 4;

/// The stack size of the thread [`run_on_driver_stack`] creates: 8 MiB, for the harness and
/// the emulator. The driver's own code runs on a 24 KiB kernel stack of its own
/// ([`crate::verifier::stack`]).
pub const DRIVER_STACK_SIZE: usize = 8 << 20;

/// Why the unload routine was not called.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UnloadError {
    /// `DriverEntry` has not returned success.
    #[error("the driver is not started (DriverEntry has not returned success)")]
    NotStarted,
    /// The driver set no unload routine (it cannot be unloaded).
    #[error("the driver set no DriverUnload routine, so it cannot be unloaded")]
    NoUnloadRoutine,
    /// `DriverUnload` points outside the image's code.
    #[error("DriverUnload {0:#x} does not point into the image's code")]
    NotInImage(usize),
}

/// The driver's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Mapped, `DriverEntry` not called yet.
    Loaded,
    /// `DriverEntry` returned this failure status; the driver is not loaded.
    EntryFailed(NTSTATUS),
    /// `DriverEntry` returned success.
    Started,
    /// The unload routine returned.
    Unloaded,
}

/// The id of the next driver (0 means "no driver").
static NEXT_DRIVER: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(1);

/// A UTF-16 buffer and the `UNICODE_STRING` describing it.
fn unicode(s: &str) -> Result<(Box<[u16]>, UNICODE_STRING), LoadError> {
    let mut buf: Vec<u16> = s.encode_utf16().collect();
    let len = u16::try_from(buf.len() * 2).map_err(|_| LoadError::NameTooLong(s.into()))?;
    buf.push(0);
    let mut buf = buf.into_boxed_slice();
    let us = UNICODE_STRING {
        Length: len,
        MaximumLength: len.saturating_add(2),
        Buffer: buf.as_mut_ptr(),
    };
    Ok((buf, us))
}

/// A loaded driver: the mapped image, its `DRIVER_OBJECT` and registry path.
///
/// The object, its extension and the strings are boxed, so the pointers the driver keeps to
/// them stay valid for as long as this value lives (the image is unmapped last).
pub struct Driver {
    /// This driver's id: its pool blocks are attributed to it (see [`crate::verifier`]).
    id: u64,
    object: Box<DRIVER_OBJECT>,
    _extension: Box<DRIVER_EXTENSION>,
    registry_path: Box<UNICODE_STRING>,
    _strings: Vec<Box<[u16]>>,
    state: State,
    /// The driver's devices, links and object handles (`crate::iomgr`).
    namespace: crate::iomgr::Namespace,
    image: MappedImage,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("image", &self.image)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl Driver {
    /// Loads `data` ([`load_image`]) as the driver of service `service` (its object is
    /// `\Driver\<service>`, its registry path
    /// `\Registry\Machine\System\CurrentControlSet\Services\<service>`).
    pub fn load(data: &[u8], service: &str) -> Result<Driver, LoadError> {
        let image = load_image(data)?;
        Driver::new(image, service)
    }

    /// As [`Driver::load`], with the registry path `DriverEntry` gets given explicitly.
    pub fn load_with_registry_path(
        data: &[u8],
        service: &str,
        registry_path: &str,
    ) -> Result<Driver, LoadError> {
        let image = load_image(data)?;
        Driver::with_registry_path(image, service, registry_path)
    }

    /// Wraps a mapped image in a driver object.
    pub fn new(image: MappedImage, service: &str) -> Result<Driver, LoadError> {
        let path = format!("\\Registry\\Machine\\System\\CurrentControlSet\\Services\\{service}");
        Driver::with_registry_path(image, service, &path)
    }

    /// Wraps a mapped image in a driver object whose `DriverEntry` gets `registry_path`.
    pub fn with_registry_path(
        image: MappedImage,
        service: &str,
        registry_path: &str,
    ) -> Result<Driver, LoadError> {
        let (name_buf, name) = unicode(&format!("\\Driver\\{service}"))?;
        let (key_buf, key) = unicode(service)?;
        let (reg_buf, reg) = unicode(registry_path)?;
        let mut object: Box<DRIVER_OBJECT> = Box::default();
        let mut extension: Box<DRIVER_EXTENSION> = Box::default();
        extension.DriverObject = &mut *object;
        extension.ServiceKeyName = key;
        object.Type = IO_TYPE_DRIVER;
        object.Size = core::mem::size_of::<DRIVER_OBJECT>() as i16;
        object.DriverStart = image.base() as *mut core::ffi::c_void;
        object.DriverSize = u32::try_from(image.len()).unwrap_or(u32::MAX);
        object.DriverExtension = &mut *extension;
        object.DriverName = name;
        Ok(Driver {
            id: NEXT_DRIVER.fetch_add(1, core::sync::atomic::Ordering::Relaxed),
            object,
            _extension: extension,
            registry_path: Box::new(reg),
            _strings: vec![name_buf, key_buf, reg_buf],
            state: State::Loaded,
            namespace: crate::iomgr::Namespace::new(),
            image,
        })
    }

    /// This driver's id (what [`crate::verifier::pool::leaks_of`] takes).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The pool blocks this driver holds, one line per tag (tag, count, bytes, sizes).
    pub fn pool_leaks(&self) -> Vec<String> {
        crate::verifier::pool::describe_leaks(self.id)
    }

    /// Pool tracking at the end of the driver's life (after unload, or after a failed
    /// `DriverEntry`, when the kernel unloads the image): with
    /// [`crate::verifier::Settings::leak_stop`], outstanding blocks stop the run with
    /// `DRIVER_VERIFIER_DETECTED_VIOLATION` (0xC4, parameter 1 0x62), by tag and size.
    fn check_pool_at_unload(&self, when: &str) {
        if !crate::verifier::settings().leak_stop {
            return;
        }
        let leaks = crate::verifier::pool::leaks_of(self.id);
        if leaks.is_empty() {
            return;
        }
        let count: u64 = leaks.values().map(|o| o.count).sum();
        let bytes: u64 = leaks.values().map(|o| o.bytes).sum();
        crate::verifier::stop(
            0xC4,
            [0x62, self.id as usize, count as usize, bytes as usize],
            &format!(
                "{when}, but the driver still holds {count} pool allocation(s), {bytes} bytes: {}",
                self.pool_leaks().join("; ")
            ),
        );
    }

    /// Simulates a power loss while the driver is loaded: the driver is never unloaded, and
    /// the pool it held is gone with the machine (its blocks are forgotten unchecked). Call
    /// it after `clfs_emu::Sandbox::crash`, then drop the driver.
    pub fn power_loss(mut self) {
        crate::verifier::pool::forget_driver(self.id);
        self.state = State::Unloaded;
    }

    /// The mapped image.
    pub fn image(&self) -> &MappedImage {
        &self.image
    }

    /// Where the driver is in its lifecycle.
    pub fn state(&self) -> State {
        self.state
    }

    /// The driver object (after `DriverEntry`, it holds what the driver set up).
    pub fn object(&self) -> &DRIVER_OBJECT {
        &self.object
    }

    /// The driver object, writable (the I/O manager's view).
    pub fn object_mut(&mut self) -> &mut DRIVER_OBJECT {
        &mut self.object
    }

    /// The driver's namespace: its devices, symbolic links and object handles.
    pub fn namespace(&self) -> &crate::iomgr::Namespace {
        &self.namespace
    }

    /// Makes the driver's namespace current on this thread (for calls into the image).
    pub fn namespace_guard(&self) -> crate::iomgr::NsGuard {
        self.namespace.enter()
    }

    /// What is left in the driver's namespace (devices, links, object handles): empty after
    /// a clean unload.
    pub fn io_leaks(&self) -> Vec<String> {
        self.namespace.leaks()
    }

    /// The address of the unload routine the driver set, if any.
    pub fn unload_routine(&self) -> Option<usize> {
        self.object.DriverUnload.map(|f| f as usize)
    }

    /// Calls `DriverEntry(driver_object, registry_path)` at the current (simulated) IRQL and
    /// returns its status. The I/O manager calls it at PASSIVE_LEVEL; tests may raise the
    /// simulated IRQL first to check that the driver refuses.
    ///
    /// # Safety
    /// This runs the image's code in this process, with no isolation: the image must be a
    /// driver you are testing, not hostile code. Call it on a thread with a big stack
    /// ([`run_on_driver_stack`]) and at most once.
    pub unsafe fn driver_entry(&mut self) -> NTSTATUS {
        let object: *mut DRIVER_OBJECT = &mut *self.object;
        let path: *const UNICODE_STRING = &*self.registry_path;
        let _ns = self.namespace.enter();
        // SAFETY: the entry point was validated to lie inside an executable section of the
        // mapped image, and the image is a driver, so it has DriverEntry's type; a valid,
        // writable driver object and registry path that outlive the call (boxed, owned by
        // self); the caller accepts running the image's code.
        let status = unsafe {
            crate::verifier::stack::call_driver(
                self.id,
                self.image.entry(),
                [object as u64, path as u64, 0, 0],
                crate::verifier::stack::Routine::DriverEntry,
            )
        } as u32 as NTSTATUS;
        self.state = if status >= 0 {
            State::Started
        } else {
            State::EntryFailed(status)
        };
        if status < 0 {
            self.check_pool_at_unload(&format!(
                "DriverEntry failed with {:#010x} (the image is unloaded)",
                status as u32
            ));
        }
        status
    }

    /// Calls the unload routine the driver set, as the I/O manager does when the driver is
    /// stopped. Only after `DriverEntry` succeeded, at most once.
    ///
    /// # Safety
    /// As [`Driver::driver_entry`].
    pub unsafe fn unload(&mut self) -> Result<(), UnloadError> {
        if self.state != State::Started {
            return Err(UnloadError::NotStarted);
        }
        let Some(addr) = self.unload_routine() else {
            return Err(UnloadError::NoUnloadRoutine);
        };
        if !self.image.is_code(addr) {
            return Err(UnloadError::NotInImage(addr));
        }
        let object: *mut DRIVER_OBJECT = &mut *self.object;
        let _ns = self.namespace.enter();
        // SAFETY: `addr` lies in the image's code and is what the driver stored as its
        // DRIVER_UNLOAD routine (a win64 function of that type, `DriverUnloadFn`), called
        // with its driver object; the caller accepts running the image's code.
        unsafe {
            crate::verifier::stack::call_driver(
                self.id,
                addr,
                [object as u64, 0, 0, 0],
                crate::verifier::stack::Routine::DriverUnload,
            )
        };
        self.state = State::Unloaded;
        self.check_pool_at_unload("after DriverUnload returned");
        Ok(())
    }
}

/// Runs `f` on a new thread with a [`DRIVER_STACK_SIZE`] stack and returns its result
/// (`None` if the thread could not be created or `f` panicked).
///
/// The emulator's sandbox and simulated IRQL are per thread: create the `Sandbox` inside `f`.
pub fn run_on_driver_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let handle = std::thread::Builder::new()
        .name("driver".into())
        .stack_size(DRIVER_STACK_SIZE)
        .spawn(f)
        .ok()?;
    handle.join().ok()
}
