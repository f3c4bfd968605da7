//! A driver image with one defect: `Defect::CompletedPending` (see the crate's docs).
#![cfg_attr(driver_image, no_std)]

#[cfg(driver_image)]
mod image {
    use clfs_broken_drivers::{driver_entry, driver_unload, Defect, RegistryPath};
    use windows_sys::Wdk::Foundation::DRIVER_OBJECT;
    use windows_sys::Win32::Foundation::NTSTATUS;

    /// The driver's entry point.
    ///
    /// # Safety
    /// Called by the I/O manager only, with a valid driver object.
    #[unsafe(no_mangle)]
    pub unsafe extern "system" fn DriverEntry(
        driver: *mut DRIVER_OBJECT,
        _registry_path: *const RegistryPath,
    ) -> NTSTATUS {
        // SAFETY: forwarded from the I/O manager.
        unsafe { driver_entry(Defect::CompletedPending, driver, unload) }
    }

    /// The unload routine.
    ///
    /// # Safety
    /// Called by the I/O manager only.
    unsafe extern "system" fn unload(_driver: *const DRIVER_OBJECT) {
        // SAFETY: forwarded from the I/O manager.
        unsafe { driver_unload(Defect::CompletedPending) }
    }
}
