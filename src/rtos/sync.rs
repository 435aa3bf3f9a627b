//! Kernel queues and mutexes for Rust values.
//!
//! Both are created from a task or from `main` before the scheduler starts, and used from
//! tasks only (host threads must not call the kernel; see [`crate::rtos`]). Both are
//! `Send + Sync`, so share them between tasks by `&'static` or `Arc`.

use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::fmt;
use core::marker::PhantomData;
use core::mem::{ManuallyDrop, MaybeUninit};
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;

use super::ffi;
use super::task::{in_task, require_task};
use super::time::Ticks;

fn require_kernel_context(api: &str) {
    // SAFETY: reads the scheduler state; callable from any thread.
    let state = unsafe { ffi::xTaskGetSchedulerState() };
    let before_start = state == ffi::taskSCHEDULER_NOT_STARTED;
    assert!(
        in_task() || before_start,
        "{api} must be called from a FreeRTOS task or before the scheduler starts"
    );
}

/// Not enough FreeRTOS heap for a kernel object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateError {
    /// The FreeRTOS heap had no room.
    OutOfMemory,
    /// A queue needs a capacity of at least one item.
    ZeroCapacity,
}

impl fmt::Display for CreateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CreateError::OutOfMemory => {
                f.write_str("not enough FreeRTOS heap for the kernel object")
            }
            CreateError::ZeroCapacity => {
                f.write_str("a queue needs a capacity of at least one item")
            }
        }
    }
}

impl core::error::Error for CreateError {}

/// A bounded FIFO of `T` between tasks, on a kernel queue. Items are moved in and out by
/// copying their bytes, as the kernel does; ownership moves with them.
pub struct Queue<T: Send> {
    handle: NonNull<ffi::QueueDefinition>,
    _items: PhantomData<T>,
}

// SAFETY: the kernel serialises access to a queue; items are `Send`, and each one is owned
// by exactly one side at a time (moved in by `send`, moved out by `receive`).
unsafe impl<T: Send> Send for Queue<T> {}
// SAFETY: as above; every method takes `&self` and the kernel does the locking.
unsafe impl<T: Send> Sync for Queue<T> {}

/// A send that timed out; the item is handed back.
#[derive(Debug, PartialEq, Eq)]
pub struct SendTimeout<T>(pub T);

impl<T> fmt::Display for SendTimeout<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the queue stayed full until the timeout")
    }
}

impl<T: fmt::Debug> core::error::Error for SendTimeout<T> {}

impl<T: Send> Queue<T> {
    /// A queue holding up to `capacity` items.
    pub fn new(capacity: usize) -> Result<Queue<T>, CreateError> {
        require_kernel_context("Queue::new");
        if capacity == 0 {
            return Err(CreateError::ZeroCapacity);
        }
        let (Ok(length), Ok(item_size)) = (
            ffi::UBaseType_t::try_from(capacity),
            ffi::UBaseType_t::try_from(size_of::<T>()),
        ) else {
            return Err(CreateError::OutOfMemory);
        };
        // SAFETY: plain kernel object creation with checked sizes; the kernel rejects a
        // length * size product that overflows by returning NULL.
        let handle = unsafe { ffi::xShimQueueCreate(length, item_size) };
        NonNull::new(handle)
            .map(|handle| Queue {
                handle,
                _items: PhantomData,
            })
            .ok_or(CreateError::OutOfMemory)
    }

    /// Moves `item` to the back of the queue, waiting up to `timeout` for room.
    pub fn send(&self, item: T, timeout: Ticks) -> Result<(), SendTimeout<T>> {
        require_task("Queue::send");
        let item = ManuallyDrop::new(item);
        let source: *const T = &*item;
        // SAFETY: called from a task; the kernel copies size_of::<T>() bytes from `source`,
        // a live `T`. On success the queue owns those bytes, so ours must not be dropped
        // (ManuallyDrop); on failure nothing was copied and the item is returned.
        let sent = unsafe {
            ffi::xShimQueueSendToBack(
                self.handle.as_ptr(),
                source.cast::<c_void>(),
                timeout.count(),
            )
        };
        if sent == ffi::pdTRUE {
            Ok(())
        } else {
            Err(SendTimeout(ManuallyDrop::into_inner(item)))
        }
    }

    /// Takes the item at the front, waiting up to `timeout` for one. `None` on timeout.
    pub fn receive(&self, timeout: Ticks) -> Option<T> {
        require_task("Queue::receive");
        let mut slot = MaybeUninit::<T>::uninit();
        // SAFETY: called from a task; on success the kernel copies one item's bytes, moved in
        // by `send`, into `slot`, which is sized and aligned for `T`.
        let received = unsafe {
            ffi::xQueueReceive(
                self.handle.as_ptr(),
                slot.as_mut_ptr().cast::<c_void>(),
                timeout.count(),
            )
        };
        if received == ffi::pdTRUE {
            // SAFETY: the kernel wrote a complete `T`, whose ownership passes to us.
            Some(unsafe { slot.assume_init() })
        } else {
            None
        }
    }

    /// Items waiting in the queue now.
    pub fn len(&self) -> usize {
        require_kernel_context("Queue::len");
        // SAFETY: reads the count under the kernel's own critical section.
        unsafe { ffi::uxQueueMessagesWaiting(self.handle.as_ptr()) as usize }
    }

    /// Whether no item is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T: Send> Drop for Queue<T> {
    fn drop(&mut self) {
        require_kernel_context("Queue::drop");
        if in_task() {
            // Items still queued are owned by the queue: drop them properly.
            while self.receive(Ticks::ZERO).is_some() {}
        }
        // SAFETY: we own the queue, and `&mut self` means no other reference uses it now.
        unsafe { ffi::vQueueDelete(self.handle.as_ptr()) };
    }
}

/// Mutual exclusion between tasks, on a kernel mutex (with priority inheritance).
pub struct Mutex<T> {
    handle: NonNull<ffi::QueueDefinition>,
    value: UnsafeCell<T>,
}

// SAFETY: the value is only reached through a guard, and the kernel mutex lets one task hold
// a guard at a time; `T: Send` because the value is used from whichever task holds it.
unsafe impl<T: Send> Send for Mutex<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Mutex<T> {}

impl<T> Mutex<T> {
    /// A mutex guarding `value`.
    pub fn new(value: T) -> Result<Mutex<T>, CreateError> {
        require_kernel_context("Mutex::new");
        // SAFETY: plain kernel object creation.
        let handle = unsafe { ffi::xShimMutexCreate() };
        NonNull::new(handle)
            .map(|handle| Mutex {
                handle,
                value: UnsafeCell::new(value),
            })
            .ok_or(CreateError::OutOfMemory)
    }

    /// Waits as long as it takes for the mutex.
    pub fn lock(&self) -> MutexGuard<'_, T> {
        loop {
            if let Some(guard) = self.lock_timeout(Ticks::FOREVER) {
                return guard;
            }
        }
    }

    /// Waits up to `timeout` for the mutex; `None` if another task kept it that long.
    pub fn lock_timeout(&self, timeout: Ticks) -> Option<MutexGuard<'_, T>> {
        require_task("Mutex::lock");
        // SAFETY: called from a task on a live mutex.
        let taken = unsafe { ffi::xShimMutexTake(self.handle.as_ptr(), timeout.count()) };
        (taken == ffi::pdTRUE).then_some(MutexGuard {
            mutex: self,
            _not_send: PhantomData,
        })
    }

    /// The value, without locking: `&mut self` proves no one else holds it.
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }
}

impl<T> Drop for Mutex<T> {
    fn drop(&mut self) {
        require_kernel_context("Mutex::drop");
        // SAFETY: we own the mutex and no guard can be alive (`&mut self`).
        unsafe { ffi::vQueueDelete(self.handle.as_ptr()) };
    }
}

/// Access to a [`Mutex`]'s value; the mutex is given back when the guard is dropped. Not
/// `Send`: a kernel mutex must be given back by the task that took it.
pub struct MutexGuard<'a, T> {
    mutex: &'a Mutex<T>,
    _not_send: PhantomData<*const ()>,
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: this task holds the kernel mutex, so no other reference to the value exists.
        unsafe { &*self.mutex.value.get() }
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for `deref`, and `&mut self` makes this the only access through the guard.
        unsafe { &mut *self.mutex.value.get() }
    }
}

impl<T> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: this task took the mutex in `lock_timeout` and gives it back once.
        unsafe { ffi::xShimMutexGive(self.mutex.handle.as_ptr()) };
    }
}
