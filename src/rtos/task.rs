//! Tasks: spawning from closures, priorities, notifications.
//!
//! A task's closure runs inside `vFreeRtosHttpsRunTask`, called by a C trampoline
//! (`c_shim/freertos_shim.c`). When the closure returns, the Rust frames are gone and the
//! trampoline deletes the task with `vTaskDelete(NULL)`: the kernel never unwinds through
//! Rust code. A panic inside a task ends the program with status [`TASK_PANIC_EXIT_STATUS`]
//! (on the simulator it is caught at that boundary and reported; on a board the panic handler
//! does it): a device cannot carry on with one of its tasks half-run.
//!
//! # Handles and the end of a task
//!
//! A [`TaskHandle`] may outlive its task. It shares a small liveness record with the task; the
//! task marks it ended (with the scheduler suspended) before it returns into the trampoline,
//! and [`TaskHandle::notify`] checks it with the scheduler suspended too. A notification can
//! therefore never reach a deleted task's control block. Interrupt lines attached to the task
//! are detached at the same moment.

use core::ffi::{CStr, c_void};
use core::fmt;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicBool, Ordering};

use alloc::borrow::ToOwned;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;

use super::console;
use super::critical::SchedulerSuspended;
use super::ffi;
use super::time::Ticks;
use crate::board::port;

/// Exit status of the program when a task panics.
pub const TASK_PANIC_EXIT_STATUS: i32 = 101;

/// Longest task name the kernel keeps (`configMAX_TASK_NAME_LEN - 1`); longer names are
/// truncated.
pub const MAX_NAME_LEN: usize = 15;

/// The kernel's thread-local storage slot that holds a task's [`TaskLife`].
const LIFE_SLOT: ffi::BaseType_t = 0;

/// Whether the caller is a FreeRTOS task running Rust code (on the simulator: not a host
/// thread, and not `main` before the scheduler starts).
pub fn in_task() -> bool {
    port::in_task()
}

/// Panics with a message naming the API if the caller is not a task.
pub(crate) fn require_task(api: &str) {
    assert!(
        in_task(),
        "{api} must be called from a FreeRTOS task, not from a host thread or an interrupt"
    );
}

/// A task priority, from [`Priority::IDLE`] (0) to [`Priority::max`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Priority(u8);

impl Priority {
    /// The idle task's priority. Tasks at this level only run when nothing else can.
    pub const IDLE: Priority = Priority(0);

    /// A priority level, or an error if the kernel was built with fewer levels
    /// (`configMAX_PRIORITIES`).
    pub fn new(level: u8) -> Result<Priority, PriorityError> {
        let max = Self::max();
        if level <= max.0 {
            Ok(Priority(level))
        } else {
            Err(PriorityError { level, max: max.0 })
        }
    }

    /// The highest priority the kernel was built with (`configMAX_PRIORITIES - 1`).
    pub fn max() -> Priority {
        // SAFETY: returns a compile-time constant; no state is touched.
        let levels = unsafe { ffi::uxShimMaxPriorities() };
        Priority(u8::try_from(levels.saturating_sub(1)).unwrap_or(u8::MAX))
    }

    /// The numeric level.
    pub fn level(self) -> u8 {
        self.0
    }
}

/// A priority above the kernel's highest level was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PriorityError {
    /// The level asked for.
    pub level: u8,
    /// The highest level available.
    pub max: u8,
}

impl fmt::Display for PriorityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "task priority {} is above the highest level, {}",
            self.level, self.max
        )
    }
}

impl core::error::Error for PriorityError {}

/// Why a task could not be created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpawnError {
    /// The FreeRTOS heap had no room for the task's control block and stack.
    OutOfMemory,
    /// The name contains a NUL byte.
    InvalidName,
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpawnError::OutOfMemory => {
                f.write_str("not enough FreeRTOS heap for the task's control block and stack")
            }
            SpawnError::InvalidName => f.write_str("task name contains a NUL byte"),
        }
    }
}

impl core::error::Error for SpawnError {}

/// How to create a task: name, priority and stack depth.
#[derive(Debug, Clone)]
pub struct TaskBuilder {
    name: String,
    priority: Priority,
    stack_words: usize,
}

impl TaskBuilder {
    /// A builder for a task called `name`, at priority 1 with the port's default stack (the
    /// board's `DEFAULT_TASK_STACK_BYTES`; the kernel's minimum on the simulators).
    pub fn new(name: &str) -> TaskBuilder {
        TaskBuilder {
            name: name.to_owned(),
            priority: Priority(1),
            stack_words: minimal_stack_words(),
        }
        .stack_bytes(port::DEFAULT_TASK_STACK_BYTES)
    }

    /// Sets the priority.
    pub fn priority(mut self, priority: Priority) -> TaskBuilder {
        self.priority = priority;
        self
    }

    /// Sets the stack depth in words (`StackType_t`), at least the kernel's minimum
    /// (`configMINIMAL_STACK_SIZE`). On a board it is the real stack. On the simulators task
    /// code runs on its host thread's own stack, and this only sizes the block the kernel
    /// takes from the FreeRTOS heap, which holds the port's record of the thread.
    pub fn stack_words(mut self, words: usize) -> TaskBuilder {
        self.stack_words = words.max(minimal_stack_words());
        self
    }

    /// Sets the stack size in bytes, converted to words of the port's `StackType_t` (8 bytes
    /// on the 64-bit POSIX simulator, 4 on Cortex-M). Sizing by bytes keeps the simulator from
    /// doubling what a 32-bit board would spend.
    pub fn stack_bytes(self, bytes: usize) -> TaskBuilder {
        self.stack_words(bytes.div_ceil(size_of::<ffi::StackType_t>()))
    }

    /// Creates the task. It becomes ready at once and runs `body` when scheduled; when
    /// `body` returns, the task deletes itself.
    ///
    /// Callable from a task, or from `main` before the scheduler starts.
    pub fn spawn<F>(self, body: F) -> Result<TaskHandle, SpawnError>
    where
        F: FnOnce() + Send + 'static,
    {
        let name = c_name(&self.name)?;
        let life = Arc::new(TaskLife {
            running: AtomicBool::new(true),
        });
        // A thin pointer to hand through C: a box holding the body and the liveness record.
        let start = Box::new(TaskStart {
            body: Box::new(body),
            life: life.clone(),
        });
        let argument = Box::into_raw(start).cast::<c_void>();
        let mut handle: ffi::TaskHandle_t = ptr::null_mut();
        // SAFETY: `name` is NUL-terminated and the kernel copies it; `argument` is a valid
        // `Box<TaskStart>` whose ownership passes to the new task, which takes it back in
        // `vFreeRtosHttpsRunTask`; `handle` is a valid out-pointer.
        let created = unsafe {
            ffi::xShimTaskCreate(
                name.as_ptr().cast(),
                self.stack_words,
                argument,
                ffi::UBaseType_t::from(self.priority.0),
                &mut handle,
            )
        };
        match NonNull::new(handle) {
            Some(raw) if created == ffi::pdPASS => Ok(TaskHandle { raw, life }),
            _ => {
                // SAFETY: the task was not created, so ownership of the box is still ours.
                drop(unsafe { Box::from_raw(argument.cast::<TaskStart>()) });
                Err(SpawnError::OutOfMemory)
            }
        }
    }
}

/// Spawns a task with the default stack; see [`TaskBuilder::spawn`].
pub fn spawn<F>(name: &str, priority: Priority, body: F) -> Result<TaskHandle, SpawnError>
where
    F: FnOnce() + Send + 'static,
{
    TaskBuilder::new(name).priority(priority).spawn(body)
}

/// Whether a task still runs: shared by the task and its handles.
struct TaskLife {
    running: AtomicBool,
}

/// What a new task receives: its body and its liveness record.
struct TaskStart {
    body: Box<dyn FnOnce() + Send>,
    life: Arc<TaskLife>,
}

fn minimal_stack_words() -> usize {
    // SAFETY: returns a compile-time constant.
    unsafe { ffi::uxShimMinimalStackSize() }
}

/// The name as a NUL-terminated, truncated copy.
fn c_name(name: &str) -> Result<[u8; MAX_NAME_LEN + 1], SpawnError> {
    if name.as_bytes().contains(&0) {
        return Err(SpawnError::InvalidName);
    }
    let mut buffer = [0u8; MAX_NAME_LEN + 1];
    let mut length = name.len().min(MAX_NAME_LEN);
    while !name.is_char_boundary(length) {
        length -= 1;
    }
    buffer[..length].copy_from_slice(&name.as_bytes()[..length]);
    Ok(buffer)
}

/// Entry point of every task spawned here, called by the C trampoline.
#[unsafe(no_mangle)]
extern "C" fn vFreeRtosHttpsRunTask(argument: *mut c_void) {
    port::task_started();
    // SAFETY: `argument` is the `Box<TaskStart>` leaked by `TaskBuilder::spawn` for this task
    // alone; it is taken back exactly once, here.
    let TaskStart { body, life } = *unsafe { Box::from_raw(argument.cast::<TaskStart>()) };
    let slot_value = Arc::into_raw(life.clone()).cast_mut().cast::<c_void>();
    // SAFETY: sets the calling task's own storage slot (index below
    // configNUM_THREAD_LOCAL_STORAGE_POINTERS); the reference it holds is released below.
    unsafe { ffi::vTaskSetThreadLocalStoragePointer(ptr::null_mut(), LIFE_SLOT, slot_value) };
    let outcome = port::run_task_body(body);
    let name = current_name();
    {
        let _suspended = SchedulerSuspended::enter();
        life.running.store(false, Ordering::Release);
        // SAFETY: a NULL handle means the calling task; clearing the lines that point at it
        // keeps interrupts from notifying it once it is deleted.
        unsafe {
            ffi::vShimInterruptDetachTask(ffi::xTaskGetCurrentTaskHandle());
            ffi::vTaskSetThreadLocalStoragePointer(ptr::null_mut(), LIFE_SLOT, ptr::null_mut());
        }
    }
    // SAFETY: the reference `Arc::into_raw` made above, released once now that the slot no
    // longer holds it.
    drop(unsafe { Arc::from_raw(slot_value.cast::<TaskLife>().cast_const()) });
    drop(life);
    if outcome.is_err() {
        console::fatal(
            format_args!("task '{name}' panicked; stopping"),
            TASK_PANIC_EXIT_STATUS,
        );
    }
    port::task_ending();
}

/// A handle to a task, for notifying it. Cloning it is cheap; it may outlive the task, and
/// then notifying it does nothing (see the module docs).
#[derive(Clone)]
pub struct TaskHandle {
    raw: NonNull<ffi::tskTaskControlBlock>,
    life: Arc<TaskLife>,
}

// SAFETY: the raw pointer is only passed to the kernel's notification API, and only while the
// liveness record says the task exists (checked with the scheduler suspended).
unsafe impl Send for TaskHandle {}
// SAFETY: as above; the handle is never dereferenced in Rust.
unsafe impl Sync for TaskHandle {}

impl PartialEq for TaskHandle {
    fn eq(&self, other: &TaskHandle) -> bool {
        Arc::ptr_eq(&self.life, &other.life)
    }
}

impl Eq for TaskHandle {}

impl fmt::Debug for TaskHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskHandle")
            .field("task", &self.raw)
            .field("running", &self.is_running())
            .finish()
    }
}

impl TaskHandle {
    /// The calling task's handle, or `None` outside tasks spawned here (host threads, the
    /// kernel's own idle task, interrupt handlers).
    pub fn current() -> Option<TaskHandle> {
        if !in_task() {
            return None;
        }
        // SAFETY: called from a running task; NULL means the calling task, and the slot index is
        // below configNUM_THREAD_LOCAL_STORAGE_POINTERS.
        let (raw, slot) = unsafe {
            (
                ffi::xTaskGetCurrentTaskHandle(),
                ffi::pvTaskGetThreadLocalStoragePointer(ptr::null_mut(), LIFE_SLOT),
            )
        };
        let raw = NonNull::new(raw)?;
        if slot.is_null() {
            return None;
        }
        let slot = slot.cast::<TaskLife>().cast_const();
        // SAFETY: the slot holds a reference made by `Arc::into_raw` in
        // `vFreeRtosHttpsRunTask`, released only after the slot is cleared by this same task;
        // the calling task is that task, so the reference is live while we take another.
        let life = unsafe {
            Arc::increment_strong_count(slot);
            Arc::from_raw(slot)
        };
        Some(TaskHandle { raw, life })
    }

    /// Whether the task still runs (it has not returned from its body).
    pub fn is_running(&self) -> bool {
        self.life.running.load(Ordering::Acquire)
    }

    /// Increments the task's [`NotifySlot::General`] notification count, waking it if it
    /// waits in [`wait_for_notification`]. Returns `false`, and does nothing, if the task has
    /// ended. Call from a task.
    pub fn notify(&self) -> bool {
        self.notify_slot(NotifySlot::General)
    }

    /// Increments the count of one notification slot, waking the task if it waits on it.
    /// Returns `false`, and does nothing, if the task has ended. Call from a task.
    pub fn notify_slot(&self, slot: NotifySlot) -> bool {
        require_task("TaskHandle::notify");
        // No switch until the notification is given: the task cannot end in between.
        let _suspended = SchedulerSuspended::enter();
        if !self.is_running() {
            return false;
        }
        // SAFETY: the task has not ended, and cannot while the scheduler is suspended, so its
        // control block exists; the slot index is below configTASK_NOTIFICATION_ARRAY_ENTRIES.
        unsafe { ffi::xShimNotifyGive(self.raw.as_ptr(), slot.index()) };
        true
    }
}

/// A task's notification slots (`configTASK_NOTIFICATION_ARRAY_ENTRIES` = 2). Separate slots
/// keep wake-ups for different purposes from consuming each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifySlot {
    /// For the application's own use; simulated interrupt lines also give this slot.
    General,
    /// Used by the network stack to wake tasks blocked in socket calls.
    Network,
}

impl NotifySlot {
    fn index(self) -> ffi::UBaseType_t {
        match self {
            NotifySlot::General => 0,
            NotifySlot::Network => 1,
        }
    }
}

/// Waits up to `timeout` for notifications on the [`NotifySlot::General`] slot, then clears
/// them. Returns how many had arrived, 0 on timeout. Call from a task.
pub fn wait_for_notification(timeout: Ticks) -> u32 {
    wait_for_notification_on(NotifySlot::General, timeout)
}

/// Waits up to `timeout` for notifications on `slot`, then clears them. Returns how many had
/// arrived, 0 on timeout. Call from a task.
pub fn wait_for_notification_on(slot: NotifySlot, timeout: Ticks) -> u32 {
    require_task("wait_for_notification");
    // SAFETY: called from a task; the slot index is below configTASK_NOTIFICATION_ARRAY_ENTRIES.
    unsafe { ffi::ulShimNotifyTake(slot.index(), ffi::pdTRUE, timeout.count()) }
}

/// Lets other ready tasks of the same priority run. Call from a task.
pub fn yield_now() {
    require_task("yield_now");
    // SAFETY: called from a task, where taskYIELD is allowed.
    unsafe { ffi::vShimYield() };
}

/// A task name, copied out of the kernel (at most [`MAX_NAME_LEN`] bytes).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TaskName {
    bytes: [u8; MAX_NAME_LEN],
    len: usize,
}

impl TaskName {
    fn from_bytes(name: &[u8]) -> TaskName {
        let mut bytes = [0u8; MAX_NAME_LEN];
        let len = name.len().min(MAX_NAME_LEN);
        bytes[..len].copy_from_slice(&name[..len]);
        TaskName { bytes, len }
    }

    /// The name as text; `"?"` if the kernel held bytes that are not UTF-8.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.bytes[..self.len]).unwrap_or("?")
    }
}

impl fmt::Display for TaskName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for TaskName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// The calling task's name, or `host` outside tasks (a host thread on the simulator).
pub fn current_name() -> TaskName {
    if !in_task() {
        return TaskName::from_bytes(b"host");
    }
    // SAFETY: a NULL handle means the calling task; the kernel returns a pointer to the
    // NUL-terminated name inside that task's TCB, which outlives this call made by the task.
    let name = unsafe { CStr::from_ptr(ffi::pcTaskGetName(ptr::null_mut())) };
    TaskName::from_bytes(name.to_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use std::prelude::rust_2024::*;
    #[allow(unused_imports)]
    use std::{format, vec};

    #[test]
    fn names_are_truncated_on_a_char_boundary() {
        let name = c_name("abcdefghijklmnopé").expect("valid");
        assert_eq!(&name[..MAX_NAME_LEN], b"abcdefghijklmno");
        assert_eq!(name[MAX_NAME_LEN], 0);
        let name = c_name("abcdefghijklmné").expect("valid");
        assert_eq!(&name[..14], b"abcdefghijklmn");
        assert_eq!(name[14], 0);
    }

    #[test]
    fn names_with_nul_are_rejected() {
        assert_eq!(c_name("a\0b"), Err(SpawnError::InvalidName));
    }

    #[test]
    fn priorities_above_the_kernel_maximum_are_rejected() {
        assert_eq!(Priority::max().level(), 15);
        assert!(Priority::new(15).is_ok());
        assert_eq!(Priority::new(16), Err(PriorityError { level: 16, max: 15 }));
    }
}
